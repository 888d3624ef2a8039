"""Boot: a form for one process and a JSON file for several (stub, filled by the boot work)."""

from dash import html


def boot_button(ctx) -> html.Span:
    return html.Span()


def boot_modal(ctx) -> html.Div:
    return html.Div()
