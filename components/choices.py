"""A row of toggle buttons for a few fixed choices (refresh rate, line count, severities)."""

from __future__ import annotations

import dash_bootstrap_components as dbc


def button_choices(component_id: str, options: list[dict], value, class_name: str, multi: bool = False):
    """One choice (dbc.RadioItems) or several (dbc.Checklist), drawn as small outline buttons."""
    kind = dbc.Checklist if multi else dbc.RadioItems
    return kind(
        id=component_id,
        options=options,
        value=value,
        inline=True,
        input_class_name="btn-check",
        label_class_name="btn btn-outline-secondary btn-sm",
        label_checked_class_name="active",
        class_name=class_name,
    )
