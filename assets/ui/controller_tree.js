/* The Controller page's tree: the indented, collapsible name cell, the state badge, and the filter that hides the
   subtree of a collapsed controller. drunc strings are React text children: never HTML. The collapsed paths
   belong to this tab only (a Set on window, not sent to the server). */
(function () {
  var fns = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});
  var cells = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});
  var h = function () { return window.React.createElement.apply(null, arguments); };
  var collapsed = (window.rcCtlCollapsed = window.rcCtlCollapsed || new Set());

  fns.rcCtlFilterPresent = function () { return collapsed.size > 0; };

  /* A row passes unless one of its ancestors is collapsed. */
  fns.rcCtlFilterPass = function (params) {
    var path = params && params.data ? params.data.path : "";
    var found = false;
    collapsed.forEach(function (p) { if (!found && path.indexOf(p + "/") === 0) { found = true; } });
    return !found;
  };

  function refilter(api) {
    api.onFilterChanged();
    api.refreshCells({ columns: ["name"], force: true });
  }

  window.rcCtlTree = {
    expandAll: function (gridId) {
      collapsed.clear();
      var api = window.dash_ag_grid && window.dash_ag_grid.getApi(gridId);
      if (api) { refilter(api); }
    },
    collapseAll: function (gridId) {
      var api = window.dash_ag_grid && window.dash_ag_grid.getApi(gridId);
      if (!api) { return; }
      api.forEachNode(function (node) {
        if (node.data && node.data.kind === "controller" && node.data.depth > 0) { collapsed.add(node.data.path); }
      });
      refilter(api);
    },
  };

  cells.RcCtlName = function (props) {
    var data = props.data || {};
    var isController = data.kind === "controller";
    var shut = collapsed.has(data.path);
    var toggle = function (event) {
      event.stopPropagation();
      if (collapsed.has(data.path)) { collapsed.delete(data.path); } else { collapsed.add(data.path); }
      refilter(props.api);
    };
    var chevron = isController
      ? h("button", { type: "button", className: "btn btn-link btn-sm p-0 me-1 rc-ctl-toggle",
                      "aria-expanded": !shut, title: shut ? "Expand" : "Collapse",
                      "aria-label": (shut ? "Expand " : "Collapse ") + data.name, onClick: toggle },
                      shut ? "\u25b8" : "\u25be")
      : h("span", { className: "rc-ctl-leaf me-1" }, "\u2022");
    return h("span", { className: "rc-ctl-name", style: { paddingLeft: (16 * (data.depth || 0)) + "px" } },
      chevron,
      h("span", { className: isController ? "fw-semibold" : "" }, data.name),
      h("span", { className: "rc-ctl-kind ms-2 text-body-secondary" }, isController ? "controller" : "application"));
  };

  cells.RcCtlState = function (props) {
    var data = props.data || {};
    var parts = [h("span", { key: "b", className: "badge " + (data.badge || "text-bg-secondary") }, data.state)];
    if (data.busy) {
      parts.push(h("span", { key: "s", className: "spinner-border spinner-border-sm ms-2 rc-ctl-busy",
                             role: "status", title: "transition in progress" }));
    }
    if (data.in_error && !data.unreachable) {
      parts.push(h("span", { key: "e", className: "badge text-bg-danger ms-1" }, "in error"));
    }
    if (data.excluded) {
      parts.push(h("span", { key: "x", className: "badge text-bg-light border ms-1" }, "excluded"));
    }
    return h("span", null, parts);
  };
})();
