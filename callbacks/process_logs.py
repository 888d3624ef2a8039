"""The process log panel: open from the grid's logs button, read the last N lines, follow, download.

Every drunc call here is bounded (LOG_TIMEOUT, FOLLOW_TIMEOUT), and every failure becomes a sentence in the
panel, never a toast per follow tick. Reading logs changes nothing, so the callbacks are guarded by
process.logs without an audit action (a denied call is still audited).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, Patch, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate
from flask_login import current_user

from auth.actions import UserError, guarded_callback
from auth.shapes import In, St, clicks, integer, list_of, one_of, or_reset, record, text
from components import log_viewer as ids
from components.process_table import GRID
from drunc_client.errors import DruncError
from viewmodels import logs as vm

log = logging.getLogger("runcontrol.logs")

LOG_TIMEOUT = 5.0  # ps, and reading 100 lines (opening, re-reading, downloading)
LINES_PER_EXTRA_SECOND = 2500  # drunc streams one message per line: 10,000 lines get 4 s more
FOLLOW_TIMEOUT = 3.0  # one follow tick (the Interval is stopped while a tick runs)
_MAX_UUID = 128
LINES = one_of(integer(0, 10**6), text(10))
# What the panel keeps between ticks (see full_view): the process, the line count, and the tail it shows.
STATE = or_reset(record({"uuid": text(_MAX_UUID), "name": text(1000), "n": integer(0, 10**6), "count": integer(0),
                "tail": list_of(text(200), 1000), "problem": text(100)}))


def _request_uuid(request) -> str:
    uuid = request.get("uuid") if isinstance(request, dict) else None
    if not isinstance(uuid, str) or not uuid.strip() or len(uuid) > _MAX_UUID:
        raise UserError("No process was given to show the log of.")
    return uuid.strip()


def read_timeout(lines: int) -> float:
    return LOG_TIMEOUT + lines / LINES_PER_EXTRA_SECOND


def _message(problem: vm.LogProblem | None):
    if problem is None:
        return None
    return html.Div(dbc.Alert(problem.message, color=problem.colour, class_name="py-2 mb-2"),
                    className="rc-log-problem", **{"data-problem": problem.kind})


def _now() -> datetime:
    return datetime.now(UTC)


def register(app, services) -> None:
    audit = services.audit

    def client(timeout: float):
        return services.drunc.process_manager(current_user.name, timeout=timeout)

    def read(uuid: str, lines: int, timeout: float) -> tuple[list[str] | None, vm.LogProblem | None]:
        try:
            return client(timeout).logs(uuid, lines=lines, timeout=timeout), None
        except DruncError as exc:
            return None, vm.describe_failure(exc, timeout)
        except Exception as exc:  # noqa: BLE001 - a follow tick must not turn into a toast storm
            log.error("reading the log of %s failed", uuid, exc_info=exc)
            return None, vm.describe_failure(exc, timeout)

    def process_name(uuid: str) -> tuple[str, vm.LogProblem | None]:
        try:
            found = client(LOG_TIMEOUT).ps(uuids=[uuid])
        except DruncError as exc:
            return "", vm.describe_failure(exc, LOG_TIMEOUT)
        if not found:
            return "", vm.unknown_process(uuid)
        return found[0].name, None

    def full_view(state: dict, now: datetime, problem: vm.LogProblem | None = None):
        """Read the last N lines; (children, state, status, message) for a complete re-render."""
        lines = None
        if problem is None:  # a failed ps already tells what is wrong: no second wait on a dead backend
            lines, problem = read(state["uuid"], state["n"], read_timeout(state["n"]))
        if lines is None:
            new_state = {**state, "count": 0, "tail": [], "problem": problem.kind}
            return [], new_state, f"tried {now:%H:%M:%S} UTC", _message(problem)
        new_state = {**state, "count": len(lines), "tail": vm.tail_signature(lines), "problem": None}
        return vm.display_lines(lines), new_state, vm.updated_text(now, len(lines)), _message(problem)

    @guarded_callback(
        app,
        audit,
        Output(ids.PANEL, "is_open"),
        Output(ids.TITLE, "children"),
        Output(ids.PRE, "children"),
        Output(ids.STATE, "data"),
        Output(ids.STATUS, "children"),
        Output(ids.MESSAGE, "children"),
        Output(ids.STUCK, "data"),
        In(ids.REQUEST, "data", record({"uuid": text(_MAX_UUID)})),
        In(ids.LINES, "value", LINES),
        In(ids.RELOAD, "n_clicks", clicks),
        In(ids.INTERVAL, "n_intervals", clicks),
        St(ids.STATE, "data", STATE),
        permission="process.logs",
        prevent_initial_call=True,
        running=[(Output(ids.INTERVAL, "max_intervals"), 0, -1)],  # follow ticks never overlap
        describe=lambda request, *_: (request.get("uuid", "") if isinstance(request, dict) else "", None),
    )
    def show_logs(request, lines_value, _reload, _ticks, state):
        now = _now()
        n = vm.line_count(lines_value)
        trigger = ctx.triggered_id
        if trigger == ids.REQUEST:
            uuid = _request_uuid(request)
            name, problem = process_name(uuid)
            state = {"uuid": uuid, "name": name, "n": n}
            children, state, status, message = full_view(state, now, problem)
            return True, vm.panel_title(name, uuid), children, state, status, message, True
        if not isinstance(state, dict) or not isinstance(state.get("uuid"), str) or not state["uuid"]:
            raise PreventUpdate
        shown_n = state.get("n")
        state = {"uuid": state["uuid"], "name": str(state.get("name") or ""), "n": n,
                 "count": _int(state.get("count")), "tail": _tail(state.get("tail")), "problem": state.get("problem")}
        # A tick that started while a slow re-read was in flight supersedes it (Dash keeps only the newest
        # request of a callback): it notices that the line count shown is not the one chosen, and re-reads.
        if trigger in (ids.LINES, ids.RELOAD) or shown_n != n:
            children, state, status, message = full_view(state, now)
            return no_update, no_update, children, state, status, message, True
        return (no_update, no_update, *follow(state, n, now), no_update)

    def follow(state: dict, n: int, now: datetime):
        """One follow tick: (children, state, status, message), appending only the new lines."""
        fetched, problem = read(state["uuid"], vm.follow_window(n), FOLLOW_TIMEOUT)
        if fetched is None:
            return no_update, {**state, "problem": problem.kind}, f"tried {now:%H:%M:%S} UTC", _message(problem)
        step = vm.follow_step(state["tail"], state["count"], fetched, n)
        cleared = None if state["problem"] else no_update
        if step.kind == "reload":
            return full_view(state, now)
        if step.kind == "none":
            new_state = {**state, "problem": None} if state["problem"] else no_update
            return no_update, new_state, vm.updated_text(now, step.count), cleared
        new_state = {**state, "count": step.count, "tail": list(step.tail), "problem": None}
        if step.kind == "replace":
            return vm.display_lines(step.append), new_state, vm.updated_text(now, step.count), cleared
        patch = Patch()
        for _ in range(step.drop):
            del patch[0]
        patch.extend(vm.display_lines(step.append))
        return patch, new_state, vm.updated_text(now, step.count), cleared

    @guarded_callback(
        app,
        audit,
        Output(ids.DOWNLOAD, "data"),
        In(ids.DOWNLOAD_BUTTON, "n_clicks", clicks),
        St(ids.STATE, "data", STATE),
        St(ids.LINES, "value", LINES),
        permission="process.logs",
        prevent_initial_call=True,
    )
    def download_log(clicks, state, lines_value):
        if not clicks:
            raise PreventUpdate
        uuid = state.get("uuid") if isinstance(state, dict) else None
        if not isinstance(uuid, str) or not uuid:
            raise UserError("Open a process's log first.")
        n = vm.line_count(lines_value)
        lines, problem = read(uuid, n, read_timeout(n))
        if lines is None:
            raise UserError(problem.message)
        return dcc.send_string(vm.log_text(lines), vm.log_filename(str(state.get("name") or ""), uuid),
                               type="text/plain")

    # Only the logs column opens the panel: other cell renderers (copy uuid, ...) never reach the server.
    app.clientside_callback(
        ClientsideFunction("rcLogs", "request"),
        Output(ids.REQUEST, "data"),
        Input(GRID, "cellRendererData"),
        prevent_initial_call=True,
    )
    # Follow runs while the panel is open, follow is on and the operator has not scrolled up.
    app.clientside_callback(
        ClientsideFunction("rcLogs", "follow"),
        Output(ids.INTERVAL, "disabled"),
        Output(ids.HINT, "className"),
        Input(ids.PANEL, "is_open"),
        Input(ids.FOLLOW, "value"),
        Input(ids.STUCK, "data"),
    )
    # After new content or a new search: count the matches, highlight them, scroll down when stuck.
    app.clientside_callback(
        ClientsideFunction("rcLogs", "refresh"),
        Output(ids.MATCHES, "children"),
        Input(ids.STATE, "data"),
        Input(ids.SEARCH, "value"),
        Input(ids.PANEL, "is_open"),
        State(ids.PRE, "children"),
    )


def _int(value) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _tail(value) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str)][-vm.SIGNATURE:]
