"""The refresh controls a live page shares: 1 s / 5 s / paused choices with a refresh-now button, and the
live dot with its "updated at" text. Each page passes its own ids."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from components.choices import button_choices

REFRESH_CHOICES = {"1": "1 s", "5": "5 s", "0": "Paused"}
PAUSED_MS = 24 * 3600 * 1000  # a paused Interval still exists: `disabled` belongs to the no-overlap guard


def refresh_picker(choice_id: str, now_id: str, refresh: str) -> html.Div:
    return html.Div(
        [
            html.Span("Refresh", className="small me-2 text-body-secondary"),
            button_choices(choice_id, [{"label": label, "value": value} for value, label in REFRESH_CHOICES.items()],
                           refresh, "btn-group rc-refresh-picker"),
            dbc.Button("↻", id=now_id, color="link", size="sm", title="Refresh now", class_name="ms-1"),
        ],
        className="d-flex align-items-center",
    )


def live_status(live_id: str, status_id: str) -> list:
    """The live / failed / paused dot and the "updated HH:MM:SS UTC" text next to it."""
    return [
        html.Span(id=live_id, className="rc-live-dot rc-live-wait", title="waiting for the first update"),
        html.Span("connecting…", id=status_id, className="small rc-muted-time me-3"),
    ]
