"""Control (who is in charge, take/surrender), include/exclude, and the nodes in error with their recovery.
FIRST CUT: placeholders."""

from dash import html


def control_panel(ctx):
    return html.Div(id="ctl-control-panel")


def errors_panel():
    return html.Div(id="ctl-errors-panel")
