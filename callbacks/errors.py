"""The global callback error handler: a toast for the operator, the details for the server log only."""

from __future__ import annotations

import logging
import secrets

from auth.actions import AuditUnavailable, BadRequest, PermissionDenied, UserError
from callbacks.notify import notify

log = logging.getLogger("runcontrol.callbacks")


def on_callback_error(error: Exception):
    if isinstance(error, PermissionDenied):
        notify("Not allowed", f"{error.action} needs the permission “{error.permission}”. Nothing was done.",
               "danger")
    elif isinstance(error, UserError):
        notify("Not done", str(error), "warning")
    elif isinstance(error, BadRequest):
        # A stale or forged page: the detail helps a developer, the operator only needs to reload.
        log.warning("bad request refused: %s", error)
        notify("Bad request", "The page sent something this action cannot take, so nothing was done. "
               "Reload the page if this keeps happening.", "warning")
    elif isinstance(error, AuditUnavailable):
        notify("Not done", "The audit trail cannot be written right now (is the database reachable?), so "
               f"{error} was not run. Try again in a moment.", "danger")
    else:
        ref = secrets.token_hex(4)
        log.error("callback failed (ref %s)", ref, exc_info=error)
        notify("Server error", f"Something went wrong on the server (reference {ref}). "
               "The details are in the server log.", "danger")
    # Returning None leaves every output of the failed callback unchanged.
    return None
