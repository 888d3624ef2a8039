"""A collapsible live message panel (stub, filled by the messages work)."""

from dash import html


def message_panel(prefix: str, title: str) -> html.Div:
    return html.Div(title)
