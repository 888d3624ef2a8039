"""Messages: every stored broadcast and ERS issue, live or over a time range, with the same filters, counters, a
rate plot, export, an inspector for ERS chains and the acknowledgement of alarms."""

import dash_bootstrap_components as dbc
from dash import html

from components import messages_page as ui
from components.guarded import guarded_button
from pages.context import PageContext
from viewmodels.message_query import state_from_query


def layout(ctx: PageContext):
    state = state_from_query(ctx.query)  # a link carries every filter
    header = html.Div(
        [
            html.H1("Messages", className="h3 mb-0 me-4"),
            ui.export_links(state, ctx.permissions),
            html.Div(
                [
                    guarded_button(ui.ACK_ALL, "Acknowledge all alarms…", "messages.manage", ctx.permissions,
                                      size="sm", color="warning", outline=True),
                    dbc.Switch(id=ui.SOUND, label="Sound on FATAL", value=False, persistence=True,
                               persistence_type="local", class_name="mb-0 ms-3", label_class_name="small"),
                ],
                className="ms-auto d-flex align-items-center",
            ),
        ],
        className="d-flex align-items-center flex-wrap gap-2 mb-2",
    )
    keys = html.Div("Keys: n / p next / previous ERROR or FATAL, Enter opens the inspector, Esc closes it. "
                    "Double-click a row to inspect it.", className="small text-body-secondary mt-1")
    return html.Div(
        [
            header,
            ui.filter_bar(state),
            ui.status_bar(),
            ui.rate_plot(),
            ui.message_grid(),
            keys,
            ui.inspector(ctx.permissions),
            ui.ack_modal(),
            *ui.stores(state),
        ],
        id="messages-page",
    )
