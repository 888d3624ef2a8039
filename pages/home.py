"""Overview: where to go, and what this account may do."""

import dash_bootstrap_components as dbc
from dash import html

from pages.context import PageContext

_CARDS = (
    ("/process-manager", "Process Manager", "Processes on every host: status, restart, kill, flush, boot, logs."),
    ("/controller", "Controller", "The controller tree and its state machine: run transitions, include, exclude."),
    ("/sessions", "Sessions", "Sessions, their actors and configurations."),
    ("/messages", "Messages", "Live drunc broadcasts and ERS errors, filtered and searchable."),
)


def layout(ctx: PageContext):
    cards = [
        dbc.Col(
            dbc.Card(
                dbc.CardBody(
                    [html.H2(title, className="h5"), html.P(text, className="mb-3"),
                     dbc.Button("Open", href=path, color="primary", size="sm")]
                ),
                class_name="rc-home-card h-100",
            ),
            md=6,
            xl=3,
            class_name="mb-3",
        )
        for path, title, text in _CARDS
    ]
    perms = sorted(ctx.permissions)
    return html.Div(
        [
            html.H1("Overview", className="h3"),
            html.P(
                [f"Logged in as {ctx.username}. ", "Your roles: ", html.Strong(", ".join(ctx.roles) or "none"), "."]
            ),
            dbc.Row(cards),
            html.H2("What you may do", className="h6 mt-3"),
            html.Div([html.Code(p, className="rc-perm me-2") for p in perms] or "Nothing yet: ask an administrator."),
        ]
    )
