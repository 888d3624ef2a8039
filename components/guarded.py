"""Controls that mirror the server's permission check: disabled, with a tooltip naming what is missing."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html


def missing_permission_text(permission: str) -> str:
    return f"Needs the permission “{permission}”. Ask an administrator."


def guarded_button(
    button_id: str, label, permission: str, permissions: frozenset[str], **button_kwargs
) -> html.Span:
    """A button that is disabled without `permission`. The server checks again; this only helps the user."""
    allowed = permission in permissions
    disabled = button_kwargs.pop("disabled", False)
    wrap_id = f"{button_id}-guard"
    children = [
        dbc.Button(
            label,
            id=button_id,
            disabled=not allowed or disabled,
            **button_kwargs,
        )
    ]
    if not allowed:
        children.append(dbc.Tooltip(missing_permission_text(permission), target=wrap_id, placement="top"))
    return html.Span(
        children,
        id=wrap_id,
        className="rc-guard-wrap",
        title="" if allowed else missing_permission_text(permission),
        **{"data-permission": permission, "data-allowed": "yes" if allowed else "no"},
    )
