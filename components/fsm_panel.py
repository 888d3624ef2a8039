"""The FSM panel: the diagram (dash-cytoscape, served locally), the transitions and sequences allowed now, why
they are disabled, the progress of the transition running, the per-node results, and the argument dialog."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import dash_cytoscape as cyto
from dash import dcc, html

from components import controller_ids
from viewmodels.fsm import Field

PANEL = "ctl-fsm-panel"
TICK = "ctl-fsm-tick"
VIEW = "ctl-fsm-view"  # what the tab shows (a signature), so an unchanged tick sends nothing
STATE = "ctl-fsm-state"
REASON = "ctl-fsm-reason"
DIAGRAM = "ctl-fsm-diagram"
BUTTONS = "ctl-fsm-buttons"
PROGRESS = "ctl-fsm-progress"
RESULTS = "ctl-fsm-results"
MODAL = "ctl-fsm-modal"
MODAL_TITLE = "ctl-fsm-modal-title"
MODAL_BODY = "ctl-fsm-modal-body"
CONFIRM = "ctl-fsm-confirm"  # the checkbox a disruptive transition needs (always in the layout: an Input)
CONFIRM_WRAP = "ctl-fsm-confirm-wrap"
RUN = "ctl-fsm-run"
CANCEL = "ctl-fsm-cancel"
FORM_ERROR = "ctl-fsm-form-error"
PENDING = "ctl-fsm-pending"  # {"name", "fields": [names], "disruptive"}: what the dialog will run
COMMAND = "ctl-fsm-cmd"  # pattern: {"type": COMMAND, "name": transition or sequence}
ARG = "ctl-fsm-arg"  # pattern: {"type": ARG, "name": argument}
ARG_ERROR = "ctl-fsm-arg-error"
LOCK = controller_ids.LOCK
TARGET = "ctl-fsm-target"  # druncschema 0.11: the controller whose subtree a transition is addressed to
TARGET_WRAP = "ctl-fsm-target-wrap"  # shown only on a 0.11 root

STYLESHEET = [
    {"selector": "node", "style": {
        "label": "data(label)", "shape": "round-rectangle", "width": "label", "height": 22, "padding": "6px",
        "text-valign": "center", "text-halign": "center", "font-size": 11, "background-color": "#6c757d",
        "color": "#fff", "border-width": 0}},
    {"selector": "node.current", "style": {"background-color": "#198754", "border-width": 3,
                                           "border-color": "#0f5132", "font-weight": "bold"}},
    {"selector": "node.unknown", "style": {"background-color": "#adb5bd", "shape": "ellipse"}},
    {"selector": "edge", "style": {
        "label": "data(label)", "curve-style": "bezier", "target-arrow-shape": "triangle", "width": 1.5,
        "font-size": 10, "color": "#868e96", "line-color": "#adb5bd", "target-arrow-color": "#adb5bd",
        "text-rotation": "autorotate", "text-margin-y": -8}},
    {"selector": "edge.allowed", "style": {"line-color": "#0d6efd", "target-arrow-color": "#0d6efd", "width": 3,
                                           "color": "#0d6efd", "font-weight": "bold"}},
    {"selector": "edge.learnt", "style": {"line-style": "dashed"}},
]


def fsm_panel(ctx=None):
    return dbc.Card(
        [
            dbc.CardHeader(html.Div([
                html.Span("FSM", className="fw-semibold me-2"),
                html.Span("…", id=STATE, className="badge text-bg-secondary"),
            ], className="d-flex align-items-center")),
            dbc.CardBody([
                html.Div([
                    html.Span("Target", className="small text-body-secondary me-2"),
                    # the root's path is the default, filled by the tick (a value of None: the whole tree)
                    dcc.Dropdown(id=TARGET, options=[], value=None, clearable=False, searchable=True,
                                 placeholder="the whole tree (root)", className="flex-grow-1"),
                ], id=TARGET_WRAP, className="d-flex align-items-center mb-2", style={"display": "none"},
                    title="druncschema 0.11: a transition can be addressed from the root to one controller's "
                          "subtree"),
                html.Div(id=REASON, className="small text-body-secondary mb-2"),
                cyto.Cytoscape(id=DIAGRAM, elements=[], stylesheet=STYLESHEET,
                               # levels spread over the box, not spaced by the widest label (that spacing made
                               # a 6-level graph ~900 px tall, drawn at a third of its size: unreadable labels)
                               layout={"name": "breadthfirst", "directed": True, "roots": "#s\\:initial",
                                       "avoidOverlap": False, "spacingFactor": 1, "padding": 16},
                               style={"width": "100%", "height": "340px"}, userZoomingEnabled=False, maxZoom=1.0,
                               autoungrabify=True),
                html.Div(id=BUTTONS, className="d-flex flex-wrap gap-2 mt-2"),
                html.Div(id=PROGRESS, className="mt-2"),
                html.Div(id=RESULTS, className="mt-2"),
            ]),
            dialog(),
            dcc.Interval(id=TICK, interval=1000),
            dcc.Store(id=VIEW),
            dcc.Store(id=PENDING),
            dcc.Store(id=LOCK),
        ],
        id=PANEL,
    )


def dialog():
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle(id=MODAL_TITLE)),
            dbc.ModalBody([
                html.Div(id=MODAL_BODY),
                html.Div(dbc.Checkbox(id=CONFIRM, value=False, label="", className="mt-2"), id=CONFIRM_WRAP,
                         style={"display": "none"}),
                html.Div(id=FORM_ERROR, className="text-danger small mt-2"),
            ]),
            dbc.ModalFooter([
                dbc.Button("Cancel", id=CANCEL, color="secondary", outline=True),
                dbc.Button("Run", id=RUN, color="primary", disabled=True),
            ]),
        ],
        id=MODAL, is_open=False, backdrop="static", size="lg",
    )


def command_buttons(transitions: list[str], sequences: list[tuple[str, str]], disabled_reason: str | None):
    """One button per sequence then per transition allowed now; disabled ones say why (their title)."""
    title = disabled_reason or ""
    buttons = [dbc.Button(label, id={"type": COMMAND, "name": name}, color="primary", size="sm",
                          disabled=bool(disabled_reason), title=title) for name, label in sequences]
    buttons += [dbc.Button(name, id={"type": COMMAND, "name": name}, color="secondary", outline=True, size="sm",
                           disabled=bool(disabled_reason), title=title) for name in transitions]
    if not buttons:
        buttons = [html.Span("no transition leaves this state", className="small text-body-secondary")]
    return buttons


def argument_field(field: Field):
    """One form row generated from the argument's description: its control follows its type and choices."""
    fid = {"type": ARG, "name": field.name}
    initial = field.initial
    if field.control == "dropdown":
        control = dcc.Dropdown(id=fid, options=[{"label": str(c), "value": c} for c in field.choices],
                               value=initial if initial in field.choices else None, clearable=not field.mandatory)
    elif field.control == "switch":
        control = dbc.Switch(id=fid, value=bool(initial), label=field.name)
    else:
        control = dbc.Input(id=fid, type="number" if field.control in ("integer", "number") else "text",
                            value=initial, step=1 if field.control == "integer" else "any", debounce=False)
    label = html.Span([field.name, html.Span(" *", className="text-danger") if field.mandatory else None,
                       html.Small(f"  {field.type}" + (f", {', '.join(field.steps)}" if len(field.steps) else ""),
                                  className="text-body-secondary")])
    return html.Div([
        dbc.Label(label) if field.control != "switch" else None,
        control,
        html.Div(field.help, className="form-text") if field.help else None,
        html.Div(id={"type": ARG_ERROR, "name": field.name}, className="small text-danger"),
    ], className="mb-2")


def dialog_body(steps: tuple[str, ...], fields: list[Field], target: str, listing: list[str] | None = None):
    """The steps, the target and (for a transition addressed to a subtree) the nodes it reaches, then the form."""
    parts = [html.P(["On ", html.Strong(target), ": ", " → ".join(steps)], className="mb-2", id="ctl-fsm-on")]
    if listing:
        shown = listing[:100] + ([f"… and {len(listing) - 100} more"] if len(listing) > 100 else [])
        parts.append(html.Ul([html.Li(line) for line in shown], className="rc-target-list small mb-2",
                             id="ctl-fsm-targets"))
    return parts + ([argument_field(f) for f in fields] or [html.P("No arguments.", className="text-body-secondary")])


def target_options(nodes) -> list[dict]:
    """The controllers a transition can be addressed to (0.11), the root first as "the whole tree"."""
    options = []
    for n in nodes:
        if n.get("kind") != "controller":
            continue
        label = f"{n.get('name')} — the whole tree" if not n.get("depth") else \
            ("\u00a0\u00a0" * int(n.get("depth", 0))) + f"{n.get('name')} ({n.get('state')})"
        options.append({"label": label, "value": n["path"]})
    return options


def confirmation(name: str, target: str, disruptive: bool) -> tuple[bool, str, dict]:
    """The confirmation checkbox's (value, label, wrapper style): unticked and shown for a disruptive command,
    ticked and hidden otherwise."""
    if disruptive:
        return False, f"Yes, run {name} on {target}", {"display": "block"}
    return True, "", {"display": "none"}


def step_list(progress: dict | None, summary: str):
    """The steps of the running transition or sequence, each with its state, and the nodes still busy."""
    if not progress:
        return None
    marks = {"done": "✓", "running": "…", "failed": "✗", "skipped": "–", "pending": "·"}
    colours = {"done": "text-success", "failed": "text-danger", "running": "text-primary fw-semibold"}
    items = [html.Li([html.Span(marks.get(s["status"], "·"), className="me-2"), s["name"],
                      html.Small(f" {s['status']}", className="text-body-secondary")],
                     className=colours.get(s["status"], "")) for s in progress.get("steps", [])]
    return html.Div([
        html.Div(f"{progress.get('operation', '')} by {progress.get('user', '')}", className="small fw-semibold"),
        html.Ul(items, className="list-unstyled small mb-1", id="ctl-fsm-steps"),
        html.Div(summary, className="small text-body-secondary", id="ctl-fsm-busy"),
    ], className="border rounded p-2")


def results_view(last: dict | None):
    """Every node's outcome of the last transition or sequence: response flag and FSM flag."""
    if not last:
        return None
    rows = []
    for step in last.get("steps", []):
        rows.append(html.Tr([html.Td(html.Strong(step["name"]), colSpan=3),
                             html.Td(step.get("status", ""), className="text-end")]))
        for r in step.get("rows", []):
            rows.append(html.Tr([
                html.Td(r["name"], style={"paddingLeft": f"{0.5 + r['depth']}rem"}),
                html.Td(r["flag"], className="small"),
                html.Td(r["fsm_flag"], className="small"),
                html.Td("ok" if r["ok"] else (r["text"] or "failed"),
                        className="small text-success" if r["ok"] else "small text-danger"),
            ]))
    colour = "success" if last.get("ok") else "danger"
    return dbc.Alert([
        html.Div([html.Strong(last.get("title", "")), html.Span(f"  {last.get('at', '')} UTC", className="small")]),
        html.Div(last.get("detail", ""), className="small"),
        html.Details([html.Summary("every node's outcome", className="small"),
                      dbc.Table(html.Tbody(rows), size="sm", className="mb-0 mt-1", id="ctl-fsm-result-table")],
                     open=not last.get("ok")),
    ], color=colour, className="py-2 mb-0", id="ctl-fsm-result")
