// Applies the saved light/dark theme before the page paints, on the login page and in the app alike.
(function () {
  var theme = "light";
  try { theme = window.localStorage.getItem("rc-theme") || "light"; } catch (e) { /* storage blocked */ }
  var mode = theme === "dark" ? "dark" : "light";
  // Bootstrap reads data-bs-theme; AG Grid's built-in themes read data-ag-theme-mode.
  document.documentElement.setAttribute("data-bs-theme", mode);
  document.documentElement.setAttribute("data-ag-theme-mode", mode);
})();
