"""Process Manager: the live process table with its actions, boot, logs and the process-manager messages."""

import dash_bootstrap_components as dbc
from dash import html

from components import boot_form, log_viewer, message_panel, process_table
from pages.context import PageContext
from viewmodels.processes import view_from_query

MESSAGES = "pm-msg"  # the message panel's id prefix (callbacks/message_panel.PANELS has its filter)


def layout(ctx: PageContext):
    view = view_from_query(ctx.query)  # a link carries the filters, the quick search and the refresh rate
    header = html.Div(
        [
            html.H1("Process Manager", className="h3 mb-0 me-4"),
            process_table.status_line(),
            html.Div(process_table.refresh_picker(view.refresh), className="ms-auto"),
        ],
        className="d-flex align-items-center flex-wrap mb-2",
    )
    toolbar = html.Div(
        [
            process_table.action_bar(ctx.permissions),
            html.Div(boot_form.boot_button(ctx), className="me-2"),
            dbc.Input(id=process_table.QUICK, type="search", placeholder="Search all columns…", debounce=300,
                      value=view.quick,
                      size="sm", class_name="rc-quick-search"),
        ],
        className="d-flex align-items-center flex-wrap gap-2 mb-2 justify-content-between",
    )
    return html.Div(
        [
            header,
            dbc.Alert(id=process_table.BANNER, is_open=False, color="danger", class_name="py-2"),
            dbc.Row(
                [
                    dbc.Col([toolbar, process_table.process_grid(ctx.can("process.logs"), view)], xl=9, lg=8),
                    dbc.Col(message_panel.message_panel(MESSAGES, "Process manager messages"), xl=3, lg=4),
                ],
                class_name="g-3",
            ),
            process_table.confirm_modal(),
            process_table.terminate_modal(),
            boot_form.boot_modal(ctx),
            log_viewer.log_panel(ctx),
            *process_table.stores(ctx.permissions, view.refresh),
        ]
    )
