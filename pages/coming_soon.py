"""Pages that later work fills; each says what it will hold so the navigation already makes sense."""

import dash_bootstrap_components as dbc
from dash import html

from pages.context import PageContext


def _soon(title: str, what: str):
    return html.Div(
        [
            html.H1(title, className="h3"),
            dbc.Alert([html.Strong("Coming soon. "), what], color="secondary", id="coming-soon"),
        ]
    )


def sessions(ctx: PageContext):
    return _soon("Sessions", "Active sessions, their actors and the available configurations.")
