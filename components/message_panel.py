"""A collapsible live message panel: header with title, count and collapse toggle; severity choice, text search,
follow switch; a compact newest-first grid; "updated" time and consumer state.

Every id derives from the panel's prefix (`panel_ids`), so several panels can sit on one page. What a panel
shows (its message kinds and sources) is decided by callbacks/message_panel.PANELS, keyed by the same prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.choices import button_choices
from components.grid import data_grid
from viewmodels import messages as vm

POLL_MS = 2000
PAUSED_MS = 24 * 3600 * 1000  # a paused Interval still exists: `disabled` belongs to the no-overlap guard
_PREFIX = re.compile(r"^[a-z][a-z0-9-]*$")

DEBUG_HINT = (
    "Debug is off by default: every drunc command, the table's ps each second too, broadcasts an "
    "acknowledgement and a success at DEBUG."
)


@dataclass(frozen=True)
class PanelIds:
    root: str
    toggle: str
    chevron: str
    count: str
    collapse: str
    severity: str
    search: str
    follow: str
    grid: str
    status: str
    tick: str
    cursor: str  # {"last_id": int, "others": [str]}: where the next poll starts
    shown: str  # [int]: the ids in the grid, newest first (for the cap)


def panel_ids(prefix: str) -> PanelIds:
    if not _PREFIX.match(prefix or ""):
        raise ValueError(f"a panel prefix is lower-case letters, digits and dashes, not {prefix!r}")
    return PanelIds(
        root=f"{prefix}-panel",
        toggle=f"{prefix}-toggle",
        chevron=f"{prefix}-chevron",
        count=f"{prefix}-count",
        collapse=f"{prefix}-collapse",
        severity=f"{prefix}-severity",
        search=f"{prefix}-search",
        follow=f"{prefix}-follow",
        grid=f"{prefix}-grid",
        status=f"{prefix}-status",
        tick=f"{prefix}-tick",
        cursor=f"{prefix}-cursor",
        shown=f"{prefix}-shown",
    )


def columns() -> list[dict]:
    """Time and severity narrow, then the text (what the operator reads, visible even in a narrow column), then
    session and type. The text has the panel's own search, so only session and type get column filters."""
    severity_rules = {cls: f"params.data && params.data.sev_class === '{cls}'" for cls in vm.ALL_CLASSES}
    return [
        {"field": "time", "headerName": "Time", "headerTooltip": "Time (UTC); the full date is in the tooltip",
         "tooltipField": "ts", "width": 76, "minWidth": 74, "maxWidth": 90, "filter": False},
        {"field": "severity", "headerName": "Sev.", "headerTooltip": "Severity", "width": 86, "minWidth": 84,
         "maxWidth": 100, "filter": False, "cellClassRules": severity_rules},
        {"field": "text", "headerName": "Text", "minWidth": 160, "flex": 3, "tooltipField": "text", "filter": False},
        {"field": "session", "headerName": "Session", "minWidth": 80, "flex": 1, "tooltipField": "session"},
        {"field": "type", "headerName": "Type", "minWidth": 90, "flex": 1, "tooltipField": "type"},
    ]


def message_panel(prefix: str, title: str) -> dbc.Card:
    ids = panel_ids(prefix)
    header = dbc.CardHeader(
        html.Div(
            [
                html.Button(
                    [html.Span("▾", id=ids.chevron, className="rc-msg-chevron", **{"aria-hidden": "true"}), title],
                    id=ids.toggle,
                    type="button",
                    className="btn btn-link p-0 fw-semibold text-reset text-decoration-none rc-msg-toggle",
                    title="Collapse or expand",
                    **{"aria-controls": ids.collapse},
                ),
                dbc.Badge("0", id=ids.count, color="secondary", pill=True, class_name="ms-2",
                          title="messages shown (the newest are kept)"),
            ],
            className="d-flex align-items-center",
        ),
        class_name="py-1 px-2",
    )
    controls = html.Div(
        [
            button_choices(ids.severity, vm.severity_options(), list(vm.DEFAULT_SEVERITIES), "rc-msg-severity",
                           multi=True),
            html.Div(
                [
                    dbc.Input(id=ids.search, type="search", placeholder="Search text…", debounce=400, size="sm",
                              maxlength=vm.SEARCH_CLIP),
                    dbc.Switch(id=ids.follow, label="Follow", value=True, class_name="mb-0 ms-2 text-nowrap",
                               label_class_name="small"),
                ],
                className="d-flex align-items-center mt-1",
            ),
            html.Div(DEBUG_HINT, className="rc-msg-hint text-body-secondary mt-1"),
        ],
        className="mb-1",
    )
    grid = data_grid(
        ids.grid,
        columns(),
        row_id="id",
        height="62vh",
        dashGridOptions={"rowHeight": 26, "headerHeight": 30, "tooltipShowDelay": 400},
    )
    status = html.Div("connecting…", id=ids.status, className="small rc-muted-time mt-1")
    body = dbc.CardBody([controls, html.Div(grid, className="rc-msg-grid"), status], class_name="p-2")
    return dbc.Card(
        [
            header,
            dbc.Collapse(body, id=ids.collapse, is_open=True),
            dcc.Interval(id=ids.tick, interval=POLL_MS),
            dcc.Store(id=ids.cursor),
            dcc.Store(id=ids.shown),
        ],
        id=ids.root,
        class_name="rc-msg-panel",
    )
