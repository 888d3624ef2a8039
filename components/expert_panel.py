"""The Controller page's expert section (druncschema 0.11 only): recompute_status and execute_expert_command.
Rendered only for holders of `controller.expert`; contents and behaviour: callbacks/controller_expert.py."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

PERMISSION = "controller.expert"
PANEL = "ctl-expert-panel"
TICK = "ctl-expert-tick"
WHY = "ctl-expert-why"
RECOMPUTE = "ctl-expert-recompute"
JSON = "ctl-expert-json"  # the expert command, as JSON text
SEND = "ctl-expert-send"
CONFIRM = "ctl-expert-confirm"
CONFIRM_TITLE = "ctl-expert-confirm-title"
CONFIRM_BODY = "ctl-expert-confirm-body"
CONFIRM_OK = "ctl-expert-confirm-ok"
CONFIRM_CANCEL = "ctl-expert-confirm-cancel"
PENDING = "ctl-expert-pending"  # {"action": "recompute" | "expert", "json": text, "n": ms}: awaiting confirmation
TICK_MS = 3000
MAX_JSON = 10_000


def expert_panel(ctx):
    if not ctx.can(PERMISSION):
        return html.Div(id=PANEL, hidden=True)  # not even shown: the server refuses these calls anyway
    modal = dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle(id=CONFIRM_TITLE)),
            dbc.ModalBody(id=CONFIRM_BODY),
            dbc.ModalFooter([
                dbc.Button("Cancel", id=CONFIRM_CANCEL, color="secondary", outline=True),
                dbc.Button("Confirm", id=CONFIRM_OK, color="danger"),
            ]),
        ],
        id=CONFIRM, is_open=False, backdrop="static",
    )
    return dbc.Card(
        [
            dbc.CardHeader(html.Span("Expert (druncschema 0.11)", className="fw-semibold"),
                           class_name="py-1 px-2"),
            dbc.CardBody(
                [
                    html.Div(id=WHY, className="small text-body-secondary mb-2"),
                    dbc.Button("Recompute status…", id=RECOMPUTE, color="danger", outline=True, size="sm",
                               disabled=True, class_name="mb-2"),
                    dbc.Textarea(id=JSON, placeholder='expert command as JSON, e.g. {"command": "..."}',
                                 maxlength=MAX_JSON, rows=3, size="sm", class_name="font-monospace"),
                    dbc.Button("Send expert command…", id=SEND, color="danger", outline=True, size="sm",
                               disabled=True, class_name="mt-1"),
                ],
                class_name="p-2",
            ),
            modal,
            dcc.Interval(id=TICK, interval=TICK_MS),
            dcc.Store(id=PENDING),
        ],
        id=PANEL,
        class_name="mt-3 border-danger-subtle",
    )
