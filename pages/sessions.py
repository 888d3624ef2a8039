"""Sessions: every session live (processes, root, run, who is in charge, errors), one session's detail and
actions, booting from saved configurations, the configurations themselves, and the session manager's lists."""

from urllib.parse import parse_qs

import dash_bootstrap_components as dbc
from dash import dcc, html

from components import boot_configs as cfg
from components import sessions_page as ui
from pages.context import PageContext


def selected_session(query: str) -> str | None:
    values = parse_qs((query or "").lstrip("?")).get("session") or []
    value = values[0].strip() if values else ""
    return value[:255] or None


def layout(ctx: PageContext):
    selected = selected_session(ctx.query)
    return html.Div([
        html.Div([html.H1("Sessions", className="h3 mb-0 me-3"),
                  html.Span(id=ui.STATUS, className="small text-body-secondary")],
                 className="d-flex align-items-baseline mb-2"),
        dbc.Card(dbc.CardBody(html.Div(id=ui.TABLE)), class_name="mb-3"),
        dbc.Row([
            dbc.Col([ui.session_panel(ctx, selected), ui.boot_panel(ctx, []), ui.session_manager_panel(ctx)], xl=6),
            dbc.Col([cfg.configs_panel(ctx)], xl=6),
        ], class_name="g-3"),
        dcc.Interval(id=ui.TICK, interval=2000),
        dcc.Store(id=ui.SHOWN),
    ])
