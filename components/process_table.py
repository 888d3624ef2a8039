"""The live process table: its ids, columns, toolbar, status line and the confirmation dialogs of its actions.

Cell renderers (status badge, short uuid with copy, logs button) live in assets/ui/grid_renderers.js; they
render drunc strings as React text, never as HTML.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.grid import data_grid
from components.guarded import guarded_button
from components.refresh import PAUSED_MS, live_status
from components.refresh import refresh_picker as shared_refresh_picker
from viewmodels.processes import ViewState

GRID = "pm-grid"
GRID_WRAP = "pm-grid-wrap"
QUICK = "pm-quick"
REFRESH = "pm-refresh"
REFRESH_NOW = "pm-refresh-now"
TICK = "pm-tick"
VERSION = "pm-version"
LIVE = "pm-live"
STATUS = "pm-status"
COUNT = "pm-count"
SHOWN = "pm-shown"
BANNER = "pm-banner"
URL_SYNC = "pm-url-sync"
LINK_FILTER = "pm-link-filter"  # the link's column filters, applied again once the first rows are in
PERMS = "pm-perms"
SELECTED = "pm-selected"

RESTART = "pm-restart"
KILL = "pm-kill"
FLUSH = "pm-flush"
TERMINATE = "pm-terminate"
ACTIONS = {RESTART: "restart", KILL: "kill", FLUSH: "flush"}

CONFIRM = "pm-confirm"
CONFIRM_TITLE = "pm-confirm-title"
CONFIRM_BODY = "pm-confirm-body"
CONFIRM_OK = "pm-confirm-ok"
CONFIRM_CANCEL = "pm-confirm-cancel"
PENDING = "pm-pending"

TERM = "pm-term"
TERM_BODY = "pm-term-body"
TERM_TEXT = "pm-term-text"
TERM_OK = "pm-term-ok"
TERM_CANCEL = "pm-term-cancel"
TERM_EXPECTED = "pm-term-expected"


def columns(can_read_logs: bool) -> list[dict]:
    text = {"filter": "agTextColumnFilter", "floatingFilter": True, "filterParams": {"debounceMs": 300}}
    return [
        {"field": "uuid", "headerName": "UUID", "minWidth": 115, "maxWidth": 140, "cellRenderer": "RcUuid",
         "tooltipField": "uuid", **text},
        {"field": "name", "headerName": "Name", "minWidth": 220, "tooltipField": "name", **text,
         "cellStyle": {"function": "({paddingLeft: (10 + 14 * rcTreeDepth(params.data)) + 'px'})"}},
        {"field": "status", "headerName": "Status", "minWidth": 100, "maxWidth": 115, "cellRenderer": "RcStatus",
         **text},
        {"colId": "logs", "headerName": "Logs", "minWidth": 82, "maxWidth": 90, "sortable": False, "filter": False,
         "cellRenderer": "RcLogsButton", "cellRendererParams": {"allowed": can_read_logs}},
        {"field": "session", "headerName": "Session", "minWidth": 120, "tooltipField": "session", **text},
        {"field": "user", "headerName": "User", "minWidth": 80, **text},
        {"field": "host", "headerName": "Host", "minWidth": 110, **text},
        {"field": "exit", "headerName": "Exit", "minWidth": 75, "maxWidth": 90, "filter": "agNumberColumnFilter",
         "floatingFilter": True},
        # Sorted by session, then numerically by tree id: a session reads as its tree, root controller first.
        # The sort key is derived in the browser (assets/ui/process_tree.js): rows carry only drunc's data.
        {"colId": "tree_key", "headerName": "Tree", "minWidth": 85, "maxWidth": 110, "sort": "asc",
         "valueGetter": {"function": "rcTreeKey(params.data)"},
         "valueFormatter": {"function": "params.data ? params.data.tree_id : ''"},
         "filterValueGetter": {"function": "params.data.tree_id"},
         "getQuickFilterText": {"function": "params.data.tree_id"}, "tooltipField": "tree_id", **text},
        {"field": "executable", "headerName": "Command", "minWidth": 160, "tooltipField": "executable", **text},
    ]


def process_grid(can_read_logs: bool, view: ViewState) -> html.Div:
    grid = data_grid(
        GRID,
        columns(can_read_logs),
        row_id="uuid",
        height="62vh",
        dashGridOptions={
            # The header checkbox selects what the filters show, never hidden rows an operator cannot see.
            "rowSelection": {"mode": "multiRow", "checkboxes": True, "headerCheckbox": True,
                             "enableClickSelection": False, "selectAll": "filtered"},
            "tooltipShowDelay": 400,
            "quickFilterText": view.quick,
            "cacheQuickFilter": True,
        },
        filterModel=view.filter_model,  # from the link; later changes are written back to it
    )
    # dash-ag-grid can drop a filterModel given before the grid has rows (plotly/dash-ag-grid#430): the link's
    # filters are kept here too, and re-applied when the first rows arrive (callbacks/process_manager.py)
    link_filter = dcc.Store(id=LINK_FILTER, data=view.filter_model or None)
    return html.Div([grid, link_filter], id=GRID_WRAP, className="rc-grid-wrap")


def refresh_picker(refresh: str) -> html.Div:
    return shared_refresh_picker(REFRESH, REFRESH_NOW, refresh)


def status_line() -> html.Div:
    return html.Div(
        [
            *live_status(LIVE, STATUS),
            html.Span(id=COUNT, className="small me-2"),
            html.Span(id=SHOWN, className="small text-body-secondary"),
        ],
        className="d-flex align-items-center",
    )


def action_bar(permissions: frozenset[str]) -> html.Div:
    buttons = [
        guarded_button(RESTART, "Restart", "process.modify", permissions, color="success", size="sm",
                       disabled=True, class_name="me-1"),
        guarded_button(FLUSH, "Flush", "process.modify", permissions, color="warning", size="sm",
                       disabled=True, class_name="me-1"),
        guarded_button(KILL, "Kill", "process.modify", permissions, color="danger", size="sm",
                       disabled=True, class_name="me-3"),
        guarded_button(TERMINATE, "Terminate all…", "process.terminate", permissions, color="danger",
                       outline=True, size="sm", class_name="me-3"),
    ]
    return html.Div([*buttons, html.Span("nothing selected", id=SELECTED, className="small text-body-secondary")],
                    className="d-flex align-items-center flex-wrap")


def confirm_modal() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle(id=CONFIRM_TITLE)),
            dbc.ModalBody(id=CONFIRM_BODY),
            dbc.ModalFooter([
                dbc.Button("Cancel", id=CONFIRM_CANCEL, color="secondary"),
                dbc.Button("Confirm", id=CONFIRM_OK, color="danger"),
            ]),
        ],
        id=CONFIRM,
        is_open=False,
        scrollable=True,
        size="lg",
    )


def terminate_modal() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Terminate every process")),
            dbc.ModalBody([
                html.Div(id=TERM_BODY),
                dbc.Label("Type the confirmation text to continue", html_for=TERM_TEXT, class_name="mt-2"),
                dbc.Input(id=TERM_TEXT, autocomplete="off", value=""),
            ]),
            dbc.ModalFooter([
                dbc.Button("Cancel", id=TERM_CANCEL, color="secondary"),
                dbc.Button("Terminate", id=TERM_OK, color="danger", disabled=True),
            ]),
        ],
        id=TERM,
        is_open=False,
        scrollable=True,
        size="lg",
    )


def interval_ms(refresh: str) -> int:
    return {"1": 1000, "5": 5000}.get(refresh, PAUSED_MS)


def stores(permissions: frozenset[str], refresh: str) -> list:
    return [
        dcc.Interval(id=TICK, interval=interval_ms(refresh)),
        dcc.Store(id=VERSION),
        dcc.Store(id=URL_SYNC),
        dcc.Store(id=PENDING),
        dcc.Store(id=TERM_EXPECTED),
        dcc.Store(id=PERMS, data={"modify": "process.modify" in permissions,
                                  "terminate": "process.terminate" in permissions}),
    ]
