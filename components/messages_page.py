"""The Messages page's ids and layout factories: filter bar, status bar, rate plot, infinite grid, inspector,
acknowledge confirmation. Callbacks: callbacks/messages_page.py; view data: viewmodels/message_query.py.

Everything a drunc string reaches is a Dash html component's children (text, never HTML).
"""

from __future__ import annotations

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.choices import button_choices
from components.guarded import guarded_button
from viewmodels import message_query as mq
from viewmodels.messages import ALL_CLASSES

P = "msgs-"
MODE = P + "mode"
RANGE = P + "range"
START = P + "from"
END = P + "to"
SEVERITY = P + "severity"
KIND = P + "kind"
FIELDS = {key: f"{P}f-{key}" for key in mq.FIELD_FILTERS}
TEXT = P + "text"
TEXT_EXCLUDE = P + "text-exclude"
RESET = P + "reset"
FOLLOW = P + "follow"
SOUND = P + "sound"
FILTER_ERROR = P + "filter-error"
STATE = P + "state"  # the canonical filter state (viewmodels.message_query.state_to_dict)
URL_SYNC = P + "url-sync"
GRID = P + "grid"
REQUEST = P + "request"  # the grid's block request plus the keyset anchor (assets/ui/messages_page.js)
LIVE = P + "live"  # {"cursor": store cursor, "top": newest id shown, "prev": newest id before the last refresh}
REFRESH = P + "refresh"  # a change asks the grid to reload its cached blocks
TICK = P + "tick"
PLOT_TICK = P + "plot-tick"
NEW = P + "new"  # "N new" while paused
STATUS = P + "status"
HEALTH = P + "health"
PLOT = P + "plot"
EXPORT_CSV = P + "export-csv"
EXPORT_JSONL = P + "export-jsonl"
OPEN = P + "open"  # {"id": message id, "n": nonce}: set by Enter (keyboard script) and double-clicks
INSPECTOR = P + "inspector"
INSPECTOR_BODY = P + "inspector-body"
COPY = P + "copy"
COPY_TEXT = P + "copy-text"
SELECTED = P + "selected"  # the id in the inspector
ACK_ONE = P + "ack-one"
ACK_INFO = P + "ack-info"
ACK_ALL = P + "ack-all"
ACK_MODAL = P + "ack-modal"
ACK_MODAL_TEXT = P + "ack-modal-text"
ACK_UPTO = P + "ack-upto"  # the newest id the confirmation counted: exactly what "yes" acknowledges
ACK_YES = P + "ack-yes"
ACK_NO = P + "ack-no"

POLL_MS = 2000
PAUSED_MS = 24 * 3600 * 1000
PLOT_MS = 30_000  # the rate plot follows live mode at this pace (a minute bucket moves slowly)
BLOCK = 100  # rows per block the grid asks for
MAX_BLOCKS = 4  # blocks the grid keeps: at most 400 rows in the browser


def columns() -> list[dict]:
    severity_rules = {cls: f"params.data && params.data.sev_class === '{cls}'" for cls in ALL_CLASSES}
    return [
        {"field": "ack", "headerName": "", "width": 34, "maxWidth": 34, "minWidth": 34, "resizable": False,
         "valueFormatter": {"function": "params.value ? '✓' : ''"}, "headerTooltip": "acknowledged",
         "cellClass": "rc-msg-ack-cell"},
        {"field": "time", "headerName": "Time (UTC)", "width": 190, "minWidth": 170, "maxWidth": 210},
        {"field": "severity", "headerName": "Sev.", "width": 90, "minWidth": 84, "maxWidth": 110,
         "cellClassRules": severity_rules},
        {"field": "text", "headerName": "Text", "minWidth": 240, "flex": 4, "tooltipField": "text"},
        {"field": "source", "headerName": "Emitter / app", "minWidth": 110, "flex": 1, "tooltipField": "source"},
        {"field": "session", "headerName": "Session", "minWidth": 90, "flex": 1},
        {"field": "host", "headerName": "Host", "minWidth": 90, "flex": 1},
        {"field": "type", "headerName": "Type / issue", "minWidth": 110, "flex": 1, "tooltipField": "type"},
        {"field": "kind", "headerName": "Kind", "width": 100, "minWidth": 90, "maxWidth": 120},
    ]


def message_grid() -> dag.AgGrid:
    return dag.AgGrid(
        id=GRID,
        columnDefs=columns(),
        rowModelType="infinite",
        getRowId="params.data.id",
        # sorting and filtering are the page's (server side, by keyset): the grid's own would lie
        defaultColDef={"sortable": False, "filter": False, "resizable": True, "minWidth": 60},
        dashGridOptions={
            "rowHeight": 26, "headerHeight": 30, "tooltipShowDelay": 500,
            "cacheBlockSize": BLOCK, "maxBlocksInCache": MAX_BLOCKS, "infiniteInitialRowCount": 1,
            "cacheOverflowSize": 1, "maxConcurrentDatasourceRequests": 1, "blockLoadDebounceMillis": 50,
            "rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True},
            "enableCellTextSelection": True, "suppressFieldDotNotation": True, "animateRows": False,
            "rowClassRules": {"rc-msg-acked": "params.data && params.data.ack",
                              "rc-msg-fresh": "params.data && params.data.fresh"},
        },
        columnSize="responsiveSizeToFit",
        style={"height": "58vh", "width": "100%"},
        className="rc-msgs-grid",
    )


def _field_input(key: str, value: str) -> dbc.Col:
    return dbc.Col(
        html.Div(dbc.Input(id=FIELDS[key], value=value, placeholder=mq.FIELD_LABELS[key], type="search", size="sm",
                           debounce=500, maxlength=mq.TEXT_MAX),
                 title=f"{mq.FIELD_LABELS[key]}: a, b to match, !c to exclude"),
        md=2, sm=4, xs=6,
    )


def filter_bar(state: mq.QueryState) -> html.Div:
    severity_options = [{"label": s if s != mq.OTHER else "other", "value": s} for s in mq.SEVERITY_CHOICES]
    kind_options = [{"label": k, "value": k} for k in mq.KINDS]
    query = state.mode == "query"
    custom = state.range == "custom"
    first = html.Div(
        [
            button_choices(MODE, [{"label": "Live", "value": "live"}, {"label": "Query", "value": "query"}],
                           state.mode, "rc-msgs-mode me-2"),
            dbc.Select(id=RANGE, options=[{"label": v, "value": k} for k, v in mq.PRESET_LABELS.items()],
                       value=state.range, size="sm", class_name="rc-msgs-range me-2", disabled=not query),
            dbc.Input(id=START, value=state.start, placeholder="from (UTC)", size="sm", debounce=True,
                      class_name="rc-msgs-time me-1", disabled=not (query and custom), maxlength=40),
            dbc.Input(id=END, value=state.end, placeholder="to (UTC)", size="sm", debounce=True,
                      class_name="rc-msgs-time me-2", disabled=not (query and custom), maxlength=40),
            dbc.Switch(id=FOLLOW, label="Follow", value=True, class_name="mb-0 me-3", label_class_name="small"),
            html.Span(id=NEW, className="badge text-bg-info me-3"),
            dbc.Button("Reset filters", id=RESET, size="sm", color="secondary", outline=True, class_name="me-2"),
        ],
        className="d-flex align-items-center flex-wrap gap-1 mb-1",
    )
    second = html.Div(
        [
            button_choices(SEVERITY, severity_options, list(state.severities or mq.SEVERITY_CHOICES),
                           "rc-msg-severity me-3", multi=True),
            button_choices(KIND, kind_options, list(state.kinds or mq.KINDS), "rc-msg-severity", multi=True),
        ],
        className="d-flex align-items-center flex-wrap mb-1",
    )
    third = dbc.Row(
        [
            *[_field_input(k, getattr(state, k)) for k in mq.FIELD_FILTERS],
            dbc.Col(dbc.Input(id=TEXT, value=state.text, placeholder="Text contains…", type="search", size="sm",
                              debounce=500, maxlength=mq.TEXT_MAX), md=3, sm=6),
            dbc.Col(dbc.Input(id=TEXT_EXCLUDE, value=state.text_exclude, placeholder="Text excludes…",
                              type="search", size="sm", debounce=500, maxlength=mq.TEXT_MAX), md=3, sm=6),
        ],
        class_name="g-1 mb-1",
    )
    error = html.Div(id=FILTER_ERROR, className="small text-danger")
    return html.Div([first, second, third, error], className="rc-msgs-filters")


def status_bar() -> html.Div:
    return html.Div(
        [html.Div(id=STATUS, className="me-auto"), html.Div(id=HEALTH, className="small")],
        className="d-flex align-items-center flex-wrap gap-2 small mb-1 rc-msgs-status",
    )


def rate_plot() -> dcc.Graph:
    return dcc.Graph(
        id=PLOT,
        figure={"data": [], "layout": {"height": 150}},
        config={"displaylogo": False, "displayModeBar": False, "scrollZoom": False},
        style={"height": "150px"},
        className="rc-msgs-plot",
    )


def export_links(state: mq.QueryState, permissions: frozenset[str]) -> html.Div:
    allowed = "messages.manage" in permissions
    title = "" if allowed else "Needs the permission “messages.manage”."
    links = [
        html.A(label, id=link_id, href=mq.export_href(state, fmt) if allowed else None,
               className="btn btn-sm btn-outline-primary" + ("" if allowed else " disabled"), title=title,
               **{"aria-disabled": "false" if allowed else "true"})
        for link_id, label, fmt in ((EXPORT_CSV, "Export CSV", "csv"), (EXPORT_JSONL, "Export JSON lines", "jsonl"))
    ]
    return html.Div(links, className="d-flex gap-2")


def severity_chips(chips: list[dict]) -> list:
    return [
        html.Span([html.Span(c["severity"], className=c["class"]), f" {c['count']:,}"],
                  className="rc-msgs-chip me-2", id=f"{P}chip-{c['severity'].lower()}")
        for c in chips
    ]


def inspector(permissions: frozenset[str]) -> dbc.Offcanvas:
    return dbc.Offcanvas(
        [
            html.Div(
                [
                    dcc.Clipboard(id=COPY, target_id=COPY_TEXT, title="Copy the message as JSON",
                                  className="btn btn-sm btn-outline-secondary me-2"),
                    guarded_button(ACK_ONE, "Acknowledge", "messages.manage", permissions, size="sm",
                                   color="warning", class_name="me-2", disabled=True),
                    html.Span(id=ACK_INFO, className="small me-2"),
                ],
                className="d-flex align-items-center mb-2",
            ),
            html.Div(id=INSPECTOR_BODY),
            html.Pre(id=COPY_TEXT, className="d-none"),
        ],
        id=INSPECTOR,
        title="Message",
        placement="end",
        is_open=False,
        scrollable=True,
        class_name="rc-msgs-inspector",
    )


def ack_modal() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Acknowledge alarms")),
            dbc.ModalBody(html.Div(id=ACK_MODAL_TEXT)),
            dbc.ModalFooter([
                dbc.Button("Cancel", id=ACK_NO, color="secondary", outline=True),
                dbc.Button("Acknowledge", id=ACK_YES, color="warning"),
            ]),
        ],
        id=ACK_MODAL,
        is_open=False,
    )


def _pairs(rows: list[tuple[str, str]]) -> html.Dl:
    items = []
    for label, value in rows:
        if value in ("", None):
            continue
        items += [html.Dt(label, className="col-3 text-body-secondary"), html.Dd(value, className="col-9 mb-1")]
    return html.Dl(items, className="row small mb-2")


def _issue(issue: dict, depth: int) -> html.Div:
    ctx = issue["context"]
    body = [
        html.Div([html.Span(issue["severity"], className="badge text-bg-secondary me-2"),
                  html.Strong(issue["name"] or "(no issue name)")]),
        html.Div(issue["message"], className="rc-msgs-issue-message my-1"),
        _pairs([("Time", issue["time"]), ("Host", ctx["host"]), ("Application", ctx["application"]),
                ("Package", ctx["package"]), ("File:line", ctx["where"]), ("Function", ctx["function"]),
                ("Process", ctx["process"]), ("Inheritance", " → ".join(issue["inheritance"]))]),
    ]
    if issue["parameters"]:
        body.append(html.Div("Parameters", className="small fw-semibold"))
        body.append(_pairs(issue["parameters"]))
    if issue["cause"] is not None:
        body.append(html.Div("Caused by", className="small fw-semibold mt-1"))
        body.append(_issue(issue["cause"], depth + 1))
    return html.Div(body, className="rc-msgs-issue" + (" rc-msgs-cause" if depth else ""),
                    **{"data-depth": str(depth)})


def inspector_body(fields: list[tuple[str, str]], text: str, chain: dict | None, details: str) -> list:
    parts = [_pairs(fields), html.Div("Text", className="small fw-semibold"),
             html.Pre(text or "", className="rc-msgs-text")]
    if chain is not None:
        parts += [html.H6("ERS chain", className="mt-2"), _issue(chain, 0)]
    elif details:
        parts += [html.Div("Details", className="small fw-semibold"), html.Pre(details, className="rc-msgs-text")]
    return parts


def stores(state: mq.QueryState) -> list:
    return [
        dcc.Store(id=STATE, data=mq.state_to_dict(state)),
        dcc.Store(id=URL_SYNC),
        dcc.Store(id=REQUEST),
        dcc.Store(id=LIVE),
        dcc.Store(id=REFRESH),
        dcc.Store(id=OPEN),
        dcc.Store(id=SELECTED),
        dcc.Store(id=ACK_UPTO),
        dcc.Interval(id=TICK, interval=POLL_MS),
        dcc.Interval(id=PLOT_TICK, interval=PLOT_MS),
    ]
