"""The process log side panel: last N lines, follow mode, search with highlighting, download.

The lines are the text children of one <pre> (one text node per line, escaped by React). Scrolling, the
"stuck to the bottom" state and the search highlights live in assets/ui/log_viewer.js, which knows the ids
PRE, STUCK and MATCHES below.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.choices import button_choices
from viewmodels.logs import DEFAULT_LINES, LINE_CHOICES

PANEL = "pm-log-panel"
TITLE = "pm-log-title"
LINES = "pm-log-lines"
FOLLOW = "pm-log-follow"
SEARCH = "pm-log-search"
MATCHES = "pm-log-matches"
RELOAD = "pm-log-reload"
DOWNLOAD_BUTTON = "pm-log-download-button"
DOWNLOAD = "pm-log-download"
STATUS = "pm-log-status"
HINT = "pm-log-hint"
MESSAGE = "pm-log-message"
PRE = "pm-log-pre"
STATE = "pm-log-state"  # {uuid, name, n, count, tail, problem}: what the panel shows
STUCK = "pm-log-stuck"  # False while the operator has scrolled up (set by log_viewer.js)
REQUEST = "pm-log-request"  # {uuid, t}: a logs button was clicked (filtered from the grid's cellRendererData)
INTERVAL = "pm-log-interval"

FOLLOW_MS = 2000


def _toolbar() -> html.Div:
    lines = button_choices(LINES, [{"label": f"{n:,}", "value": n} for n in LINE_CHOICES], DEFAULT_LINES,
                           "btn-group rc-log-lines")
    return html.Div(
        [
            html.Div([html.Span("Last", className="small me-2 text-body-secondary"), lines,
                      html.Span("lines", className="small ms-2 text-body-secondary")],
                     className="d-flex align-items-center me-3"),
            dbc.Switch(id=FOLLOW, label="Follow", value=True, class_name="mb-0 me-3"),
            dbc.Input(id=SEARCH, type="search", placeholder="Search the log…", debounce=250, size="sm",
                      autocomplete="off", class_name="rc-log-search me-2"),
            html.Span(id=MATCHES, className="small text-body-secondary me-3 rc-log-matches",
                      **{"aria-live": "polite"}),
            html.Div(
                [
                    dbc.Button("↻", id=RELOAD, color="secondary", outline=True, size="sm", title="Read again",
                               class_name="me-1"),
                    dbc.Button("Download", id=DOWNLOAD_BUTTON, color="secondary", outline=True, size="sm",
                               title="Download the last lines as a text file"),
                ],
                className="ms-auto d-flex",
            ),
        ],
        className="d-flex align-items-center flex-wrap gap-1 mb-2",
    )


def log_panel(ctx) -> html.Div:
    """The panel (closed) and its stores. A user without process.logs never gets it opened: the server
    refuses, so the panel is the same for everybody."""
    body = html.Div(
        [
            _toolbar(),
            html.Div(
                [
                    html.Span("waiting…", id=STATUS, className="small rc-muted-time me-3"),
                    html.Span("Follow paused: scroll to the bottom to resume", id=HINT,
                              className="small text-warning-emphasis d-none"),
                ],
                className="d-flex align-items-center flex-wrap mb-1",
            ),
            html.Div(id=MESSAGE),
            html.Pre(id=PRE, children=[], className="rc-log-pre", tabIndex="0", **{"aria-label": "Process log"}),
        ],
        className="rc-log-body",
    )
    panel = dbc.Offcanvas(
        body,
        id=PANEL,
        title=html.Span("Log", id=TITLE, className="text-break"),
        placement="end",
        is_open=False,
        style={"width": "55vw"},
        class_name="rc-log-panel",
    )
    return html.Div(
        [
            panel,
            dcc.Store(id=STATE),
            dcc.Store(id=STUCK, data=True),
            dcc.Store(id=REQUEST),
            dcc.Interval(id=INTERVAL, interval=FOLLOW_MS, disabled=True),
            dcc.Download(id=DOWNLOAD),
        ],
        **{"data-can-read-logs": "yes" if ctx.can("process.logs") else "no"},
    )
