"""Sessions page: the live table (from the shared pollers only), a session's detail, and its actions.

Tabs never call drunc on a tick: the table joins the process feed's per-session summary (computed once per table
version), the controller feeds' summaries (one read, no tree), the open runs and the per-session unacknowledged
alarms; a tick whose mark is the one the tab shows stops there. Actions are audited:
boot from a configuration and terminate need session.manage, take control of the root controller.take_control
(the Controller page's action name, so its "in charge since" reads it too).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import dash_bootstrap_components as dbc
from dash import Output, ctx, dcc, html, no_update
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from auth.actions import UserError, guarded_callback
from auth.shapes import In, St, clicks, integer, or_reset, record, text
from callbacks.notify import notify
from components import boot_configs as cfg
from components import boot_form
from components import sessions_page as ui
from drunc_client.errors import DruncError, NotRegistered
from polling.process_feed import FeedState
from viewmodels import control as control_vm
from viewmodels import sessions as vm
from viewmodels.boot import BootDefaults, boot_entries, drunc_error_text, summary_text, toast_plan
from viewmodels.configurations import PlanError, check_name, check_session, entries_for_session, plan_session

log = logging.getLogger("runcontrol.sessions")

BOOT_BUDGET_SECS = 40.0  # as callbacks/process_boot.FILE_BUDGET_SECS: the request ends before gunicorn's timeout
TICK_PERIOD = 2.0
SUMMARY_PERIOD = 5.0  # how often the controller feed sweeps a session the Sessions page lists
PROCESS_SUMMARY = "sessions"  # the name of the per-session process summary in the process feed's cache
SESSION = text(255)
PLAN = record({"name": text(128), "version": integer(1), "session": text(255)})
AUDIT_NAMES = 200


def _user() -> str:
    return getattr(current_user, "name", "") or ""


def locatable(backends, session: str) -> bool:
    """Whether the controller feed can find this session's root: through the connectivity service, or
    CONTROLLER_URL for the configured session only (it would answer for every other name too)."""
    return getattr(backends, "resolver", None) is not None or (
        bool(backends.controller_url) and session == backends.csc_session)


@dataclass(frozen=True)
class Gathered:
    """What one tick read: `mark` changes whenever anything the table or the cards show does (the process table's
    version, the roots' summaries, the open runs and their minute-rounded elapsed times, the unacknowledged
    errors), so a tab that shows it skips all other work."""

    state: FeedState | None
    mark: str
    db_ok: bool
    processes: dict
    summaries: dict
    runs: dict
    unacked: dict
    extra: list
    now: datetime

    def rows(self) -> list[dict]:
        return vm.session_rows(self.processes, self.summaries, self.runs, self.unacked, self.now, self.extra)


def gather(services, *, watch: bool = True) -> Gathered:
    """A few cache reads and two indexed queries, whatever the number of processes: the per-session process
    summary is computed once per process-table version (ProcessFeed.derived), every root's summary is one read
    (ControllerFeeds.summaries), and the open runs of every session are one query."""
    feed, feeds = services.process_feed, services.controller_feeds
    if watch:
        feed.watch(TICK_PERIOD)
    state = feed.state()
    processes = feed.derived(PROCESS_SUMMARY, vm.process_summary, state)
    csc = services.settings.csc_session
    extra = [csc] if feeds.configured and locatable(services.drunc, csc) else []
    names = [n for n in dict.fromkeys([*processes, *extra]) if locatable(services.drunc, n)]
    if watch:
        feeds.watch_many(names, SUMMARY_PERIOD)
    summaries_mark, summaries = feeds.summaries(names)
    # a configured session with no process and no registered root is not a session: leave it out
    extra = [n for n in extra if n not in processes and (summaries.get(n) or {}).get("registered")]
    now = datetime.now(UTC)
    try:
        runs, unacked, db_ok = services.runs.open_runs(), services.acks.unacknowledged_by_session(), True
    except SQLAlchemyError:
        log.warning("sessions: the database did not answer", exc_info=True)
        runs, unacked, db_ok = {}, {}, False
    listed = set(processes) | set(extra)
    runs = {n: r for n, r in runs.items() if n in listed}
    unacked = {n: c for n, c in unacked.items() if n in listed}
    mark = vm.signature([(state.epoch, state.version, state.error) if state else None, summaries_mark,
                         vm.run_marks(runs, now), unacked, extra, db_ok])
    return Gathered(state, mark, db_ok, processes, summaries, runs, unacked, extra, now)


def session_processes(services, session: str, state) -> list[dict]:
    """The processes of one session (what its detail lists), once per process-table version."""
    def pick(rows):
        return [{k: p.get(k) for k in ("uuid", "name", "status", "host", "tree_id")} for p in rows
                if p.get("session") == session]

    return services.process_feed.derived(f"session:{session}", pick, state)


def detail_view(row: dict | None, processes: list[dict], session: str | None):
    if not session:
        return html.Div("Choose a session above.", className="text-body-secondary")
    if row is None:
        return html.Div(f"{session}: no process and no registered root.", className="text-body-secondary",
                        id="ses-detail-none")
    link = vm.links(session)
    listing = [html.Li(f"{p.get('name')} · {p.get('status')} · {p.get('host') or '?'} · {p.get('uuid', '')[:8]}")
               for p in sorted(processes, key=lambda p: (p.get("tree_id") or "~", p.get("name") or ""))[:30]]
    more = [html.Li(f"… and {len(processes) - 30} more")] if len(processes) > 30 else []
    return html.Div([
        html.Div([dbc.Badge(vm.root_text(row), color=row["colour"], class_name="me-2",
                            text_color="dark" if row["colour"] == "light" else None),
                  html.Span(vm.run_text(row), className="me-2"),
                  html.Span(f"in charge: {row['in_charge'] or 'nobody'}", className="me-2"),
                  html.Span(f"{row['errors']} unacknowledged errors",
                            className="text-danger" if row["errors"] else "text-body-secondary")]),
        html.Div([dcc.Link("Its processes in the Process Manager", href=link["processes"], className="me-3"),
                  dcc.Link("Its tree in the Controller page", href=link["controller"], className="me-3"),
                  dcc.Link("Its recent messages", href=link["messages"])], className="small my-2",
                 id="ses-detail-links"),
        html.Ul(listing + more, className="small mb-0", id="ses-detail-processes"),
    ], **{"data-session": session})


def register(app, services) -> None:
    audit = services.audit
    feeds = services.controller_feeds

    # ------------------------------------------------------------------------------------------ the view

    @guarded_callback(
        app, audit,
        Output(ui.TABLE, "children"),
        Output(ui.STATUS, "children"),
        Output(ui.PICK, "options"),
        Output(ui.DETAIL, "children"),
        Output(ui.SHOWN, "data"),
        In(ui.TICK, "n_intervals", clicks),
        In(ui.PICK, "value", SESSION),
        St(ui.SHOWN, "data", or_reset(text(64))),
        running=[(Output(ui.TICK, "disabled"), True, False)],
        permission="view",
    )
    def refresh(_ticks, picked, shown):
        got = gather(services)
        signature = vm.signature([got.mark, picked])
        if signature == shown:
            return (no_update,) * 5
        state, sessions = got.state, got.rows()
        mine = session_processes(services, picked, state) if picked else []
        row = next((r for r in sessions if r["session"] == picked), None)
        when = datetime.fromtimestamp(state.ok_at, UTC).strftime("%H:%M:%S") if state and state.ok_at else "never"
        status = f"{len(sessions)} session{'s' if len(sessions) != 1 else ''} · processes updated {when} UTC"
        if state is not None and not state.ok:
            status += f" · process manager: {state.error}"
        options = [{"label": r["session"], "value": r["session"]} for r in sessions]
        if picked and all(o["value"] != picked for o in options):
            options.append({"label": f"{picked} (gone)", "value": picked})
        return ui.sessions_table(sessions, picked), status, options, detail_view(row, mine, picked), signature

    # ----------------------------------------------------------------------------------- boot: the preview

    @guarded_callback(
        app, audit,
        Output(ui.BOOT_PREVIEW, "children"),
        Output(ui.BOOT_GO, "disabled"),
        Output(ui.BOOT_PLAN, "data"),
        Output(ui.BOOT_GO, "children"),
        In(ui.BOOT_CONFIG, "value", text(128)),
        In(ui.BOOT_SESSION, "value", text(255)),
        prevent_initial_call=True,
    )
    def preview_boot(name, session):
        if not name:
            return None, True, None, "Boot the processes"
        config = services.boot_configs.get(name)
        if config is None:
            return dbc.Alert(f"{name}: no such configuration.", color="danger"), True, None, "Boot the processes"
        target = (session or "").strip() or plan_session(config.plan)
        try:
            check_session(target)
            entries = entries_for_session(config.plan, target, BootDefaults.from_settings(services.settings))
        except PlanError as exc:
            return dbc.Alert(str(exc), color="danger"), True, None, "Boot the processes"
        bad = sum(1 for e in entries if not e.ok)
        running = [p for p in services.process_feed.rows()[1] if p.get("session") == target]
        notes = [html.P(f"{config.name} v{config.version} by {config.author}: {len(entries)} processes into "
                        f"session {target}.", className="mb-1")]
        if running:
            notes.append(dbc.Alert(f"Session {target} already runs {len(running)} processes: these are added to "
                                   "them.", color="warning", class_name="py-1"))
        if bad:
            notes.append(dbc.Alert(f"{bad} invalid: nothing is booted while an entry is invalid.", color="danger",
                                   class_name="py-1"))
        plan = {"name": config.name, "version": config.version, "session": target}
        return ([*notes, boot_form.preview_table(entries)], bad > 0, plan,
                f"Boot {len(entries)} processes into {target}")

    # ------------------------------------------------------------------------------------- boot: the action

    def describe_boot(_n=None, plan=None, *_rest):
        plan = plan if isinstance(plan, dict) else {}
        return str(plan.get("session") or "")[:255], {"configuration": str(plan.get("name") or "")[:128],
                                                      "version": plan.get("version")
                                                      if isinstance(plan.get("version"), int) else None}

    @guarded_callback(
        app, audit,
        Output(ui.BOOT_RESULT, "children"),
        In(ui.BOOT_GO, "n_clicks", clicks),
        St(ui.BOOT_PLAN, "data", PLAN),
        permission="session.manage",
        action="session.boot",
        describe=describe_boot,
        prevent_initial_call=True,
    )
    def boot_session(note, _n, plan):
        if not plan or not plan.get("name") or not plan.get("version"):
            raise UserError("Choose a configuration and check its preview first.")
        note.target = str(plan.get("session") or "")
        note.arguments = {"configuration": plan["name"], "version": plan["version"]}
        try:
            session = check_session(plan.get("session"))
        except PlanError as exc:
            raise UserError(str(exc)) from None
        config = services.boot_configs.get(plan["name"], plan["version"])
        if config is None:
            raise UserError(f"{plan['name']} v{plan['version']} does not exist any more: nothing was booted.")
        try:
            entries = entries_for_session(config.plan, session, BootDefaults.from_settings(services.settings))
        except PlanError as exc:
            raise UserError(str(exc)) from None
        bad = [e for e in entries if not e.ok]
        note.arguments["names"] = [e.name for e in entries][:AUDIT_NAMES]
        if bad:
            raise UserError(f"{len(bad)} of the {len(entries)} processes are invalid: nothing was booted.")
        results = boot_entries(services.drunc.process_manager(_user()), entries, BOOT_BUDGET_SECS, "boot",
                               lambda info: f"uuid {info.uuid} on {info.hostname}")
        booted = [r.name for r in results if r.ok]
        if booted:
            services.process_feed.poke()
            if locatable(services.drunc, session):
                feeds.poke(session)
        shown, rest = toast_plan(results)
        for r in shown:
            notify(f"Booted {r.name}" if r.ok else f"Boot failed: {r.name}", r.text, "success" if r.ok else "danger")
        if rest:
            notify(f"{len(rest)} more processes", summary_text(rest), "danger" if any(not r.ok for r in rest)
                   else "success")
        note.arguments["booted"] = booted[:AUDIT_NAMES]
        failed = [r for r in results if not r.ok]
        if failed:
            note.failed(f"{len(failed)} of {len(results)} not booted: "
                        + "; ".join(f"{r.name}: {r.text}" for r in failed[:20]))
        else:
            note.detail = f"{len(booted)} processes booted from {config.name} v{config.version}"
        return html.Ul([html.Li([html.Strong(r.name), f": {'booted' if r.ok else 'failed'} · {r.text}"],
                                className="text-success" if r.ok else "text-danger") for r in results],
                       className="small mb-0", id="ses-boot-results")

    # ---------------------------------------------------------------------------------------- terminate

    @guarded_callback(
        app, audit,
        Output(ui.TERM_MODAL, "is_open"),
        Output(ui.TERM_BODY, "children"),
        Output(ui.TERM_TYPED, "value"),
        In(ui.TERM_OPEN, "n_clicks", clicks),
        In(ui.TERM_CANCEL, "n_clicks", clicks),
        St(ui.PICK, "value", SESSION),
        prevent_initial_call=True,
    )
    def ask_terminate(_open, _cancel, session):
        if ctx.triggered_id != ui.TERM_OPEN:
            return False, no_update, ""
        if not session:
            raise UserError("Choose a session first.")
        mine = [p for p in services.process_feed.rows()[1] if p.get("session") == session]
        others = len({p.get("session") for p in services.process_feed.rows()[1]} - {session})
        body = [html.P(f"Kill every process of session {session} ({len(mine)} known now), and no other: "
                       f"the {others} other session{'s' if others != 1 else ''} are not touched."),
                html.Ul([html.Li(f"{p.get('name')} ({p.get('uuid')}) on {p.get('host') or '?'}")
                         for p in mine[:200]] + ([html.Li(f"… and {len(mine) - 200} more")] if len(mine) > 200
                                                 else []), className="rc-target-list small", id="ses-term-targets")]
        return True, body, ""

    def describe_terminate(_n=None, _typed=None, session=None, *_rest):
        return str(session or "")[:255], None

    @guarded_callback(
        app, audit,
        Output(ui.TERM_MODAL, "is_open", allow_duplicate=True),
        In(ui.TERM_GO, "n_clicks", clicks),
        St(ui.TERM_TYPED, "value", text(255)),
        St(ui.PICK, "value", SESSION),
        permission="session.manage",
        action="session.terminate",
        describe=describe_terminate,
        prevent_initial_call=True,
    )
    def terminate_session(note, _n, typed, session):
        note.target = str(session or "")
        try:
            session = check_session(session)
        except PlanError:
            raise UserError("Choose a session first.") from None
        if (typed or "").strip() != session:
            raise UserError(f"Type the session's name ({session}) to confirm: nothing was killed.")
        client = services.drunc.process_manager(_user())
        try:
            # ps with the session, then only the uuids whose session is exactly this one: a kill by query is an
            # OR over criteria in drunc, and nothing of another session may be touched
            targets = [p for p in client.ps(session=session) if p.session == session]
        except DruncError as exc:
            raise UserError(f"Cannot list the session's processes: {drunc_error_text(exc)}") from None
        note.arguments = {"uuids": [p.uuid for p in targets][:AUDIT_NAMES], "count": len(targets)}
        if not targets:
            raise UserError(f"Session {session} has no process: nothing to kill.")
        try:
            killed = client.kill(uuids=[p.uuid for p in targets])
        except DruncError as exc:
            note.failed(drunc_error_text(exc))
            notify(f"Terminate {session}", drunc_error_text(exc), "danger")
            return no_update
        services.process_feed.poke()
        if locatable(services.drunc, session):
            feeds.poke(session)
        note.detail = f"killed {len(killed)} of {len(targets)} processes"
        notify(f"Terminated {session}", f"{len(killed)} process{'es' if len(killed) != 1 else ''} killed.",
               "success")
        return False

    # ------------------------------------------------------------------------------------- take control

    @guarded_callback(
        app, audit,
        Output(ui.TAKE_MODAL, "is_open"),
        Output(ui.TAKE_BODY, "children"),
        In(ui.TAKE_OPEN, "n_clicks", clicks),
        In(ui.TAKE_CANCEL, "n_clicks", clicks),
        St(ui.PICK, "value", SESSION),
        prevent_initial_call=True,
    )
    def ask_take(_open, _cancel, session):
        if ctx.triggered_id != ui.TAKE_OPEN:
            return False, no_update
        if not session:
            raise UserError("Choose a session first.")
        root = _root(session)
        question = control_vm.take_control_question(root.get("name", ""), root.get("in_charge"), _user())
        return True, [html.P(question or f"Take control of {root.get('name')} ({root.get('address')}) and the "
                             "controllers below it."), html.P(f"Session {session}.", className="small")]

    def _root(session: str) -> dict:
        if not locatable(services.drunc, session):
            raise UserError(f"The root of {session} cannot be found: no connectivity service (CSC_URL) and it "
                            "is not the configured session.")
        snap = feeds.snapshot(session)
        if not snap.registered:
            raise UserError(f"{session}: {snap.message or 'its root is not registered'}.")
        root = snap.root_node
        if root is None or not root.get("address"):
            raise UserError(f"{session}: its root cannot be reached ({snap.error or 'no tree yet'}).")
        return root

    def describe_take(_n=None, session=None, *_rest):
        return str(session or "")[:255], {"session": str(session or "")[:255]}

    @guarded_callback(
        app, audit,
        Output(ui.TAKE_MODAL, "is_open", allow_duplicate=True),
        In(ui.TAKE_GO, "n_clicks", clicks),
        St(ui.PICK, "value", SESSION),
        permission="controller.take_control",
        action="controller.take_control",
        describe=describe_take,
        prevent_initial_call=True,
    )
    def take_control(note, _n, session):
        note.target = str(session or "")
        try:
            session = check_session(session)
        except PlanError:
            raise UserError("Choose a session first.") from None
        root = _root(session)
        name = root.get("name")
        before = control_vm.actor_name(root.get("in_charge"))
        note.target = f"{name} ({root['address']})"
        note.arguments = {"path": root["path"], "session": session, "address": root["address"],
                          "previous": before, "from": "sessions"}
        try:
            result = services.drunc.controller(_user(), address=root["address"], session=session).take_control()
        except NotRegistered as exc:
            raise UserError(str(exc)) from None
        except DruncError as exc:
            note.failed(str(exc))
            notify(f"Take control of {name}", str(exc), "danger")
            return False
        failed = result.failures()
        if failed:
            note.failed("; ".join(f"{f.name}: {f.flag} {f.text.strip()[:200]}" for f in failed[:20]))
            notify(f"Take control of {name}", "Taken, but not on: " + ", ".join(f.name for f in failed[:20]),
                   "warning")
        else:
            evicted = f" from {before}" if before and before != _user() else ""
            note.detail = f"took control{evicted}"
            notify(f"Take control of {name}", f"You are in charge of {name} and the controllers below it{evicted}.",
                   "success")
        try:
            feeds.refresh_now(session)
        except DruncError:
            log.warning("refresh after take control failed", exc_info=True)
        return False

    # ------------------------------------------------------------------- save a running session's processes

    def describe_save_as(_n=None, name=None, session=None, *_rest):
        return str(name or "")[:128], {"session": str(session or "")[:255], "source": "session"}

    @guarded_callback(
        app, audit,
        Output(cfg.CHANGED, "data", allow_duplicate=True),
        In(ui.SAVE_AS_GO, "n_clicks", clicks),
        St(ui.SAVE_AS_NAME, "value", text(128)),
        St(ui.PICK, "value", SESSION),
        permission="session.manage",
        action="session.configuration.save",
        describe=describe_save_as,
        prevent_initial_call=True,
    )
    def save_as_configuration(note, _n, name, session):
        from callbacks.boot_configs import save_plan
        from viewmodels.configurations import plan_from_processes

        note.target, note.arguments = str(name or ""), {"session": str(session or ""), "source": "session"}
        try:
            name = check_name(name)
            session = check_session(session)
        except PlanError as exc:
            raise UserError(str(exc)) from None
        try:
            processes = [p for p in services.drunc.process_manager(_user()).ps(session=session)
                         if p.session == session]
            plan = plan_from_processes(processes)
        except DruncError as exc:
            raise UserError(f"Cannot list the session's processes: {drunc_error_text(exc)}") from None
        except PlanError as exc:
            raise UserError(str(exc)) from None
        return save_plan(services, note, name, plan, f"saved from session {session}")
