"""The one mechanism behind every Dash callback: check the permission on the server, run, audit.

`guarded_callback` registers a callback that first checks the logged-in user's permission. A callback that
changes something names its `action`: every call of it, allowed or denied, succeeded or failed, is written to
the audit trail. A read-only callback names no action: it is only checked, and a denied call is audited.
Each registered function carries `required_permission` and `audit_action`, so the tests can enumerate the
app's callbacks and prove every one of them is guarded.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import has_request_context, request
from flask_login import current_user

log = logging.getLogger(__name__)


class PermissionDenied(Exception):
    def __init__(self, permission: str, action: str):
        super().__init__(f"{action} needs the permission {permission}")
        self.permission = permission
        self.action = action


class UserError(Exception):
    """A refusal the operator can act on (bad input, a conflict); its text is shown as is."""


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
    return (request.remote_addr or "") if has_request_context() else ""


def guarded_callback(
    app,
    audit,
    *args,
    permission: str | None = "view",
    action: str | None = None,
    describe: Callable[..., tuple[str, dict | None]] | None = None,
    **kwargs,
):
    """Like `app.callback`, with a server-side permission check and, for actions, an audit event.

    A mutating function receives an `AuditNote` as its first argument, before the callback's values.
    `describe(*values)` gives the target and arguments (and optionally a finer action name) recorded for a
    denied call. `permission=None` means
    "any logged-in user" (navigation, for instance); the login guard has already refused everybody else.
    """

    def decorator(fn):
        name = action or f"read:{fn.__name__}"

        @functools.wraps(fn)
        def wrapper(*values):
            user = current_user
            username = getattr(user, "name", "") if user.is_authenticated else ""
            if not (user.is_authenticated and (permission is None or user.can(permission))):
                target, arguments, denied_action = _describe_safely(describe, values)
                audit.record(
                    username,
                    denied_action or name,
                    target=target,
                    arguments=arguments,
                    outcome="denied",
                    detail=f"missing permission {permission}",
                    address=client_address(),
                )
                raise PermissionDenied(permission, name)
            if action is None:
                return fn(*values)
            note = AuditNote()
            try:
                result = fn(note, *values)
            except UserError as exc:
                note.outcome, note.detail = "failed", str(exc)
                raise
            except PermissionDenied:
                raise
            except Exception as exc:
                note.outcome, note.detail = "error", f"{type(exc).__name__}: {exc}"
                raise
            finally:
                if not note.skip:
                    audit.record(
                        username,
                        note.action or action,
                        target=note.target,
                        arguments=note.arguments,
                        outcome=note.outcome,
                        detail=note.detail,
                        address=client_address(),
                    )
            return result

        wrapper.required_permission = permission
        wrapper.audit_action = action
        app.callback(*args, **kwargs)(wrapper)
        return fn

    return decorator


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
