"""Control (who is in charge of each controller, take control, surrender), include/exclude of a node on its own
controller, and the nodes in error with the recovery drunc allows (0.10.x, or a 0.11 root addressing the node).
Contents and behaviour: callbacks/controller_control.py; these are the frames and ids."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.guarded import guarded_button

PANEL = "ctl-control-panel"
NODE = "ctl-ctrl-node"  # dcc.Dropdown: the chosen node's path
WHO = "ctl-ctrl-who"  # who is in charge, per controller
SELECTED = "ctl-ctrl-selected"  # the chosen node's line
WHY = "ctl-ctrl-why"  # why buttons are disabled / what a command would meet
TAKE = "ctl-ctrl-take"
SURRENDER = "ctl-ctrl-surrender"
INCLUDE = "ctl-ctrl-include"
EXCLUDE = "ctl-ctrl-exclude"
TICK = "ctl-ctrl-tick"
SHOWN = "ctl-ctrl-shown"  # signature of what the tab shows
CONFIRM = "ctl-ctrl-confirm"
CONFIRM_TITLE = "ctl-ctrl-confirm-title"
CONFIRM_BODY = "ctl-ctrl-confirm-body"
CONFIRM_OK = "ctl-ctrl-confirm-ok"
CONFIRM_CANCEL = "ctl-ctrl-confirm-cancel"
PENDING = "ctl-ctrl-pending"  # {"action", "path", "name", "n"} waiting for the confirmation
GO_CONTROL = "ctl-ctrl-go-control"  # take / surrender requests, confirmed or needing no confirmation
GO_INCLUSION = "ctl-ctrl-go-inclusion"  # include / exclude requests, confirmed
ERRORS = "ctl-errors-panel"
ERRORS_BODY = "ctl-errors-body"
TICK_MS = 2000


def control_panel(ctx):
    perms = frozenset(p for p in ("controller.take_control", "controller.command") if ctx.can(p))
    buttons = html.Div(
        [
            guarded_button(TAKE, "Take control", "controller.take_control", perms, color="primary", size="sm",
                           disabled=True, class_name="me-1"),
            guarded_button(SURRENDER, "Surrender", "controller.take_control", perms, color="secondary",
                           outline=True, size="sm", disabled=True, class_name="me-3"),
            guarded_button(EXCLUDE, "Exclude…", "controller.command", perms, color="warning", outline=True,
                           size="sm", disabled=True, class_name="me-1"),
            guarded_button(INCLUDE, "Include…", "controller.command", perms, color="success", outline=True,
                           size="sm", disabled=True),
        ],
        className="d-flex flex-wrap align-items-center mt-2",
    )
    modal = dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle(id=CONFIRM_TITLE)),
            dbc.ModalBody(id=CONFIRM_BODY),
            dbc.ModalFooter([
                dbc.Button("Cancel", id=CONFIRM_CANCEL, color="secondary", outline=True),
                dbc.Button("Confirm", id=CONFIRM_OK, color="primary"),
            ]),
        ],
        id=CONFIRM,
        is_open=False,
        scrollable=True,
    )
    return dbc.Card(
        [
            dbc.CardHeader(html.Span("Control", className="fw-semibold"), class_name="py-1 px-2"),
            dbc.CardBody(
                [
                    html.Div(id=WHO, className="small mb-2"),
                    dcc.Dropdown(id=NODE, options=[], value=None, clearable=False, placeholder="Choose a node…",
                                 className="rc-ctrl-node"),
                    html.Div(id=SELECTED, className="small mt-1"),
                    buttons,
                    html.Div(id=WHY, className="small text-body-secondary mt-1"),
                ],
                class_name="p-2",
            ),
            modal,
            dcc.Interval(id=TICK, interval=TICK_MS),
            dcc.Store(id=SHOWN),
            dcc.Store(id=PENDING),
            dcc.Store(id=GO_CONTROL),
            dcc.Store(id=GO_INCLUSION),
        ],
        id=PANEL,
        class_name="mt-3",
    )


def errors_panel():
    """Filled only while some node is in error (an empty Div otherwise)."""
    return html.Div(html.Div(id=ERRORS_BODY), id=ERRORS)
