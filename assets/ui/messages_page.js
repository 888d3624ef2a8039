/* Messages page: the grid's keyset anchor, cache reloads, keyboard navigation; the FATAL alarm beep (any page). */
(function () {
    "use strict";
    var GRID = "msgs-grid";
    var SEVERE = { ERROR: true, FATAL: true };

    function gridApi() {
        try { return window.dash_ag_grid && window.dash_ag_grid.getApi(GRID); } catch (e) { return null; }
    }

    function noUpdate() { return window.dash_clientside.no_update; }

    window.dash_clientside = window.dash_clientside || {};
    window.dash_clientside.rcMessages = {
        /* The grid asks for rows [startRow, endRow). The server pages by keyset: it needs the (time, id) of the
           nearest loaded row above the block, which only the browser knows. */
        request: function (req) {
            if (!req) { return noUpdate(); }
            var anchor = null;
            var api = gridApi();
            if (api && req.startRow > 0) {
                var best = -1;
                api.forEachNode(function (node) {
                    var i = node.rowIndex;
                    if (node.data && i !== null && i !== undefined && i < req.startRow && i > best) {
                        best = i;
                        anchor = { index: i, time: node.data.t, id: Number(node.data.id) };
                    }
                });
            }
            return { start: req.startRow, end: req.endRow, anchor: anchor, n: Date.now() };
        },
        /* New rows (live, followed) or acknowledgements: reload the cached blocks, keeping what is shown. */
        refresh: function (signal) {
            var api = gridApi();
            if (signal && api) { api.refreshInfiniteCache(); }
            return noUpdate();
        },
        /* Another filter: start again from the top. */
        purge: function (state) {
            var api = gridApi();
            if (state && api) { api.purgeInfiniteCache(); api.ensureIndexVisible(0, "top"); }
            return noUpdate();
        },
        /* A double-click opens the inspector. */
        open: function (cell) {
            if (!cell || cell.rowId === undefined || cell.rowId === null) { return noUpdate(); }
            return { id: Number(cell.rowId), n: Date.now() };
        },
        url: function (search) {
            if (search === undefined || search === null) { return noUpdate(); }
            if (window.location.pathname.replace(/\/$/, "") === "/messages" && window.location.search !== search) {
                window.history.replaceState(window.history.state, "", window.location.pathname + search);
            }
            return noUpdate();
        },
        sound: function (on) {
            try { window.localStorage.setItem("rc-fatal-sound", on ? "1" : "0"); } catch (e) { /* private mode */ }
            return noUpdate();
        },
        /* The alarms poll: beep when the newest FATAL id grows, if this browser asked for sound. */
        alarm: function (data) {
            if (!data) { return noUpdate(); }
            var last = window.rcLastFatal;
            window.rcLastFatal = data.fatal || 0;
            var on = false;
            try { on = window.localStorage.getItem("rc-fatal-sound") === "1"; } catch (e) { on = false; }
            if (on && last !== undefined && (data.fatal || 0) > last) { beep(); }
            return noUpdate();
        }
    };

    function beep() {
        var Ctx = window.AudioContext || window.webkitAudioContext;
        if (!Ctx) { return; }
        try {
            var ctx = new Ctx();
            var osc = ctx.createOscillator();
            var gain = ctx.createGain();
            osc.type = "square";
            osc.frequency.value = 880;
            gain.gain.setValueAtTime(0.08, ctx.currentTime);
            gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.6);
            osc.connect(gain);
            gain.connect(ctx.destination);
            osc.start();
            osc.stop(ctx.currentTime + 0.6);
            osc.onended = function () { ctx.close(); };
        } catch (e) { /* autoplay refused until the page had a click: nothing to do */ }
    }
    window.rcAlarmBeep = beep;

    /* Keys (never inside a field): n / p next / previous ERROR or FATAL among the loaded rows, Enter inspects. */
    function typing(target) {
        if (!target) { return false; }
        var tag = (target.tagName || "").toLowerCase();
        return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
    }

    function current(api) {
        var focused = api.getFocusedCell();
        if (focused) { return focused.rowIndex; }
        var selected = api.getSelectedNodes();
        return selected.length ? selected[0].rowIndex : -1;
    }

    function go(api, index) {
        api.ensureIndexVisible(index, "middle");
        api.setFocusedCell(index, "severity");
        var node = api.getDisplayedRowAtIndex(index);
        if (node) { node.setSelected(true, true); }
    }

    function jump(api, step) {
        var from = current(api);
        var rows = [];
        api.forEachNode(function (node) {
            if (node.data && SEVERE[node.data.severity]) { rows.push(node.rowIndex); }
        });
        rows.sort(function (a, b) { return a - b; });
        var target = null;
        for (var i = 0; i < rows.length; i++) {
            if (step > 0 && rows[i] > from) { target = rows[i]; break; }
            if (step < 0 && rows[i] < from) { target = rows[i]; }
        }
        if (target !== null) { go(api, target); return; }
        if (step > 0) {  // nothing loaded below: scroll on, so the next block loads, and look again
            var last = api.getLastDisplayedRowIndex ? api.getLastDisplayedRowIndex() : from;
            api.ensureIndexVisible(Math.max(last, from) + 50, "bottom");
        }
    }

    document.addEventListener("keydown", function (event) {
        if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
        if (!document.getElementById(GRID)) { return; }
        var api = gridApi();
        if (!api) { return; }
        var key = event.key;
        if (key === "n" || key === "p") {
            event.preventDefault();
            jump(api, key === "n" ? 1 : -1);
        } else if (key === "Enter") {
            var index = current(api);
            var node = index >= 0 ? api.getDisplayedRowAtIndex(index) : null;
            if (node && node.data) {
                event.preventDefault();
                window.dash_clientside.set_props("msgs-open", { data: { id: Number(node.data.id), n: Date.now() } });
            }
        }
    });
})();
