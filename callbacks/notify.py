"""Send a toast from any callback (or the error handler) into the one toast area."""

from __future__ import annotations

from dash import Patch, set_props

from components.toasts import TOASTS, make_toast


def notify(title: str, message, kind: str = "info") -> None:
    patch = Patch()
    patch.append(make_toast(title, message, kind))
    set_props(TOASTS, {"children": patch})
