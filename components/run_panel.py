"""The run banner (root state, run number and type, running since, who is in charge) and the run history.
FIRST CUT: placeholders."""

from dash import html


def run_banner():
    return html.Div(id="ctl-run-banner")


def run_history():
    return html.Div(id="ctl-run-history")
