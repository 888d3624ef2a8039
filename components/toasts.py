"""The one toast area of the app and the factory for its toasts."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

TOASTS = "toasts"

_KINDS = {
    # kind: (header colour, seconds shown); errors stay longer so an operator looking away still sees them
    "success": ("success", 5),
    "info": ("info", 5),
    "warning": ("warning", 10),
    "danger": ("danger", 12),
}


def toast_area() -> html.Div:
    return html.Div(id=TOASTS, className="rc-toasts", children=[], role="status", **{"aria-live": "polite"})


def make_toast(title: str, message, kind: str = "info") -> dbc.Toast:
    colour, seconds = _KINDS.get(kind, _KINDS["info"])
    return dbc.Toast(
        message,
        header=title,
        icon=colour,
        dismissable=True,
        is_open=True,
        duration=seconds * 1000,
        class_name=f"border-{colour}",
    )
