"""Controller page: the run banner, the run history and the state timeline.

The banner's tick also notices runs started or stopped outside this UI (drunc's shell) from the root's state and
records them (services.runs.seen_running / seen_stopped). That is idempotent (nothing is written while the runs
table already agrees) and cheap (one indexed read of the open run per tick); a short diskcache lease keeps two
workers that see the change at the same moment from both writing it. Runs started and stopped through the UI
are recorded by the FSM part; this only reads them. Read-only callbacks: permission "view", no action.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import dash_bootstrap_components as dbc
from dash import Output, html, no_update
from sqlalchemy.exc import SQLAlchemyError

from auth.actions import guarded_callback
from auth.shapes import In, St, clicks, or_reset, record, text
from callbacks.controller_shared import CHANGED
from components import controller_ids as ids
from components import run_panel as rp
from components import state_timeline as tl
from store.messages import MessageFilter
from viewmodels import runs as vm
from viewmodels import timeline as tvm

log = logging.getLogger("runcontrol.controller")

SESSION = text(255)
SHOWN = or_reset(record({"banner": text(4000), "history": text(20_000)}))
HISTORY_LIMIT = 20
DETECT_LEASE_SECS = 5
TIMELINE_MESSAGES = 20_000


def detect_outside_run(services, snap, now: datetime | None = None) -> str | None:
    """Record a run started or stopped outside this UI when the root's state says so; returns what was done
    ("seen_running" / "seen_stopped") or None."""
    root = snap.root_node
    if root is None or not snap.ok or snap.root is None:
        return None
    lock = services.controller_locks.current(snap.root)
    open_run = services.runs.current(snap.session)
    change = vm.run_change(root, open_run is not None, lock_held=lock is not None, feed_ok=snap.ok)
    if change is None:
        return None
    # one writer per change, whichever worker or tab sees it first
    if not services.controller_feeds.cache.add(f"run-seen:{snap.session}:{change}", 1, expire=DETECT_LEASE_SECS):
        return None
    at = datetime.fromtimestamp(snap.ok_at, UTC) if snap.ok_at else (now or datetime.now(UTC))
    if change == "seen_running":
        done = services.runs.seen_running(snap.session, root=snap.root, at=at)
    else:
        done = services.runs.seen_stopped(snap.session, at=at)
    if done is not None:
        log.info("session %s: run %s outside this UI (root %s)", snap.session,
                 "started" if change == "seen_running" else "stopped", root.get("state"))
    return change if done is not None else None


def banner_view(b: vm.Banner):
    extra = [dbc.Badge(b.source, color="warning", text_color="dark", class_name="ms-2")] if b.source else []
    return html.Div(
        [
            html.Div(
                [html.Span(b.state, className=f"rc-run-state text-bg-{b.colour} px-3 py-1 rounded",
                           id="ctl-run-state")],
                className="me-4",
            ),
            html.Div(
                [
                    html.Div([html.Span(b.run, className="fw-semibold fs-5", id="ctl-run-number")] + extra),
                    html.Div(b.since, className="small rc-muted-time", id="ctl-run-since"),
                ],
                className="me-4",
            ),
            html.Div(b.in_charge, className="small", id="ctl-run-in-charge"),
            html.Div(b.note, className="small text-warning-emphasis ms-auto", id="ctl-run-note"),
        ],
        className="d-flex align-items-center flex-wrap border rounded px-3 py-2",
    )


def history_view(rows: list[dict]):
    if not rows:
        return html.Div("No run recorded for this session yet.", className="text-body-secondary")
    head = html.Thead(html.Tr([html.Th(h) for h in
                               ("run", "type", "started (UTC)", "stopped", "duration", "source", "outcome",
                                "started by", "stopped by")]))
    body = html.Tbody([
        html.Tr([
            html.Td(r["run"], className="fw-semibold"), html.Td(r["type"]), html.Td(r["started"]),
            html.Td(r["stopped"]), html.Td(r["duration"], className="rc-muted-time"),
            html.Td(r["source"], className="text-warning-emphasis" if r["source"] != "this UI" else ""),
            html.Td(dbc.Badge(r["outcome"], color=r["outcome_colour"]), title=r["detail"]),
            html.Td(r["started_by"]), html.Td(r["stopped_by"]),
        ], **{"data-run-id": str(r["id"])})
        for r in rows
    ])
    return dbc.Table([head, body], size="sm", hover=True, responsive=True, class_name="mb-0 rc-run-history",
                     id="ctl-run-history-table")


def register(app, services) -> None:
    feeds = services.controller_feeds

    @guarded_callback(
        app, services.audit,
        Output(rp.BANNER_BODY, "children"),
        Output(rp.HISTORY_BODY, "children"),
        Output(rp.SHOWN, "data"),
        In(rp.TICK, "n_intervals", clicks),
        In(ids.CHANGED, "data", CHANGED),
        In(ids.SESSION, "data", SESSION),
        St(rp.SHOWN, "data", SHOWN),
        running=[(Output(rp.TICK, "disabled"), True, False)],
        permission="view",
    )
    def refresh_banner(_ticks, _changed, session, shown):
        now = datetime.now(UTC)
        snap = feeds.snapshot(session or None)
        try:
            detect_outside_run(services, snap, now)
            open_run = services.runs.current(snap.session)
            lock = services.controller_locks.current(snap.root) if snap.root else None
            runs = services.runs.recent(snap.session, limit=HISTORY_LIMIT)
        except SQLAlchemyError:
            log.warning("run banner: the database failed", exc_info=True)
            return no_update, no_update, no_update
        b = vm.banner(snap.root_node, open_run, now, lock_text=lock.text() if lock else "",
                      feed_error=snap.error, registered=snap.registered, message=snap.message)
        banner_sig = repr(b.signature())
        history_sig = vm.history_signature(runs, now)
        shown = shown if isinstance(shown, dict) else {}
        same_banner = shown.get("banner") == banner_sig
        same_history = shown.get("history") == history_sig
        if same_banner and same_history:
            return no_update, no_update, no_update
        return (no_update if same_banner else banner_view(b),
                no_update if same_history else history_view(vm.history_rows(runs, now)),
                {"banner": banner_sig, "history": history_sig})

    # ------------------------------------------------------------------------------------------ timeline

    @guarded_callback(
        app, services.audit,
        Output(tl.GRAPH, "figure"),
        Output(tl.NOTE, "children"),
        In(tl.TICK, "n_intervals", clicks),
        In(tl.WINDOW, "value", text(16, choices=("hour", "run"))),
        In(tl.LANES, "value", text(16, choices=("controllers", "all"))),
        In(ids.CHANGED, "data", CHANGED),
        In(ids.SESSION, "data", SESSION),
        running=[(Output(tl.TICK, "disabled"), True, False)],
        permission="view",
    )
    def refresh_timeline(_ticks, window, lanes_choice, _changed, session):
        now = datetime.now(UTC)
        snap = feeds.snapshot(session or None)
        since, note = now - timedelta(hours=1), "the last hour"
        try:
            if window == "run":
                run = services.runs.current(snap.session) or next(iter(services.runs.recent(snap.session, 1)),
                                                                   None)
                if run is not None:
                    since = run.started_at
                    until = run.stopped_at or now
                    note = f"run {run.number if run.number is not None else '?'}"
                    now = until if run.stopped_at else now
                else:
                    note = "no run recorded: the last hour"
            messages = services.messages.search(
                MessageFilter(kinds=("broadcast",), sessions=(snap.session,), broadcast_types=("FSM_STATUS_UPDATE",),
                              since=since, until=now), limit=TIMELINE_MESSAGES)
        except SQLAlchemyError:
            log.warning("state timeline: the database failed", exc_info=True)
            return no_update, "the message store is unreachable"
        nodes = list(snap.nodes)
        lanes = tvm.lanes_for(nodes, lanes_choice == "all")
        paths_by_name = {n["name"]: n["path"] for n in nodes if n.get("kind") == "controller"}
        events = tvm.events_from_broadcasts(messages, paths_by_name)
        observed = feeds.observations(snap.session, since.timestamp())
        events += [(datetime.fromtimestamp(t, UTC), path, state) for t, path, state in observed]
        current = {} if window == "run" and now < datetime.now(UTC) - timedelta(seconds=5) else {
            n["path"]: ("error" if n.get("in_error") else n.get("state", "unknown")) for n in nodes}
        segs = tvm.segments(events, current, since, now)
        shown = sum(1 for _ in lanes)
        hidden = len(nodes) - shown
        more = f" · {hidden} more node{'s' if hidden != 1 else ''}: choose all nodes" if hidden > 0 and \
            lanes_choice != "all" else ""
        return tvm.figure(segs, lanes, since, now), f"{note}{more}"
