"""Controller page: the session picker and its URL, and the live tree fed by the shared controller poller (tabs
never call drunc: they read polling.controller_feed's cache and receive deltas)."""

from __future__ import annotations

from datetime import UTC, datetime

from dash import Input, Output, ctx, html, no_update

from auth.actions import UserError, guarded_callback
from auth.shapes import In, St, boolean, clicks, integer, or_reset, record, text
from callbacks.controller_shared import CHANGED
from components import controller_ids as shared
from components import controller_session as ids
from components import controller_tree as tree_ids
from viewmodels.controller_tree import clean_session, counts_text, grid_rows, query_for, session_choices
from viewmodels.text import clip

REFRESH = text(4, choices=tuple(ids.REFRESH_CHOICES))
SESSION_NAME = text(255)
SHOWN = or_reset(record({"s": text(255), "e": text(64), "v": integer(0), "ok": boolean, "r": boolean,
                         "b": boolean}))
BUSY_MS = 300


def hms(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M:%S") if timestamp else "never"


def _period(refresh) -> float:
    return {"1": 1.0, "5": 5.0}.get(refresh if isinstance(refresh, str) else "1", 5.0)


def _short(error: str | None, limit: int = 300) -> str:
    lines = (error or "").strip().splitlines()
    return clip(lines[0], limit) if lines else "no answer"


def register(app, services) -> None:
    audit = services.audit
    feeds = services.controller_feeds
    configured = services.drunc.csc_session

    # ----------------------------------------------------------------------------- session picker and URL

    @guarded_callback(
        app, audit,
        Output(shared.SESSION, "data"),
        Output(ids.URL_SYNC, "data"),
        In(ids.SESSION_INPUT, "value", SESSION_NAME),
        In(ids.REFRESH, "value", REFRESH),
        St(shared.SESSION, "data", text(255)),
        prevent_initial_call=True,
    )
    def choose_session(typed, refresh, current):
        session = clean_session(typed) if (typed or "").strip() else configured
        if session is None:
            raise UserError(f"“{clip((typed or '').strip(), 60)}” is not a session name: letters, digits, '.', '_' "
                            "and '-' only, at most 128 characters.")
        chosen = session if session != current else no_update
        return chosen, query_for(session, configured, refresh or "1")

    app.clientside_callback(
        """function(view) {
            if (!view || window.location.pathname.replace(/\\/$/, '') !== '/controller') {
                return window.dash_clientside.no_update;
            }
            var params = new URLSearchParams(window.location.search);
            Object.keys(view).forEach(function (key) {
                if (view[key] === null || view[key] === undefined) { params.delete(key); }
                else { params.set(key, view[key]); }
            });
            var search = params.toString() ? '?' + params.toString() : '';
            if (window.location.search !== search) {
                window.history.replaceState(window.history.state, '', window.location.pathname + search);
            }
            return window.dash_clientside.no_update;
        }""",
        Output(ids.URL_SYNC, "id"),
        Input(ids.URL_SYNC, "data"),
    )
    # While a transition runs (nodes busy) a live tab ticks every BUSY_MS, so its end shows within one refresh
    # period even when the sweep that sees it lands just after a tick; paused stays paused.
    app.clientside_callback(
        f"""function(refresh, shown) {{
            var period = refresh === '5' ? 5000 : (refresh === '0' ? {ids.PAUSED_MS} : 1000);
            return (refresh !== '0' && shown && shown.b) ? Math.min(period, {BUSY_MS}) : period;
        }}""",
        Output(ids.TICK, "interval"),
        Input(ids.REFRESH, "value"),
        Input(ids.VERSION, "data"),
    )
    app.clientside_callback(
        """function(expand, collapse) {
            var api = window.rcCtlTree;
            var trigger = (window.dash_clientside.callback_context.triggered[0] || {}).prop_id || '';
            if (api && trigger.indexOf('ctl-tree-expand') === 0) { api.expandAll('ctl-tree-grid'); }
            if (api && trigger.indexOf('ctl-tree-collapse') === 0) { api.collapseAll('ctl-tree-grid'); }
            return window.dash_clientside.no_update;
        }""",
        Output(tree_ids.EXPAND_ALL, "id"),
        Input(tree_ids.EXPAND_ALL, "n_clicks"),
        Input(tree_ids.COLLAPSE_ALL, "n_clicks"),
        prevent_initial_call=True,
    )

    @guarded_callback(
        app, audit,
        Output(ids.SESSION_LIST, "children"),
        In(shared.SESSION, "data", text(255)),
    )
    def offer_sessions(current):
        _state, rows = services.process_feed.rows()  # the cache: never a ps from here
        return [html.Option(value=name) for name in session_choices(rows, configured, current or "")]

    # ---------------------------------------------------------------------------------------- the live tree

    @guarded_callback(
        app, audit,
        Output(tree_ids.GRID, "rowData"),
        Output(tree_ids.GRID, "rowTransaction"),
        Output(ids.VERSION, "data"),
        Output(ids.STATUS, "children"),
        Output(ids.LIVE, "className"),
        Output(ids.LIVE, "title"),
        Output(tree_ids.COUNT, "children"),
        Output(ids.BANNER, "children"),
        Output(ids.BANNER, "is_open"),
        Output(ids.NOT_REGISTERED, "children"),
        Output(ids.NOT_REGISTERED, "is_open"),
        Output(tree_ids.GRID_WRAP, "className"),
        In(ids.TICK, "n_intervals", clicks),
        In(ids.REFRESH_NOW, "n_clicks", clicks),
        In(shared.CHANGED, "data", CHANGED),
        In(shared.SESSION, "data", text(255)),
        St(ids.VERSION, "data", SHOWN),
        St(ids.REFRESH, "value", REFRESH),
        running=[(Output(ids.TICK, "disabled"), True, False)],  # a slow manual refresh never overlaps a tick
    )
    def refresh_tree(_ticks, _manual, _changed, session, shown, refresh):
        manual = ctx.triggered_id == ids.REFRESH_NOW
        return tree_update(feeds, session or configured, shown, refresh, manual_refresh=manual)


def tree_update(feeds, session: str, shown, refresh, manual_refresh: bool = False):
    """The refresh callback's outputs for a tab showing `shown` ({"s", "e", "v", "ok", "r"}) of `session`."""
    shown = shown if isinstance(shown, dict) else {}
    if clean_session(session) is None:
        message = f"“{clip(session, 60)}” is not a session name."
        return (no_update,) * 3 + (message, "rc-live-dot rc-live-failed", message) + (no_update,) * 6
    if manual_refresh:
        feeds.refresh_now(session)
    feeds.watch(session, _period(refresh))
    same_session = shown.get("s") == session
    changes = feeds.changes(session, shown.get("e") if same_session else None,
                            shown.get("v") if same_session else None)
    snap = changes.snapshot
    if snap is None:
        feeds.poke(session)
        waiting = feeds.snapshot(session).error or "waiting for the first poll"
        return (no_update,) * 3 + ("connecting…", "rc-live-dot rc-live-wait", waiting) + (no_update,) * 6

    paused = refresh == "0"
    if not snap.registered:
        status, live, title = f"checked {hms(snap.polled_at)} UTC", "rc-live-dot rc-live-paused", "not registered"
    elif snap.ok:
        status = f"updated {hms(snap.ok_at)} UTC" + (f" · druncschema {snap.schema}" if snap.schema else "")
        live = "rc-live-dot " + ("rc-live-paused" if paused else "rc-live-ok")
        title = "paused: the tree refreshes when you ask" if paused else "live"
    else:
        status = f"update failed {hms(snap.polled_at)} UTC · last good {hms(snap.ok_at)} UTC"
        live, title = "rc-live-dot rc-live-failed", "the root controller does not answer"

    flags_changed = shown.get("ok") is not snap.ok or shown.get("r") is not snap.registered
    if changes.kind == "none" and not flags_changed and same_session:
        return (no_update, no_update, no_update, status) + (no_update,) * 8  # the common case: a few dozen bytes

    grid_data = grid_transaction = no_update
    if changes.kind == "full":
        grid_data = grid_rows(snap.nodes)
    elif changes.kind == "delta" and changes.delta:
        grid_transaction = {**changes.delta.transaction(), "async": False}
    new_shown = {"s": session, "e": snap.epoch, "v": snap.version, "ok": snap.ok, "r": snap.registered,
                 "b": bool((snap.counts or {}).get("busy"))}
    count = counts_text(snap.counts) if snap.registered else ""

    if not snap.registered:
        notice = [html.Strong(f"Session {session} is not registered in the connectivity service."),
                  " Its root controller has not published itself there: the session is not booted, or its "
                  "controller stopped. The page shows its tree as soon as it registers. ",
                  html.Small(snap.message, className="text-body-secondary")]
        return (grid_data, grid_transaction, new_shown, status, live, title, count, no_update, False, notice, True,
                "rc-grid-wrap")
    if snap.ok:
        return (grid_data, grid_transaction, new_shown, status, live, title, count, no_update, False, no_update,
                False, "rc-grid-wrap")
    banner = [
        html.Strong(f"Root controller of session {session} is unreachable"),
        f" ({snap.root or 'address unknown'}) since {hms(snap.failed_since)} UTC: {_short(snap.error)}. ",
        f"The tree shows the last known state, from {hms(snap.ok_at)} UTC. Retrying automatically.",
    ]
    return (grid_data, grid_transaction, new_shown, status, live, title, count, banner, True, no_update, False,
            "rc-grid-wrap rc-stale")


__all__ = ["register", "tree_update"]
