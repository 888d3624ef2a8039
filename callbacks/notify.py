"""Send a toast from any callback (or the error handler) into the one toast area."""

from __future__ import annotations

from dash import Patch, set_props
from flask import g, has_request_context

from components.toasts import TOASTS, make_toast


def notify(title: str, message, kind: str = "info") -> None:
    # set_props replaces a prop set earlier in the same request, so every toast of one callback call goes into
    # one Patch kept for the request (flask.g), which then appends them all.
    patch = getattr(g, "rc_toasts", None) if has_request_context() else None
    if patch is None:
        patch = Patch()
        if has_request_context():
            g.rc_toasts = patch
    patch.append(make_toast(title, message, kind))
    set_props(TOASTS, {"children": patch})
