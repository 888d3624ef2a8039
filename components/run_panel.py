"""The run banner (root state large and coloured, run number and type, "running since", who is in charge) and
the run history. The contents come from callbacks/controller_runs.py; these are the frames and ids."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

BANNER = "ctl-run-banner"
BANNER_BODY = "ctl-run-banner-body"
HISTORY = "ctl-run-history"
HISTORY_BODY = "ctl-run-history-body"
TICK = "ctl-run-tick"
SHOWN = "ctl-run-shown"  # {"banner": signature, "history": signature}: what the tab shows, to send only changes
TICK_MS = 2000


def run_banner():
    return html.Div(
        [
            html.Div(html.Span("loading…", className="text-body-secondary"), id=BANNER_BODY),
            dcc.Interval(id=TICK, interval=TICK_MS),
            dcc.Store(id=SHOWN),
        ],
        id=BANNER,
        className="rc-run-banner mb-2",
    )


def run_history():
    return dbc.Card(
        [
            dbc.CardHeader(html.Span("Run history", className="fw-semibold"), class_name="py-1 px-2"),
            dbc.CardBody(html.Div("no run recorded yet", id=HISTORY_BODY, className="small"), class_name="p-2"),
        ],
        id=HISTORY,
    )
