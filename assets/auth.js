// A Dash request answered 401 means the session has ended (expired, logged out in another tab, account
// disabled): go to the login page and come back here afterwards, instead of leaving a broken screen.
(function () {
  if (!window.fetch || window.__rcAuthWrapped) { return; }
  window.__rcAuthWrapped = true;
  var originalFetch = window.fetch.bind(window);
  var redirecting = false;
  window.fetch = function (input, init) {
    return originalFetch(input, init).then(function (response) {
      var url = typeof input === "string" ? input : (input && input.url) || "";
      if (response.status === 401 && url.indexOf("_dash-") !== -1 && !redirecting) {
        redirecting = true;
        var here = window.location.pathname + window.location.search;
        window.location.assign("/login?next=" + encodeURIComponent(here));
      }
      return response;
    });
  };
})();
