"""Audit trail: who did what, when, to what, and how it ended."""

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.grid import data_grid
from pages.context import PageContext

USER = "audit-user"
ACTION = "audit-action"
OUTCOME = "audit-outcome"
PERIOD = "audit-period"
SINCE = "audit-since"
UNTIL = "audit-until"
REFRESH = "audit-refresh"
GRID = "audit-grid"
STATUS = "audit-status"
TICK = "audit-tick"

PERIODS = {"1h": "Last hour", "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days", "all": "All time"}

COLUMNS = [
    {"field": "time", "headerName": "Time (UTC)", "minWidth": 170, "sort": "desc"},
    {"field": "username", "headerName": "User", "minWidth": 100},
    {"field": "action", "headerName": "Action", "minWidth": 140},
    {"field": "target", "headerName": "Target", "minWidth": 160, "tooltipField": "target"},
    {
        "field": "outcome",
        "headerName": "Outcome",
        "minWidth": 90,
        "cellClassRules": {
            "text-success": "params.value == 'ok'",
            "text-danger fw-semibold": "params.value == 'denied' || params.value == 'error'",
            "text-warning": "params.value == 'failed'",
            # an action whose end was never recorded: it started, and nobody knows how it ended
            "text-info fst-italic": "params.value == 'attempted'",
        },
    },
    {"field": "detail", "headerName": "Detail", "minWidth": 200, "tooltipField": "detail"},
    {"field": "arguments", "headerName": "Arguments", "minWidth": 160, "tooltipField": "arguments"},
    {"field": "address", "headerName": "Address", "minWidth": 110},
]


def layout(ctx: PageContext):
    filters = dbc.Row(
        [
            dbc.Col([dbc.Label("User", html_for=USER), dcc.Dropdown(id=USER, placeholder="Any user")], md=2),
            dbc.Col([dbc.Label("Action", html_for=ACTION), dcc.Dropdown(id=ACTION, placeholder="Any action")], md=2),
            dbc.Col(
                [
                    dbc.Label("Outcome", html_for=OUTCOME),
                    dcc.Dropdown(
                        id=OUTCOME,
                        options=[{"label": o, "value": o} for o in ("ok", "failed", "denied", "error", "attempted")],
                        placeholder="Any outcome",
                    ),
                ],
                md=2,
            ),
            dbc.Col(
                [
                    dbc.Label("Period", html_for=PERIOD),
                    dcc.Dropdown(id=PERIOD, options=[{"label": v, "value": k} for k, v in PERIODS.items()],
                                 value="24h", clearable=False),
                ],
                md=2,
            ),
            dbc.Col(
                [dbc.Label("From (UTC)", html_for=SINCE),
                 dbc.Input(id=SINCE, placeholder="YYYY-MM-DD HH:MM", debounce=True)],
                md=2,
            ),
            dbc.Col(
                [dbc.Label("To (UTC)", html_for=UNTIL),
                 dbc.Input(id=UNTIL, placeholder="YYYY-MM-DD HH:MM", debounce=True)],
                md=2,
            ),
        ],
        class_name="g-2 mb-2 align-items-end",
    )
    return html.Div(
        [
            html.H1("Audit", className="h3"),
            html.P(
                "Every login, logout and action, allowed or refused. Times are UTC.", className="text-body-secondary"
            ),
            filters,
            html.Div(
                [dbc.Button("Refresh", id=REFRESH, color="secondary", size="sm", class_name="me-2"),
                 html.Span(id=STATUS, className="small rc-muted-time")],
                className="mb-2 d-flex align-items-center",
            ),
            data_grid(GRID, COLUMNS, row_id="id", dashGridOptions={"tooltipShowDelay": 300}),
            dcc.Interval(id=TICK, interval=15_000),
        ]
    )
