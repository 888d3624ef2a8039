"""Sessions page: the session manager's panel (layout, state, sessions, configurations) and start / stop session.

The read (layout, then describe, list of sessions and list of configurations in parallel, each with the drunc
deadline) is kept READ_TTL seconds in the shared cache, so a page load in many tabs costs the session manager
one read (each drunc rpc also publishes broadcasts); Refresh and a finished start or stop read again.

Start and stop need session.manage, are audited (`session.start`, `session.stop`) and run as background jobs: a
real session manager starts or stops a whole session synchronously, which can take longer than a web request
may (their deadline is DRUNC_FSM_TIMEOUT_SECS). The job reads the session manager again and validates what the
dialog confirmed against that fresh answer, never against what the browser sent back.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from dash import Output, ctx, html, no_update

from auth.actions import UserError, caller, guarded_callback
from auth.shapes import In, St, clicks, integer, record, text
from callbacks.notify import notify
from components import sessions_page as ui
from drunc_client.errors import DruncError
from viewmodels import session_manager as vm

READ_TTL = 10.0
READ_KEY = "sm:read:"
START_PLAN = record({"name": text(255), "configuration": text(255)})
STOP_PLAN = record({"session": text(255)})
HIDDEN, SHOWN = {"display": "none"}, {}


def read_session_manager(services, user: str) -> dict:
    """One read of the session manager as viewmodels.session_manager.build_state, asked now."""
    drunc = services.drunc
    read_at = datetime.now(UTC).strftime("%H:%M:%S")
    address = drunc.session_manager_url
    forced = drunc.schema_forced
    if not address:
        return vm.build_state("", None, forced, None, None, None, read_at)
    client = drunc.session_manager(user)
    try:
        layout = client.layout
    except DruncError as exc:
        return vm.build_state(client.address, exc, forced, None, None, None, read_at)

    def answer(call):
        try:
            return call()
        except DruncError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=3) as pool:
        description, sessions, configurations = (
            f.result() for f in [pool.submit(answer, client.describe), pool.submit(answer, client.sessions),
                                 pool.submit(answer, client.configurations)])
    return vm.build_state(client.address, layout, forced, description, sessions, configurations, read_at)


def current_state(services, user: str, *, fresh: bool = False) -> dict:
    """The last read when younger than READ_TTL (shared by every tab and worker), else a new one."""
    cache = services.process_feed.cache
    key = READ_KEY + (services.drunc.session_manager_url or "-")
    if not fresh:
        cached = cache.get(key)
        if isinstance(cached, dict):
            return cached
    state = read_session_manager(services, user)
    cache.set(key, state, expire=READ_TTL)
    return state


def _user() -> str:
    return caller().name


def register(app, services) -> None:
    audit = services.audit
    timeout = services.settings.fsm_timeout

    @guarded_callback(
        app, audit,
        Output(ui.SM_LIST, "children"),
        Output(ui.SM_START_CONFIG, "options"),
        Output(ui.SM_STOP_SESSION, "options"),
        Output(ui.SM_ACTIONS, "style"),
        In(ui.SM_LOAD, "n_clicks", clicks),
        In(ui.SM_CHANGED, "data", integer(0)),
        permission="view",
    )
    def session_manager(_refresh, _changed):
        # on load: the shared read; Refresh, or a start / stop that just ended: a new one
        state = current_state(services, _user(), fresh=ctx.triggered_id in (ui.SM_LOAD, ui.SM_CHANGED))
        return (ui.session_manager_view(state), vm.start_options(state), vm.stop_options(state),
                SHOWN if vm.usable(state) else HIDDEN)

    # ------------------------------------------------------------------------------------------- start

    @guarded_callback(
        app, audit,
        Output(ui.SM_START_MODAL, "is_open"),
        Output(ui.SM_START_BODY, "children"),
        Output(ui.SM_START_PLAN, "data"),
        In(ui.SM_START_OPEN, "n_clicks", clicks),
        In(ui.SM_START_CANCEL, "n_clicks", clicks),
        St(ui.SM_START_CONFIG, "value", text(255)),
        St(ui.SM_START_NAME, "value", text(255)),
        prevent_initial_call=True,
    )
    def ask_start(_open, _cancel, configuration, name):
        if ctx.triggered_id != ui.SM_START_OPEN:
            return False, no_update, None
        state = current_state(services, _user())
        try:
            name, entry = vm.check_start(state, name, configuration)
        except vm.InputError as exc:
            raise UserError(str(exc)) from None
        body = [html.P("The session manager starts this session:"),
                ui.confirmation(vm.start_lines(state, name, entry, _user()), "ses-sm-start-targets")]
        return True, body, {"name": name, "configuration": entry["name"]}

    def describe_start(_n=None, plan=None, *_rest):
        plan = plan if isinstance(plan, dict) else {}
        return str(plan.get("name") or "")[:255], {"configuration": str(plan.get("configuration") or "")[:255]}

    @guarded_callback(
        app, audit,
        Output(ui.SM_START_MODAL, "is_open", allow_duplicate=True),
        Output(ui.SM_CHANGED, "data", allow_duplicate=True),
        In(ui.SM_START_GO, "n_clicks", clicks),
        St(ui.SM_START_PLAN, "data", START_PLAN),
        permission="session.manage",
        action="session.start",
        describe=describe_start,
        background=True,
        running=[(Output(ui.SM_START_GO, "disabled"), True, False)],
        prevent_initial_call=True,
    )
    def start_session(note, _n, plan):
        plan = plan or {}
        note.target = str(plan.get("name") or "")
        note.arguments = {"configuration": str(plan.get("configuration") or "")}
        user = _user()
        state = current_state(services, user, fresh=True)
        try:
            name, entry = vm.check_start(state, plan.get("name"), plan.get("configuration"))
        except vm.InputError as exc:
            raise UserError(f"{exc} Nothing was started.") from None
        note.arguments["address"] = state.get("address")
        note.arguments["layout"] = state.get("layout")
        try:
            started = services.drunc.session_manager(user, timeout=timeout).start_session(name, entry["name"])
        except DruncError as exc:
            note.failed(str(exc))
            notify(f"Start session {name}", str(exc), "danger")
            return False, int(time.time() * 1000)
        note.detail = f"started {started.name} from {entry['name']} as {started.actor or user}"
        notify(f"Started session {started.name}", f"From configuration {entry['name']}; actor "
               f"{started.actor or user}.", "success")
        return False, int(time.time() * 1000)

    # -------------------------------------------------------------------------------------------- stop

    @guarded_callback(
        app, audit,
        Output(ui.SM_STOP_MODAL, "is_open"),
        Output(ui.SM_STOP_BODY, "children"),
        Output(ui.SM_STOP_PLAN, "data"),
        In(ui.SM_STOP_OPEN, "n_clicks", clicks),
        In(ui.SM_STOP_CANCEL, "n_clicks", clicks),
        St(ui.SM_STOP_SESSION, "value", text(255)),
        prevent_initial_call=True,
    )
    def ask_stop(_open, _cancel, session):
        if ctx.triggered_id != ui.SM_STOP_OPEN:
            return False, no_update, None
        state = current_state(services, _user())
        try:
            entry = vm.check_stop(state, session)
        except vm.InputError as exc:
            raise UserError(str(exc)) from None
        body = [html.P("The session manager stops this session:"),
                ui.confirmation(vm.stop_lines(state, entry), "ses-sm-stop-targets")]
        return True, body, {"session": entry["name"]}

    def describe_stop(_n=None, plan=None, *_rest):
        plan = plan if isinstance(plan, dict) else {}
        return str(plan.get("session") or "")[:255], None

    @guarded_callback(
        app, audit,
        Output(ui.SM_STOP_MODAL, "is_open", allow_duplicate=True),
        Output(ui.SM_CHANGED, "data", allow_duplicate=True),
        In(ui.SM_STOP_GO, "n_clicks", clicks),
        St(ui.SM_STOP_PLAN, "data", STOP_PLAN),
        permission="session.manage",
        action="session.stop",
        describe=describe_stop,
        background=True,
        running=[(Output(ui.SM_STOP_GO, "disabled"), True, False)],
        prevent_initial_call=True,
    )
    def stop_session(note, _n, plan):
        plan = plan or {}
        note.target = str(plan.get("session") or "")
        user = _user()
        state = current_state(services, user, fresh=True)
        try:
            entry = vm.check_stop(state, plan.get("session"))
        except vm.InputError as exc:
            raise UserError(f"{exc} Nothing was stopped.") from None
        note.arguments = {"actor": entry["actor"], "configuration": entry["configuration"],
                          "address": state.get("address"), "layout": state.get("layout")}
        try:
            answer = services.drunc.session_manager(user, timeout=timeout).terminate_session(entry["name"])
        except DruncError as exc:
            note.failed(str(exc))
            notify(f"Stop session {entry['name']}", str(exc), "danger")
            return False, int(time.time() * 1000)
        note.detail = (answer or f"stopped {entry['name']}")[:500]
        notify(f"Stopped session {entry['name']}", answer or "Stopped.", "success")
        return False, int(time.time() * 1000)
