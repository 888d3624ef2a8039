"""What the Controller page's parts agree on, in one place: the CHANGED bump (its value and the shape every part
reads it with) and who took control when (the audit trail of the control part's take-control action)."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from auth.shapes import integer, or_reset

log = logging.getLogger("runcontrol.controller")

# The CHANGED store (components/controller_ids.CHANGED) holds milliseconds since the epoch, written by any part
# after an action so that every part refreshes at once. Every part reads it with this shape: a value of another
# kind (an older page) is read as missing rather than refused, so no part's tick ever stops on it.
CHANGED = or_reset(integer(0))

# The audit actions of the control part; "in charge since" is read back from TAKE_CONTROL events.
TAKE_CONTROL = "controller.take_control"
SURRENDER_CONTROL = "controller.surrender_control"


def changed_now() -> int:
    """The CHANGED store's next value."""
    return int(time.time() * 1000)


def _covers(taken_path: str, path: str) -> bool:
    """drunc's take_control propagates down: taking a controller makes one the actor of its whole subtree."""
    return path == taken_path or path.startswith(taken_path + "/")


def taken_since(audit, path: str, actor: str) -> datetime | None:
    """When `actor` last took control, through this UI, of the controller at `path` or of one above it (the audit
    trail's TAKE_CONTROL events, whose arguments carry the node's path); None when unknown."""
    if not actor or not path:
        return None
    try:
        for event in audit.query(action=TAKE_CONTROL, outcome="ok", username=actor, limit=50):
            taken = event.arguments.get("path") if isinstance(event.arguments, dict) else None
            if isinstance(taken, str) and taken and _covers(taken, path):
                return event.time
    except SQLAlchemyError:
        log.warning("could not read the audit trail for %s", path, exc_info=True)
    return None
