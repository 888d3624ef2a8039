"""Controller: the session's live tree, the run banner and history, the FSM, control, include/exclude, errors.

Each part is a component module with its own ids and callbacks module; this page only places them.
"""

import dash_bootstrap_components as dbc
from dash import dcc, html

from components import (
    control_panel,
    controller_session,
    controller_tree,
    expert_panel,
    fsm_panel,
    message_panel,
    run_panel,
    state_timeline,
)
from components import controller_ids as ids
from pages.context import PageContext

MESSAGES = "ctl-msg"  # the session's controller broadcasts and ERS issues (callbacks/message_panel.PANELS)


def layout(ctx: PageContext):
    view = controller_session.view_from_query(ctx.query, ctx.settings.csc_session)
    return html.Div(
        [
            controller_session.header(view),
            run_panel.run_banner(),
            control_panel.errors_panel(),
            dbc.Row(
                [
                    dbc.Col([controller_tree.tree_panel(view)], xl=7, lg=7),
                    dbc.Col([fsm_panel.fsm_panel(ctx), control_panel.control_panel(ctx),
                             expert_panel.expert_panel(ctx)], xl=5, lg=5),
                ],
                class_name="g-3",
            ),
            dbc.Row(
                [
                    dbc.Col(run_panel.run_history(), xl=7, lg=7),
                    dbc.Col(message_panel.message_panel(MESSAGES, "Session messages"), xl=5, lg=5),
                ],
                class_name="g-3 mt-1",
            ),
            state_timeline.timeline_panel(),
            dcc.Store(id=ids.SESSION, data=view.session),
            dcc.Store(id=ids.PERMS, data={"command": ctx.can("controller.command"),
                                          "take_control": ctx.can("controller.take_control")}),
            dcc.Store(id=ids.CHANGED, data=0),
        ]
    )
