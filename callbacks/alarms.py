"""The alarms badge in the navbar, on every page: unacknowledged ERROR and FATAL messages, polled every 5 s.

One small indexed count per tab and poll (a partial index holds only the unacknowledged alarms). The newest FATAL
id goes to the browser too, so assets/ui/messages_page.js can beep on a new one when this browser asked for it.
"""

from __future__ import annotations

import logging

from dash import ClientsideFunction, Input, Output, no_update, set_props
from sqlalchemy.exc import SQLAlchemyError

from auth.actions import guarded_callback
from auth.shapes import In, clicks
from components import shell
from store.messages import MessageFilter

log = logging.getLogger("runcontrol.alarms")
LINK = shell.ALARMS + "-link"
_LINK_CLASS = "me-3 text-decoration-none"


def badge(count: int) -> tuple[str, str, str]:
    """(badge text, link class, link title): hidden at zero."""
    if count <= 0:
        return "", _LINK_CLASS + " d-none", ""
    shown = f"{count:,}" if count < 100_000 else "99,999+"
    word = "alarm" if count == 1 else "alarms"
    return f"⚠ {shown}", _LINK_CLASS, f"{count} unacknowledged ERROR and FATAL {word}"


def alarm_state(services) -> dict:
    count = services.acks.unacknowledged_count()
    newest = services.messages.page(MessageFilter(severities=("FATAL",)), limit=1)
    return {"count": int(count), "fatal": newest[0].id if newest else 0}


def push_badge(services) -> None:
    """After an acknowledgement: the badge drops at once, without waiting for the next poll."""
    text, cls, title = badge(alarm_state(services)["count"])
    set_props(shell.ALARMS, {"children": text})
    set_props(LINK, {"className": cls, "title": title})


def register(app, services) -> None:
    @guarded_callback(
        app,
        services.audit,
        Output(shell.ALARMS, "children"),
        Output(LINK, "className"),
        Output(LINK, "title"),
        Output(shell.ALARMS_STATE, "data"),
        In(shell.ALARMS_TICK, "n_intervals", clicks),
        running=[(Output(shell.ALARMS_TICK, "disabled"), True, False)],
        permission="view",
    )
    def poll_alarms(_ticks):
        try:
            state = alarm_state(services)
        except SQLAlchemyError:
            log.warning("alarms badge: the message store failed", exc_info=True)
            return no_update, no_update, "the message store is unreachable", no_update
        text, cls, title = badge(state["count"])
        return text, cls, title, state

    app.clientside_callback(
        ClientsideFunction("rcMessages", "alarm"),
        Output(shell.ALARMS_TICK, "id"),
        Input(shell.ALARMS_STATE, "data"),
    )
