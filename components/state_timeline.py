"""Each node's state over the last hour or the current run (Plotly, served locally by Dash from the venv).
Only this page places a dcc.Graph: the Process Manager page never loads plotly.js."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.choices import button_choices

PANEL = "ctl-timeline-panel"
GRAPH = "ctl-timeline-graph"
WINDOW = "ctl-timeline-window"  # "hour" | "run"
LANES = "ctl-timeline-lanes"  # "controllers" | "all"
NOTE = "ctl-timeline-note"
TICK = "ctl-timeline-tick"
TICK_MS = 10_000
WINDOWS = (("hour", "last hour"), ("run", "current run"))
LANE_CHOICES = (("controllers", "root and controllers"), ("all", "all nodes"))


def timeline_panel():
    controls = html.Div(
        [
            button_choices(WINDOW, [{"label": label, "value": v} for v, label in WINDOWS], "hour",
                           "rc-timeline-window"),
            button_choices(LANES, [{"label": label, "value": v} for v, label in LANE_CHOICES], "controllers",
                           "rc-timeline-lanes ms-3"),
            html.Span("", id=NOTE, className="small text-body-secondary ms-3"),
        ],
        className="d-flex align-items-center flex-wrap mb-1",
    )
    graph = dcc.Graph(id=GRAPH, figure={"data": [], "layout": {"height": 160}},
                      config={"displaylogo": False, "responsive": True,
                              "modeBarButtonsToRemove": ["lasso2d", "select2d"]})
    return dbc.Card(
        [
            dbc.CardHeader(html.Span("State timeline", className="fw-semibold"), class_name="py-1 px-2"),
            dbc.CardBody([controls, graph, dcc.Interval(id=TICK, interval=TICK_MS)], class_name="p-2"),
        ],
        id=PANEL,
        class_name="mt-3",
    )
