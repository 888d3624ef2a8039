"""Live message panels: the first load and every filter change send the newest matching messages; each poll
sends only the messages newer than the last one seen, as an AG Grid transaction on top of the grid, and removes
the oldest beyond the cap.

A panel is registered for every prefix in `PANELS`, with the fixed part of its filter (which kinds, which
emitters); the page puts `components.message_panel.message_panel(prefix, title)` where it wants it. A panel named
in `SESSION_INPUTS` also follows a session chosen on its page (a store holding the session's name: the filter
then keeps that session's messages only, and a new session reloads the grid).
Read-only: permission "view", no action.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from dash import Input, Output, State, ctx, html, no_update
from sqlalchemy.exc import SQLAlchemyError

from auth.actions import guarded_callback
from auth.shapes import In, St, boolean, clicks, integer, list_of, or_reset, record, text
from components import controller_ids
from components.message_panel import PAUSED_MS, POLL_MS, panel_ids
from store.messages import MessageFilter
from viewmodels import messages as vm

log = logging.getLogger("runcontrol.messages")

# prefix → what the panel shows. drunc broadcasts are stored with kind "broadcast" and source = the emitter's
# process name (topic control.<session>.process_manager for the process manager).
PANELS: dict[str, MessageFilter] = {
    "pm-msg": MessageFilter(kinds=("broadcast",), sources=("process_manager",)),
    # the Controller page: the broadcasts (its controllers') and ERS issues of the session it shows
    "ctl-msg": MessageFilter(kinds=("broadcast", "ers")),
}

# prefix → (component id, property) holding the session a panel shows; "" there means the configured default
# session (CSC_SESSION). Only the panels listed here take that extra input.
SESSION_INPUTS: dict[str, tuple[str, str]] = {
    "ctl-msg": (controller_ids.SESSION, "data"),
}

_LOUDNESS = {"ok": "", "warn": "text-warning-emphasis", "error": "text-danger"}


def register(app, services) -> None:
    for prefix, base in PANELS.items():
        register_panel(app, services, prefix, base, session_input=SESSION_INPUTS.get(prefix))


def session_filter(base: MessageFilter, session: str | None, default_session: str) -> MessageFilter:
    """`base` narrowed to one session (the default one for "" / None)."""
    name = (session or "").strip() or default_session
    return replace(base, sessions=(name,)) if name else base


def register_panel(app, services, prefix: str, base: MessageFilter,
                   session_input: tuple[str, str] | None = None) -> None:
    """The callbacks of one panel (ids from `prefix`), showing the messages `base` selects; with
    `session_input` (id, property), only the messages of the session held there."""
    ids = panel_ids(prefix)
    store = services.messages
    extra = [In(session_input[0], session_input[1], text(255))] if session_input else []
    session_id = session_input[0] if session_input else None

    app.clientside_callback(
        "function(n, open) { var next = !open; return [next, next ? '▾' : '▸']; }",
        Output(ids.collapse, "is_open"),
        Output(ids.chevron, "children"),
        Input(ids.toggle, "n_clicks"),
        State(ids.collapse, "is_open"),
        prevent_initial_call=True,
    )
    # Paused: the Interval slows to once a day instead of sending empty polls (its `disabled` belongs to the
    # no-overlap guard below). Resuming triggers the server callback, which catches up at once.
    app.clientside_callback(
        f"function(follow) {{ return follow === false ? {PAUSED_MS} : {POLL_MS}; }}",
        Output(ids.tick, "interval"),
        Input(ids.follow, "value"),
    )

    @guarded_callback(
        app,
        services.audit,
        Output(ids.grid, "rowData"),
        Output(ids.grid, "rowTransaction"),
        Output(ids.cursor, "data"),
        Output(ids.shown, "data"),
        Output(ids.count, "children"),
        Output(ids.status, "children"),
        In(ids.tick, "n_intervals", clicks),
        In(ids.severity, "value", list_of(text(32), 20)),
        In(ids.search, "value", text(1000)),
        In(ids.follow, "value", boolean),
        *extra,
        St(ids.cursor, "data", or_reset(record({"last_id": integer(0), "others": list_of(text(64), 1000)}))),
        St(ids.shown, "data", or_reset(list_of(integer(), 100_000))),
        running=[(Output(ids.tick, "disabled"), True, False)],
        permission="view",
    )
    def update_messages(_ticks, severities, search, follow, *rest):
        *session, cursor, shown = rest
        panel_base = session_filter(base, session[0], services.settings.csc_session) if session_id else base
        now = datetime.now(UTC)
        paused = follow is False
        trigger = ctx.triggered_id
        state = _cursor(cursor)
        try:
            if state is None or trigger in (None, ids.severity, ids.search, session_id):
                return _reload(store, panel_base, severities, search, now, paused)
            if paused:
                return (no_update,) * 5 + (_status(store, now, paused=True),)
            return _poll(store, panel_base, severities, search, state, cursor, shown, now)
        except SQLAlchemyError:
            log.warning("message panel %s: the message store failed", prefix, exc_info=True)
            failed = html.Span(f"update failed {now:%H:%M:%S} UTC: the message store is unreachable",
                               className="text-danger")
            return (no_update,) * 5 + (failed,)


def _cursor(data) -> tuple[int, tuple[str, ...]] | None:
    """(last id, other severities) from the panel's store, or None when it is missing or malformed."""
    if not isinstance(data, dict):
        return None
    last, others = data.get("last_id"), data.get("others") or []
    if not isinstance(last, int) or isinstance(last, bool) or not isinstance(others, list):
        return None
    return last, tuple(str(o) for o in others)


def _reload(store, base: MessageFilter, severities, search, now: datetime, paused: bool):
    others = vm.other_severities(store.distinct("severity")) if vm.needs_others(severities) else ()
    flt = vm.build_filter(base, severities, search, others)
    latest = store.latest_id()
    found = [] if flt is None else store.search(flt, limit=vm.RELOAD_LIMIT)
    rows = [vm.message_row(m) for m in found]
    cursor = {"last_id": vm.next_cursor(0, latest, found), "others": list(others)}
    shown = [m.id for m in found]
    return rows, no_update, cursor, shown, str(len(shown)), _status(store, now, paused)


def _poll(store, base: MessageFilter, severities, search, state, cursor, shown, now: datetime):
    last, others = state
    flt = vm.build_filter(base, severities, search, others)
    if flt is None:
        return (no_update,) * 5 + (_status(store, now, paused=False),)
    latest = store.latest_id()
    found = store.newer_than(last, vm.TICK_LIMIT, flt)
    if len(found) >= vm.TICK_LIMIT:  # a burst (or a long pause): the newest page replaces the grid
        return _reload(store, base, severities, search, now, paused=False)
    moved = {"last_id": vm.next_cursor(last, latest, found), "others": list(others)}
    cursor_out = moved if moved != cursor else no_update
    if not found:
        return no_update, no_update, cursor_out, no_update, no_update, _status(store, now, paused=False)
    found = vm.newest_first(found)
    shown_ids = [i for i in (shown or []) if isinstance(i, int) and not isinstance(i, bool)]
    kept, removed = vm.cap_ids([m.id for m in found], shown_ids)
    transaction = vm.add_transaction([vm.message_row(m) for m in found], removed)
    return no_update, transaction, cursor_out, kept, str(len(kept)), _status(store, now, paused=False)


def _status(store, now: datetime, paused: bool) -> html.Span:
    text, loudness = vm.consumer_text(store.status(), now)
    return html.Span(
        [html.Span(vm.updated_text(now, paused)), " · ", html.Span(text, className=_LOUDNESS[loudness])]
    )
