"""The log side panel (stub, filled by the logs work)."""

from dash import html


def log_panel(ctx) -> html.Div:
    return html.Div()
