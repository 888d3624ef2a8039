"""Send a toast from any callback (or the error handler) into the one toast area."""

from __future__ import annotations

from dash import Patch, set_props
from dash._callback_context import context_value
from flask import g, has_request_context

from components.toasts import TOASTS, make_toast


def _holder():
    """Where this call's toasts are gathered: the request (flask.g), or in a background job (no request) the
    callback context the job runs in."""
    if has_request_context():
        return g
    try:
        return context_value.get()
    except LookupError:
        return None


def notify(title: str, message, kind: str = "info") -> None:
    # set_props replaces a prop set earlier in the same call, so every toast of one callback call goes into one
    # Patch kept for the call, which then appends them all.
    holder = _holder()
    patch = getattr(holder, "rc_toasts", None) if holder is not None else None
    if patch is None:
        patch = Patch()
        if holder is not None:
            holder.rc_toasts = patch
    patch.append(make_toast(title, message, kind))
    set_props(TOASTS, {"children": patch})
