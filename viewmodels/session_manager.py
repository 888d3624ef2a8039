"""The session manager as the Sessions page shows it: pure functions, no Dash, no gRPC.

A read of the session manager (its layout, `describe`, its sessions, its configurations; each an answer or the
error it raised) becomes one JSON-safe `state` dict that the panel renders and that the start and stop dialogs
read back (from a dcc.Store, re-validated here): what it is, whether it can be used, and why not.

Statuses: "none" (no SESSION_MANAGER_URL), "unreachable" (nothing answers: drunc 0.10.x ships no session
manager), "not_usable" (drunc 0.13.x's bug: `describe` / `list_all_sessions` answer gRPC UNKNOWN), "error" (it
answered with a refusal or a payload we cannot read), "ok" (it answers: start and stop are offered).
"""

from __future__ import annotations

from drunc_client.errors import BackendUnavailable, DruncError, SessionManagerNotUsable
from viewmodels.configurations import SESSION
from viewmodels.layouts import layout_text

NOT_USABLE = "session manager not usable (drunc 0.13.x)"
NOT_USABLE_WHY = ("drunc 0.13.2 answers describe and list_all_sessions with gRPC UNKNOWN (a server bug: the "
                  "handlers take the wrong arguments; the same code is in 0.14.0), and does not implement "
                  "start_session, stop_session or load_config. Boot sessions from a saved configuration above, "
                  "or from the Process Manager.")
MAX_LISTED = 500  # a session manager listing more is cut: the page stays small


class InputError(ValueError):
    """A start or stop the operator asked for that cannot be sent; the text says why."""


def _error_text(exc: BaseException) -> str:
    return str(exc).strip()[:300] or type(exc).__name__


def _session(s) -> dict:
    return {"name": str(s.name), "actor": str(s.actor or ""), "configuration": str(getattr(s, "configuration", "")),
            "file": str(getattr(s, "configuration_file", ""))}


def _configuration(c) -> dict:
    return {"name": str(c.name), "location": str(c.location or ""), "kind": str(c.kind or ""),
            "version": str(c.version or "")}


def build_state(address: str, layout, forced: bool, description, sessions, configurations, read_at: str) -> dict:
    """One read as the panel's state. `layout`, `description`, `sessions` and `configurations` are each the
    client's answer or the DruncError it raised (`layout` may also be None: not asked)."""
    state = {"status": "ok", "address": address, "layout": "", "forced": forced, "description": None,
             "sessions": None, "configurations": None, "errors": {}, "read_at": read_at}
    if not address:
        return {**state, "status": "none"}
    if isinstance(layout, BaseException):
        state["errors"]["layout"] = _error_text(layout)
        return {**state, "status": "unreachable" if isinstance(layout, BackendUnavailable) else "error"}
    state["layout"] = layout or ""
    answers = {"describe": description, "sessions": sessions, "configurations": configurations}
    for key, answer in answers.items():
        if isinstance(answer, BaseException):
            state["errors"][key] = _error_text(answer)
    if not isinstance(description, BaseException) and description is not None:
        state["description"] = {"name": str(description.name), "type": str(description.type),
                                "session": str(description.session or ""),
                                "commands": [str(c) for c in description.commands]}
    if isinstance(sessions, list):
        state["sessions"] = [_session(s) for s in sessions[:MAX_LISTED]]
    if isinstance(configurations, list):
        state["configurations"] = [_configuration(c) for c in configurations[:MAX_LISTED]]
    core = (description, sessions)
    if any(isinstance(a, SessionManagerNotUsable) for a in core):
        state["status"] = "not_usable"
    elif all(isinstance(a, BackendUnavailable) for a in core):
        state["status"] = "unreachable"
    elif any(isinstance(a, DruncError) for a in core):
        state["status"] = "error"
    return state


def usable(state) -> bool:
    return isinstance(state, dict) and state.get("status") == "ok"


def headline(state: dict) -> tuple[str, str, str]:
    """(badge colour, badge text, sentence) of the panel's first line."""
    status, address = state.get("status"), state.get("address") or ""
    errors = state.get("errors") or {}
    if status == "none":
        return ("secondary", "not configured", "No session manager is configured (SESSION_MANAGER_URL is empty): "
                "drunc 0.10.x ships none.")
    if status == "unreachable":
        reason = errors.get("layout") or errors.get("describe") or errors.get("sessions") or ""
        return ("secondary", "not answering", f"Nothing answers at {address}. drunc 0.10.x (DUNE fddaq-v5.1.0) "
                "ships no session manager; 0.13.x and 0.14.0 start one with drunc-session-manager."
                + (f" ({reason})" if reason else ""))
    if status == "not_usable":
        return "warning", NOT_USABLE, NOT_USABLE_WHY
    if status == "error":
        first = next(iter(errors.values()), "")
        return "danger", "error", f"{address}: {first}"
    description = state.get("description") or {}
    name = description.get("name") or "session manager"
    return "success", "answers", f"{name} at {address}"


def session_rows(state: dict) -> list[dict] | None:
    """The sessions to list (name, actor, configuration), None when they could not be read."""
    sessions = state.get("sessions")
    if sessions is None:
        return None
    reported = state.get("layout") == "0.11"
    return [{"name": s["name"], "actor": s["actor"] or "nobody",
             "configuration": (s["configuration"] + (f" ({s['file']})" if s["file"] else "")) if s["configuration"]
             else ("none" if reported else "not reported (druncschema 0.8)")} for s in sessions]


def configuration_rows(state: dict) -> list[dict] | None:
    configurations = state.get("configurations")
    if configurations is None:
        return None
    return [{"name": c["name"], "location": c["location"] or "—",
             "kind": c["kind"] + (f" v{c['version']}" if c["version"] else "")} for c in configurations]


def configurations_note(state: dict) -> str:
    """Why the configurations are not listed, when they are not."""
    error = (state.get("errors") or {}).get("configurations", "")
    if state.get("configurations") is not None or not error:
        return ""
    if "not usable" in error:
        return "list_all_configs is not implemented by this session manager (drunc 0.13.2; 0.14.0 serves it)."
    return f"Configurations not listed: {error}"


def start_options(state: dict) -> list[dict]:
    return [{"label": c["name"] + (f" · {c['location']}" if c["location"] else ""), "value": c["name"]}
            for c in (state.get("configurations") or [])]


def stop_options(state: dict) -> list[dict]:
    return [{"label": f"{s['name']} · {s['actor'] or 'nobody'}", "value": s["name"]}
            for s in (state.get("sessions") or [])]


def check_start(state, name, configuration) -> tuple[str, dict]:
    """(session name, the configuration's listed entry) of a start the session manager can be asked for."""
    if not usable(state):
        raise InputError("The session manager does not answer as it should: nothing can be started. Refresh it.")
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise InputError("Give the new session a name.")
    if not SESSION.match(name):
        raise InputError("A session name is letters, digits, '.', '_' or '-', starting with a letter or digit "
                         "(at most 255).")
    if any(s["name"] == name for s in state.get("sessions") or []):
        raise InputError(f"The session manager already runs a session named {name}.")
    entry = next((c for c in state.get("configurations") or [] if c["name"] == configuration), None)
    if entry is None:
        raise InputError("Choose one of the session manager's configurations." if not configuration else
                         f"{configuration} is not one of the session manager's configurations (refresh it).")
    return name, entry


def check_stop(state, name) -> dict:
    """The listed session a stop acts on."""
    if not usable(state):
        raise InputError("The session manager does not answer as it should: nothing can be stopped. Refresh it.")
    entry = next((s for s in state.get("sessions") or [] if s["name"] == name), None)
    if entry is None:
        raise InputError("Choose one of the session manager's sessions." if not name else
                         f"{name} is not one of the session manager's sessions (refresh it).")
    return entry


def start_lines(state: dict, name: str, configuration: dict, user: str) -> list[str]:
    """What the start confirmation lists."""
    where = f" ({configuration['location']})" if configuration.get("location") else ""
    return [f"Session: {name}", f"Configuration: {configuration['name']}{where}",
            f"Actor: {user} (the session manager records who started it)",
            f"Session manager: {state.get('address')} · {layout_text(state.get('layout'), state.get('forced'))}"]


def stop_lines(state: dict, session: dict) -> list[str]:
    configuration = session.get("configuration") or "not reported"
    return [f"Session: {session['name']}", f"Actor: {session.get('actor') or 'nobody'}",
            f"Configuration: {configuration}",
            f"Session manager: {state.get('address')} · {layout_text(state.get('layout'), state.get('forced'))}"]
