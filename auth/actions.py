"""The one mechanism behind every Dash callback: permission, input shapes, audit, in that order, on the server.

`guarded_callback` registers a callback that
1. checks the logged-in user's permission (a denied call is audited, whatever it is);
2. checks every input against the shape declared next to it (`auth.shapes.In` / `St`): a value of the wrong
   shape is answered with a "bad request" toast, audited for a mutating callback, and the function never runs;
3. for a callback that changes something (it names its `action`): writes an "attempted" audit event *before*
   the function runs, and gives that event the outcome when it ends. If the attempt cannot be written, the
   action does not run and the operator is told so: nothing happens that the trail does not hold.
Each registered function carries `required_permission`, `audit_action` and `input_shapes`, so the tests can
enumerate the app's callbacks and prove every one of them is guarded.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from dash import ctx, hooks, no_update
from dash.exceptions import PreventUpdate
from flask import has_request_context, request
from flask_login import current_user

from auth.shapes import BadShape, check_values, declared_shapes
from store.db import reset_after_fork

log = logging.getLogger(__name__)

CALLER = "rc_caller"  # the custom_data namespace carrying the caller into background jobs


@hooks.custom_data(CALLER)
def _caller_in_request(_context) -> dict:
    """Runs in the request before every callback (hooks are process-global: this module registers it once, at
    import). A background callback's job is a forked process: it reads the caller from here, never from the
    request context it may have inherited from the forking thread."""
    user = current_user
    authenticated = bool(user and user.is_authenticated)
    return {"name": user.name if authenticated else "", "pid": os.getpid(),
            "permissions": sorted(user.permissions) if authenticated else [],
            "address": (request.remote_addr or "") if has_request_context() else ""}


def _captured() -> dict | None:
    try:
        data = (ctx.custom_data or {}).get(CALLER)
    except Exception:  # no callback context at all (a stray call)
        return None
    return data if isinstance(data, dict) else None


def in_background_job() -> bool:
    """True in a background callback's job: the caller was captured by another process (the request's)."""
    data = _captured()
    return data is not None and data.get("pid") != os.getpid()


@dataclass(frozen=True)
class Caller:
    name: str
    permissions: frozenset[str]
    address: str
    authenticated: bool

    def can(self, permission: str | None) -> bool:
        return self.authenticated and (permission is None or permission in self.permissions)


def caller() -> Caller:
    """Who is calling: the logged-in user in a request, or the one the request captured for a background job."""
    if has_request_context() and not in_background_job():
        user = current_user
        if not user.is_authenticated:
            return Caller("", frozenset(), request.remote_addr or "", False)
        return Caller(user.name, frozenset(user.permissions), request.remote_addr or "", True)
    data = _captured()
    if data is None or not data.get("name"):
        return Caller("", frozenset(), "", False)
    return Caller(str(data["name"]), frozenset(data.get("permissions") or ()), str(data.get("address") or ""), True)


class PermissionDenied(Exception):
    def __init__(self, permission: str, action: str):
        super().__init__(f"{action} needs the permission {permission}")
        self.permission = permission
        self.action = action


class UserError(Exception):
    """A refusal the operator can act on (bad input, a conflict); its text is shown as is."""


class BadRequest(Exception):
    """The browser sent an input of the wrong shape (a stale or forged page); nothing was done."""


class AuditUnavailable(Exception):
    """The audit trail could not be written before an action: the action was not run."""


@dataclass
class AuditNote:
    """What the callback tells the audit trail about the call it is handling."""

    target: str = ""
    arguments: dict | None = None
    outcome: str = "ok"
    detail: str = ""
    skip: bool = False  # nothing happened (for example a form opened, not submitted): write no event
    action: str | None = None  # a finer name than the callback's, when one callback serves several actions

    def failed(self, detail: str) -> None:
        self.outcome, self.detail = "failed", detail


def client_address() -> str:
    return caller().address


def guarded_callback(
    app,
    audit,
    *args,
    permission: str | None = "view",
    action: str | None = None,
    describe: Callable[..., tuple[str, dict | None]] | None = None,
    **kwargs,
):
    """Like `app.callback`, with the permission, the input shapes and (for actions) the audit checked on the server.

    Every Input and State must be declared with its shape (`In(id, prop, shape)`, `St(id, prop, shape)`).
    A mutating function receives an `AuditNote` as its first argument, before the callback's (cleaned) values.
    `describe(*values)` gives the target and arguments (and optionally a finer action name) recorded for a
    denied or malformed call; it receives the values as sent. `permission=None` means "any logged-in user"
    (navigation, for instance); the login guard has already refused everybody else.

    `background=True` (with the app's background callback manager) runs the function in a forked job, with the
    same checks in the same order: the job has no request, so the caller is the one the request captured
    (`caller()`), the database pool is reset after the fork, and a refusal or an error becomes its toast in the
    job (the app's `on_error`) instead of an exception the request process would only see as text. With
    `progress=[...]`, a mutating function receives `set_progress` right after its `AuditNote`.
    """
    shapes = declared_shapes(args)
    background = bool(kwargs.get("background"))
    with_progress = background and kwargs.get("progress") is not None

    def decorator(fn):
        name = action or f"read:{fn.__name__}"

        def checked(values: tuple):
            set_progress = None
            if with_progress:
                set_progress, *rest = values
                values = tuple(rest)
            user = caller()
            if not user.can(permission):
                target, arguments, denied_action = _describe_safely(describe, values)
                _record_safely(audit, user.name, denied_action or name, target=target, arguments=arguments,
                               outcome="denied", detail=f"missing permission {permission}")
                raise PermissionDenied(permission, name)
            try:
                values = check_values(shapes, values)
            except BadShape as exc:
                if action is not None:
                    target, arguments, finer = _describe_safely(describe, values)
                    _record_safely(audit, user.name, finer or action, target=target, arguments=arguments,
                                   outcome="failed", detail=f"bad request: {exc}")
                raise BadRequest(str(exc)) from None
            extra = (set_progress,) if with_progress else ()
            if action is None:
                return fn(*extra, *values)
            target, arguments, _finer = _describe_safely(describe, values)
            return _run_audited(audit, fn, user.name, action, extra + values, target, arguments)

        @functools.wraps(fn)
        def wrapper(*values):
            if not background or not in_background_job():
                return checked(values)
            # In the job: a forked process. Pooled connections must not cross the fork.
            reset_after_fork(audit.db)
            try:
                return checked(values)
            except PreventUpdate:
                raise
            except Exception as exc:  # the request process would only get the text: toast it from here
                handler = getattr(app, "_on_error", None)
                if handler is None:
                    raise
                handler(exc)
                return no_update

        wrapper.required_permission = permission
        wrapper.audit_action = action
        wrapper.input_shapes = shapes
        wrapper.background = background
        app.callback(*args, **kwargs)(wrapper)
        return fn

    return decorator


def _run_audited(audit, fn, username: str, action: str, values: tuple, target: str, arguments: dict | None):
    address = client_address()
    try:
        event_id = audit.record(username, action, target=target, arguments=arguments, outcome="attempted",
                                address=address)
    except Exception as exc:
        log.error("the audit trail cannot be written: %s was not run", action, exc_info=exc)
        raise AuditUnavailable(action) from None
    note = AuditNote()
    try:
        result = fn(note, *values)
    except UserError as exc:
        note.outcome, note.detail = "failed", str(exc)
        raise
    except PermissionDenied as exc:
        note.outcome, note.detail = "denied", str(exc)
        raise
    except Exception as exc:
        note.outcome, note.detail = "error", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        try:
            if note.skip and note.outcome == "ok":  # nothing happened; a refusal is still recorded
                audit.discard(event_id)
            else:
                audit.complete(event_id, note.outcome, target=note.target or None, arguments=note.arguments,
                               detail=note.detail, action=note.action)
        except Exception:  # the action ran: its toast must still reach the operator; the row stays "attempted"
            log.error("could not record the outcome of audit event %s (%s)", event_id, action, exc_info=True)
    return result


def _record_safely(audit, username: str, action: str, **fields) -> None:
    """A refusal is written when possible; a refusal that cannot be written is still a refusal."""
    try:
        audit.record(username, action, address=client_address(), **fields)
    except Exception:
        log.error("could not audit a refused %s call", action, exc_info=True)


def _describe_safely(describe, values) -> tuple[str, dict | None, str | None]:
    """`describe` returns (target, arguments) or (target, arguments, finer action name)."""
    if describe is None:
        return "", None, None
    try:
        described = tuple(describe(*values))
        return (described + (None,))[:3] if len(described) == 2 else described[:3]
    except Exception:  # forged calls carry any shape of values; the denial must still be written
        log.warning("could not describe a denied call", exc_info=True)
        return "", None, None
