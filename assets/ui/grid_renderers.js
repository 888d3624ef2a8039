/* AG Grid cell renderers for the process table. drunc strings are React text children: never HTML. */
(function () {
  var fns = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});
  var h = function () { return window.React.createElement.apply(null, arguments); };

  var STATUS_CLASS = { RUNNING: "text-bg-success", DEAD: "text-bg-danger" };

  fns.RcStatus = function (props) {
    if (!props.value) { return null; }
    return h("span", { className: "badge " + (STATUS_CLASS[props.value] || "text-bg-secondary") }, props.value);
  };

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = document.createElement("textarea");  // plain-http control-room hosts have no clipboard API
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } finally { document.body.removeChild(area); }
    return Promise.resolve();
  }

  function copyIcon() {  // drawn, not a font glyph: control-room machines lack many symbol fonts
    return h("svg", { width: 12, height: 12, viewBox: "0 0 16 16", fill: "currentColor", "aria-hidden": "true" },
      h("path", { d: "M4 1.5h8A1.5 1.5 0 0 1 13.5 3v9h-1.5V3H4z" }),
      h("path", { d: "M2.5 4.5h7A1.5 1.5 0 0 1 11 6v8a1.5 1.5 0 0 1-1.5 1.5h-7A1.5 1.5 0 0 1 1 14V6a1.5 1.5 0 0 1 1.5-1.5zm0 1.5v8h7V6z" }));
  }

  fns.RcUuid = function (props) {
    var full = props.value || "";
    var state = window.React.useState(false);
    var copied = state[0], setCopied = state[1];
    var onCopy = function (event) {
      event.stopPropagation();
      copyText(full).then(function () {
        setCopied(true);
        setTimeout(function () { setCopied(false); }, 1200);
      });
    };
    return h("span", { className: "rc-uuid", title: full },
      h("code", null, full.slice(0, 8)),
      h("button", { type: "button", className: "btn btn-link btn-sm p-0 ms-1 rc-copy", title: "Copy the full uuid",
                    "aria-label": "Copy the full uuid " + full, onClick: onCopy }, copied ? "✓" : copyIcon()));
  };

  fns.RcLogsButton = function (props) {
    var allowed = props.allowed !== false;
    var onClick = function (event) {
      event.stopPropagation();
      if (allowed) { props.setData({ uuid: props.data ? props.data.uuid : null }); }
    };
    return h("button", {
      type: "button",
      className: "btn btn-outline-secondary btn-sm py-0 rc-logs-button",
      disabled: !allowed,
      title: allowed ? "Show the log" : "Needs the permission “process.logs”",
      onClick: onClick,
    }, "Logs");
  };
})();
