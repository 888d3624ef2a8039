/* The process table's tree order and indentation, derived in the browser from each row's session and tree id,
   so the 10,000-row table does not carry them (they were a tenth of its compressed size). */
(function () {
  var fns = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});

  function numericParts(treeId) {
    var parts = treeId ? String(treeId).split(".") : [];
    for (var i = 0; i < parts.length; i++) {
      if (!/^[0-9]+$/.test(parts[i])) { return null; }
    }
    return parts.length ? parts : null;
  }

  function pad(part) {
    var digits = String(parseInt(part, 10));
    return digits.length >= 5 ? digits : ("00000" + digits).slice(-5);
  }

  /* Sorting asks for a row's key at every comparison: keep it per row object. An update replaces the
     object, so a changed row gets a new key, and a row that leaves the table leaves the cache too. */
  var keys = new WeakMap();

  /* Dotted tree ids in numeric order (1.2.10 after 1.2.9), an unknown one last; within a session. */
  fns.rcTreeKey = function (data) {
    if (!data) { return ""; }
    var key = keys.get(data);
    if (key === undefined) {
      var parts = numericParts(data.tree_id);
      var tree = parts ? parts.map(pad).join(".") : "~" + (data.tree_id || "");
      key = (data.session || "") + "\u001f" + tree;
      keys.set(data, key);
    }
    return key;
  };

  /* Indentation level: 1.0.0 is the root, 1.0.K and 1.N.0 sit under it, 1.N.M under 1.N.0. */
  fns.rcTreeDepth = function (data) {
    var parts = numericParts(data && data.tree_id);
    if (!parts) { return 0; }
    var depth = 0;
    for (var i = 1; i < parts.length; i++) {
      if (parseInt(parts[i], 10) !== 0) { depth += 1; }
    }
    return depth;
  };
})();
