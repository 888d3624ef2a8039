/* Process log panel (components/log_viewer.py): stuck-to-bottom scrolling, search highlights, match count.
 *
 * The log is the text of <pre id="pm-log-pre">, one text node per line, rendered by React. Nothing here
 * writes HTML: matches are highlighted with the CSS Custom Highlight API (ranges over the existing text
 * nodes, styled by ::highlight(rc-log-match)); without that API only the count is shown.
 */
(function () {
  var PRE = "pm-log-pre";
  var STUCK = "pm-log-stuck";
  var HIGHLIGHT = "rc-log-match";
  var SLACK_PX = 24;      // this close to the bottom counts as "at the bottom"
  var MAX_RANGES = 20000; // beyond this many matches, highlight the first ones only

  var state = { term: "", stuck: true, pre: null, pending: false };

  function escapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  function matcher(term) {
    return term ? new RegExp(escapeRegExp(term), "gi") : null;
  }

  function countIn(text, re) {
    var n = 0, m;
    re.lastIndex = 0;
    while ((m = re.exec(text)) !== null) {
      if (m[0].length === 0) { re.lastIndex += 1; continue; }
      n += 1;
    }
    return n;
  }

  function countMatches(children, term) {
    var re = matcher(term);
    if (!re || children === null || children === undefined) { return 0; }
    var list = Array.isArray(children) ? children : [children];
    var n = 0;
    for (var i = 0; i < list.length; i += 1) {
      if (typeof list[i] === "string") { n += countIn(list[i], re); }
    }
    return n;
  }

  function highlightsSupported() {
    return typeof window.CSS !== "undefined" && window.CSS.highlights && typeof window.Highlight === "function";
  }

  function highlight() {
    if (!highlightsSupported()) { return; }
    var pre = state.pre;
    var re = matcher(state.term);
    if (!pre || !pre.isConnected || !re) {
      window.CSS.highlights.delete(HIGHLIGHT);
      return;
    }
    var found = new window.Highlight();
    var walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
    var added = 0, node, m;
    while ((node = walker.nextNode()) && added < MAX_RANGES) {
      var text = node.nodeValue;
      re.lastIndex = 0;
      while ((m = re.exec(text)) !== null && added < MAX_RANGES) {
        if (m[0].length === 0) { re.lastIndex += 1; continue; }
        var range = new Range();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        found.add(range);
        added += 1;
      }
    }
    window.CSS.highlights.set(HIGHLIGHT, found);
  }

  function atBottom(pre) {
    return pre.scrollHeight - pre.scrollTop - pre.clientHeight <= SLACK_PX;
  }

  function scrollDown() {
    var pre = state.pre;
    if (pre && pre.isConnected && state.stuck) { pre.scrollTop = pre.scrollHeight; }
  }

  function setStuck(stuck) {
    if (stuck === state.stuck) { return; }
    state.stuck = stuck;
    var dc = window.dash_clientside;
    if (dc && dc.set_props) { dc.set_props(STUCK, { data: stuck }); }
  }

  function onScroll(event) {
    setStuck(atBottom(event.currentTarget));
  }

  function afterRender() {
    // React may not have committed the new lines yet: run once the frame is laid out.
    if (state.pending) { return; }
    state.pending = true;
    window.requestAnimationFrame(function () {
      state.pending = false;
      scrollDown();
      highlight();
    });
  }

  function bind(pre) {
    if (pre.rcLogBound) { return; }
    pre.rcLogBound = true;
    pre.addEventListener("scroll", onScroll, { passive: true });
    new MutationObserver(afterRender).observe(pre, { childList: true, characterData: true, subtree: true });
  }

  // The panel's body is mounted only while it is open: look for the <pre> for a short while.
  function attach(tries) {
    var pre = document.getElementById(PRE);
    if (pre) {
      if (state.pre !== pre) {
        state.pre = pre;
        bind(pre);
      }
      afterRender();
      return;
    }
    if (tries > 0) {
      window.requestAnimationFrame(function () { attach(tries - 1); });
    }
  }

  var dc = (window.dash_clientside = window.dash_clientside || {});
  dc.rcLogs = {
    // pm-grid.cellRendererData -> pm-log-request.data, for the logs column only.
    request: function (data) {
      var noUpdate = window.dash_clientside.no_update;
      if (!data || data.colId !== "logs") { return noUpdate; }
      var uuid = data.rowId || (data.value && data.value.uuid);
      if (!uuid) { return noUpdate; }
      return { uuid: String(uuid), t: data.timestamp || Date.now() };
    },

    // (is_open, follow, stuck) -> (interval disabled, hint className)
    follow: function (isOpen, follow, stuck) {
      state.stuck = stuck !== false;
      if (isOpen) { attach(120); }
      var paused = Boolean(isOpen && follow && !state.stuck);
      return [!(isOpen && follow && state.stuck), "small text-warning-emphasis" + (paused ? "" : " d-none")];
    },

    // (state, search, is_open; children) -> match count text
    refresh: function (_state, term, isOpen, children) {
      state.term = (term || "").trim();
      if (isOpen) {
        attach(120);
      } else if (highlightsSupported()) {
        window.CSS.highlights.delete(HIGHLIGHT);
      }
      if (!state.term) { return ""; }
      var n = countMatches(children, state.term);
      return n === 1 ? "1 match" : n.toLocaleString("en-US") + " matches";
    },
  };
})();
