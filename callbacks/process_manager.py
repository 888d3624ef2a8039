"""Process Manager page: the live table (fed by the shared poller), its URL state, and the process actions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from dash import Input, Output, Patch, State, ctx, html, no_update
from flask_login import current_user

from auth.actions import UserError, guarded_callback
from auth.shapes import In, St, boolean, clicks, integer, list_of, or_reset, record, text
from callbacks.notify import notify
from components import process_table as ids
from drunc_client.errors import DruncError
from viewmodels.processes import (
    Outcome,
    Target,
    count_text,
    flush_outcomes,
    kill_outcomes,
    query_from_view,
    sessions_summary,
    targets_from_rows,
    terminate_phrase,
)
from viewmodels.text import clip

PER_PROCESS_TOASTS = 10  # more targets than this get one summary toast
RESTART_PARALLEL = 8
AUDIT_UUIDS = 200  # uuids written into one audit event's arguments; the count is always there
VERBS = {"restart": ("Restart", "success"), "kill": ("Kill", "danger"), "flush": ("Flush", "warning")}

# Input shapes. A row the grid holds (or a target the confirmation keeps) names its process by uuid and name.
ROW = record({"uuid": text(128), "name": text(1000)}, optional=False, max_bytes=100_000)
ROWS = list_of(ROW, 20_000)
PENDING = record({"action": text(16), "targets": ROWS})
SHOWN = or_reset(record({"e": text(64), "v": integer(0), "ok": boolean}))  # the version a tab shows (table_update)
REFRESH = text(4, choices=("1", "5", "0"))


def hms(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M:%S") if timestamp else "never"


def _period(refresh) -> float:
    # paused tabs still say they look, at the slow rate
    return {"1": 1.0, "5": 5.0}.get(refresh if isinstance(refresh, str) else "1", 5.0)


def _short_error(error: str, limit: int = 300) -> str:
    return clip((error or "").strip().splitlines()[0] if (error or "").strip() else "no answer", limit)


def _outcome_error(exc: Exception) -> str:
    return str(exc) if isinstance(exc, DruncError) else f"{type(exc).__name__}: {exc}"


def report(verb: str, outcomes: list[Outcome]) -> None:
    """A toast per process; beyond PER_PROCESS_TOASTS, one summary toast listing the failures."""
    if len(outcomes) <= PER_PROCESS_TOASTS:
        for o in outcomes:
            notify(f"{verb}: {o.target.name or o.target.uuid[:8]}",
                   [html.Div(o.message), html.Small(o.target.uuid, className="text-body-secondary")],
                   "success" if o.ok else "danger")
        return
    failed = [o for o in outcomes if not o.ok]
    ok = len(outcomes) - len(failed)
    body = [html.Div(f"{ok} of {len(outcomes)} processes: done.")]
    if failed:
        body.append(html.Ul([html.Li(f"{o.target.name} ({o.target.uuid[:8]}): {o.message}")
                             for o in failed[:50]], className="mb-0 small"))
        if len(failed) > 50:
            body.append(html.Div(f"… and {len(failed) - 50} more failures (see the audit page)."))
    notify(f"{verb}: {len(outcomes)} processes", body, "warning" if failed else "success")


def _audit(note, kind: str, targets: list[Target], outcomes: list[Outcome]) -> None:
    note.action = f"process.{kind}"
    note.target = ", ".join(f"{t.name} ({t.uuid[:8]})" for t in targets)
    note.arguments = {"count": len(targets), "uuids": [t.uuid for t in targets[:AUDIT_UUIDS]]}
    failed = [o for o in outcomes if not o.ok]
    if failed:
        note.failed(f"{len(outcomes) - len(failed)} ok, {len(failed)} failed: "
                    + "; ".join(f"{o.target.name}: {o.message}" for o in failed[:20]))
    else:
        note.detail = f"{len(outcomes)} ok"


def _targets_list(targets: list[Target], limit: int = 200) -> html.Div:
    items = [html.Li([html.Strong(t.name or "(no name)"), " ", html.Code(t.uuid, className="small")])
             for t in targets[:limit]]
    more = [html.Li(f"… and {len(targets) - limit} more")] if len(targets) > limit else []
    return html.Ul(items + more, className="rc-target-list mb-0", id="pm-confirm-targets")


def register(app, services) -> None:
    audit = services.audit
    feed = services.process_feed

    def client():
        return services.drunc.process_manager(current_user.name)

    # ------------------------------------------------------------------------------------ the live table

    @guarded_callback(
        app, audit,
        Output(ids.GRID, "rowData"),
        Output(ids.GRID, "rowTransaction"),
        Output(ids.VERSION, "data"),
        Output(ids.STATUS, "children"),
        Output(ids.LIVE, "className"),
        Output(ids.LIVE, "title"),
        Output(ids.COUNT, "children"),
        Output(ids.BANNER, "children"),
        Output(ids.BANNER, "is_open"),
        Output(ids.GRID_WRAP, "className"),
        In(ids.TICK, "n_intervals", clicks),
        In(ids.REFRESH_NOW, "n_clicks", clicks),
        St(ids.VERSION, "data", SHOWN),
        St(ids.REFRESH, "value", REFRESH),
        running=[(Output(ids.TICK, "disabled"), True, False)],  # a slow manual refresh never overlaps a tick
    )
    def refresh_table(_ticks, manual, shown, refresh):
        return table_update(feed, shown, refresh, manual_refresh=bool(manual) and ctx.triggered_id == ids.REFRESH_NOW)

    # ----------------------------------------------------------------------------------------- URL state

    @guarded_callback(
        app, audit,
        Output(ids.GRID, "dashGridOptions"),
        Output(ids.URL_SYNC, "data"),
        In(ids.GRID, "filterModel", record(max_bytes=20_000)),
        In(ids.QUICK, "value", text(1000)),
        In(ids.REFRESH, "value", REFRESH),
        prevent_initial_call=True,
    )
    def sync_url(filter_model, quick, refresh):
        options = Patch()
        options["quickFilterText"] = (quick or "")[:200]
        return options, query_from_view(filter_model, quick, refresh)

    app.clientside_callback(
        """function(search) {
            if (search === undefined || search === null) { return window.dash_clientside.no_update; }
            if (window.location.pathname.replace(/\\/$/, '') === '/process-manager'
                    && window.location.search !== search) {
                window.history.replaceState(window.history.state, '', window.location.pathname + search);
            }
            return window.dash_clientside.no_update;
        }""",
        Output(ids.URL_SYNC, "id"),
        Input(ids.URL_SYNC, "data"),
    )
    app.clientside_callback(
        """function(rows, current, link) {
            // once: the first rows are in and the grid lost the link's filters (dash-ag-grid#430)
            var skip = window.dash_clientside.no_update;
            if (!link || !rows || rows.length === 0) { return [skip, skip]; }
            var empty = !current || Object.keys(current).length === 0;
            return [empty ? link : skip, null];
        }""",
        Output(ids.GRID, "filterModel"),
        Output(ids.LINK_FILTER, "data"),
        Input(ids.GRID, "rowData"),
        State(ids.GRID, "filterModel"),
        State(ids.LINK_FILTER, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        f"""function(refresh) {{
            return refresh === '5' ? 5000 : (refresh === '0' ? {ids.PAUSED_MS} : 1000);
        }}""",
        Output(ids.TICK, "interval"),
        Input(ids.REFRESH, "value"),
    )
    app.clientside_callback(
        """function(rows, perms) {
            var n = (rows || []).length;
            var off = !(perms && perms.modify) || n === 0;
            return [off, off, off, n === 0 ? 'nothing selected' : (n === 1 ? '1 selected' : n + ' selected')];
        }""",
        Output(ids.RESTART, "disabled"),
        Output(ids.FLUSH, "disabled"),
        Output(ids.KILL, "disabled"),
        Output(ids.SELECTED, "children"),
        Input(ids.GRID, "selectedRows"),
        State(ids.PERMS, "data"),
    )
    app.clientside_callback(
        "function(rows) { return rows ? rows.length + ' shown' : ''; }",
        Output(ids.SHOWN, "children"),
        Input(ids.GRID, "virtualRowData"),
    )

    # --------------------------------------------------------------------- restart, kill, flush: confirm

    @guarded_callback(
        app, audit,
        Output(ids.CONFIRM, "is_open"),
        Output(ids.CONFIRM_TITLE, "children"),
        Output(ids.CONFIRM_BODY, "children"),
        Output(ids.CONFIRM_OK, "children"),
        Output(ids.CONFIRM_OK, "color"),
        Output(ids.PENDING, "data"),
        In(ids.RESTART, "n_clicks", clicks),
        In(ids.FLUSH, "n_clicks", clicks),
        In(ids.KILL, "n_clicks", clicks),
        In(ids.CONFIRM_CANCEL, "n_clicks", clicks),
        St(ids.GRID, "selectedRows", ROWS),
        prevent_initial_call=True,
    )
    def open_confirm(_restart, _flush, _kill, _cancel, selected):
        trigger = ctx.triggered_id
        if trigger not in ids.ACTIONS:
            return False, no_update, no_update, no_update, no_update, None
        kind = ids.ACTIONS[trigger]
        targets = targets_from_rows(selected)
        if not targets:
            raise UserError("Select at least one process first.")
        verb, colour = VERBS[kind]
        noun = "process" if len(targets) == 1 else f"{len(targets)} processes"
        explain = {
            "restart": "Each process is stopped and booted again with the same uuid and command.",
            "kill": "Each process is killed (SIGQUIT, then SIGKILL) and leaves the process manager's list.",
            "flush": "DEAD processes are removed from the list; running ones are left alone.",
        }[kind]
        body = [html.P(explain), _targets_list(targets)]
        pending = {"action": kind, "targets": [{"uuid": t.uuid, "name": t.name} for t in targets]}
        return True, f"{verb} {noun}?", body, f"{verb} {noun}", colour, pending

    def describe_action(_clicks, pending):
        kind = (pending or {}).get("action") if isinstance(pending, dict) else None
        targets = targets_from_rows((pending or {}).get("targets") if isinstance(pending, dict) else None)
        name = f"process.{kind}" if kind in VERBS else "process.action"
        return ", ".join(f"{t.name} ({t.uuid[:8]})" for t in targets), {"count": len(targets)}, name

    @guarded_callback(
        app, audit,
        Output(ids.CONFIRM, "is_open", allow_duplicate=True),
        Output(ids.PENDING, "data", allow_duplicate=True),
        In(ids.CONFIRM_OK, "n_clicks", clicks),
        St(ids.PENDING, "data", PENDING),
        permission="process.modify",
        action="process.action",
        describe=describe_action,
        prevent_initial_call=True,
    )
    def run_action(note, _clicks, pending):
        kind = pending.get("action") if isinstance(pending, dict) else None
        if kind not in VERBS:
            note.skip = True
            return False, None
        targets = targets_from_rows(pending.get("targets"))
        if not targets:
            note.skip = True
            raise UserError("Nothing to act on: the selection was empty.")
        outcomes = act(client(), kind, targets)
        _audit(note, kind, targets, outcomes)
        report(VERBS[kind][0], outcomes)
        feed.refresh_now(wait=3.0)
        return False, None

    # -------------------------------------------------------------------------------------------- terminate

    @guarded_callback(
        app, audit,
        Output(ids.TERM, "is_open"),
        Output(ids.TERM_BODY, "children"),
        Output(ids.TERM_EXPECTED, "data"),
        Output(ids.TERM_TEXT, "value"),
        In(ids.TERMINATE, "n_clicks", clicks),
        In(ids.TERM_CANCEL, "n_clicks", clicks),
        prevent_initial_call=True,
    )
    def open_terminate(_open, _cancel):
        if ctx.triggered_id != ids.TERMINATE:
            return False, no_update, None, ""
        _state, rows = feed.rows()
        phrase = terminate_phrase(rows)
        summary = sessions_summary(rows)
        body = [
            html.P([html.Strong("Terminate kills every process this process manager runs"),
                    f" ({feed.endpoint}), whatever is selected or filtered."]),
            html.Ul([html.Li(f"session {s or '(none)'}: {n} processes, {r} running") for s, n, r in summary]
                    or [html.Li("no processes are known right now")]),
            html.Details([html.Summary(f"All {len(rows)} processes"),
                          _targets_list([Target(r["uuid"], r["name"]) for r in rows], limit=500)]),
            html.P(["Type ", html.Code(phrase, id="pm-term-phrase"), " to confirm."], className="mt-2 mb-0"),
        ]
        return True, body, phrase, ""

    app.clientside_callback(
        "function(text, expected) { return !expected || (text || '').trim() !== expected; }",
        Output(ids.TERM_OK, "disabled"),
        Input(ids.TERM_TEXT, "value"),
        Input(ids.TERM_EXPECTED, "data"),
    )

    @guarded_callback(
        app, audit,
        Output(ids.TERM, "is_open", allow_duplicate=True),
        In(ids.TERM_OK, "n_clicks", clicks),
        St(ids.TERM_TEXT, "value", text(1000)),
        permission="process.terminate",
        action="process.terminate",
        describe=lambda _clicks, text: (feed.endpoint, {"typed": str(text)[:100]}),
        prevent_initial_call=True,
    )
    def run_terminate(note, _clicks, typed):
        _state, rows = feed.rows()
        phrase = terminate_phrase(rows)  # checked against the server's table, not what the browser sent
        note.target = feed.endpoint
        if (typed or "").strip() != phrase:
            raise UserError(f"Type “{phrase}” exactly to terminate. Nothing was done.")
        try:
            killed = client().terminate()
        except DruncError as exc:
            note.failed(str(exc))
            notify("Terminate failed", str(exc), "danger")
            feed.poke()
            return False
        targets = [Target(p.uuid, p.name) for p in killed]
        outcomes = [Outcome(Target(p.uuid, p.name), True, f"terminated (exit code {p.return_code})") for p in killed]
        note.arguments = {"count": len(targets), "uuids": [t.uuid for t in targets[:AUDIT_UUIDS]]}
        note.detail = f"{len(killed)} processes terminated"
        if outcomes:
            report("Terminate", outcomes)
        else:
            notify("Terminate", "The process manager had no process to terminate.", "info")
        feed.refresh_now(wait=3.0)
        return False


def act(client, kind: str, targets: list[Target]) -> list[Outcome]:
    """Run restart / kill / flush on the targets; a failure becomes that target's outcome, never an exception."""
    if kind == "restart":
        def restart(t: Target) -> Outcome:
            try:
                p = client.restart(t.uuid)
                return Outcome(t, True, f"restarted on {p.hostname or 'its host'} ({p.status})")
            except Exception as exc:  # noqa: BLE001 - one failure must not hide the others' results
                return Outcome(t, False, _outcome_error(exc))

        with ThreadPoolExecutor(max_workers=min(RESTART_PARALLEL, len(targets))) as pool:
            return list(pool.map(restart, targets))
    uuids = [t.uuid for t in targets]
    try:
        if kind == "kill":
            return kill_outcomes(targets, client.kill(uuids=uuids))
        return flush_outcomes(targets, client.flush(uuids=uuids))
    except Exception as exc:  # noqa: BLE001 - reported per target like any other failure
        return [Outcome(t, False, _outcome_error(exc)) for t in targets]


def table_update(feed, shown, refresh, manual_refresh: bool = False):
    """The refresh callback's outputs for a tab that shows `shown` ({"e": epoch, "v": version, "ok": bool})."""
    if not feed.configured:
        banner = "No process manager is configured: set PROCESS_MANAGER_URL."
        return (no_update, no_update, no_update, "not configured", "rc-live-dot rc-live-failed", banner, "",
                banner, True, "rc-grid-wrap rc-stale")
    shown = shown if isinstance(shown, dict) else {}
    if manual_refresh:
        feed.refresh_now()
    feed.watch(_period(refresh))
    changes = feed.changes(shown.get("e"), shown.get("v"))
    if changes.state is None:  # nobody polled yet: the first tab waits for the first ps
        feed.refresh_now()
        changes = feed.changes(shown.get("e"), shown.get("v"))
    state = changes.state
    if state is None:
        feed.poke()
        return (no_update,) * 3 + ("connecting…", no_update, no_update, no_update, no_update, no_update, no_update)

    grid_data = grid_transaction = no_update
    if changes.kind == "full":
        grid_data = changes.rows
    elif changes.kind == "delta" and changes.delta:
        grid_transaction = {**changes.delta.transaction(), "async": False}

    ok_changed = shown.get("ok") is not state.ok
    version_changed = changes.kind != "none"
    new_shown = {"e": state.epoch, "v": state.version, "ok": state.ok}
    paused = refresh == "0"
    if state.ok:
        status = f"updated {hms(state.ok_at)} UTC"
        live_class = "rc-live-dot " + ("rc-live-paused" if paused else "rc-live-ok")
        live_title = "paused: the table refreshes when you ask" if paused else "live"
    else:
        status = f"update failed {hms(state.polled_at)} UTC · last good {hms(state.ok_at)} UTC"
        live_class, live_title = "rc-live-dot rc-live-failed", "the process manager does not answer"

    if not (ok_changed or version_changed):  # the common case: a few hundred bytes
        return (no_update, no_update, no_update, status, no_update, no_update, no_update, no_update, no_update,
                no_update)
    count = count_text(state.total, state.counts)
    if state.ok:
        banner, banner_open, wrap = no_update, False, "rc-grid-wrap"
    else:
        banner = [
            html.Strong(f"Process manager {feed.endpoint} is unreachable"),
            f" since {hms(state.failed_since)} UTC: {_short_error(state.error)}. ",
            f"The table shows the last known state, from {hms(state.ok_at)} UTC. Retrying automatically.",
        ]
        banner_open, wrap = True, "rc-grid-wrap rc-stale"
    return (grid_data, grid_transaction, new_shown, status, live_class, live_title, count, banner, banner_open, wrap)


__all__ = ["act", "register", "report", "table_update"]
