"""The Sessions page's ids and layout factories: the live sessions table, a session's detail and actions, the
saved boot configurations and the session manager's read-only lists."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.guarded import guarded_button
from viewmodels import session_manager as sm_vm
from viewmodels import sessions as vm

TICK = "ses-tick"
SHOWN = "ses-shown"
TABLE = "ses-table"
STATUS = "ses-status"
PICK = "ses-pick"
DETAIL = "ses-detail"
# boot from a configuration
BOOT_CONFIG = "ses-boot-config"
BOOT_SESSION = "ses-boot-session"
BOOT_PREVIEW = "ses-boot-preview"
BOOT_PLAN = "ses-boot-plan"
BOOT_TOKEN = "ses-boot-token"
BOOT_GO = "ses-boot-go"
BOOT_RESULT = "ses-boot-result"
# terminate
TERM_OPEN = "ses-term-open"
TERM_MODAL = "ses-term-modal"
TERM_BODY = "ses-term-body"
TERM_TYPED = "ses-term-typed"
TERM_GO = "ses-term-go"
TERM_CANCEL = "ses-term-cancel"
# take control of the root
TAKE_OPEN = "ses-take-open"
TAKE_MODAL = "ses-take-modal"
TAKE_BODY = "ses-take-body"
TAKE_GO = "ses-take-go"
TAKE_CANCEL = "ses-take-cancel"
# save a running session as a configuration
SAVE_AS_NAME = "ses-saveas-name"
SAVE_AS_GO = "ses-saveas-go"
# session manager
SM_LIST = "ses-sm-list"
SM_LOAD = "ses-sm-load"  # the Refresh button
SM_CHANGED = "ses-sm-changed"  # bumped by a start or stop: read again
SM_ACTIONS = "ses-sm-actions"
SM_START_CONFIG = "ses-sm-start-config"
SM_START_NAME = "ses-sm-start-name"
SM_START_OPEN = "ses-sm-start-open"
SM_START_MODAL = "ses-sm-start-modal"
SM_START_BODY = "ses-sm-start-body"
SM_START_PLAN = "ses-sm-start-plan"
SM_START_GO = "ses-sm-start-go"
SM_START_CANCEL = "ses-sm-start-cancel"
SM_STOP_SESSION = "ses-sm-stop-session"
SM_STOP_OPEN = "ses-sm-stop-open"
SM_STOP_MODAL = "ses-sm-stop-modal"
SM_STOP_BODY = "ses-sm-stop-body"
SM_STOP_PLAN = "ses-sm-stop-plan"
SM_STOP_GO = "ses-sm-stop-go"
SM_STOP_CANCEL = "ses-sm-stop-cancel"
ACTIONS = (BOOT_GO, TERM_GO, TAKE_GO, SAVE_AS_GO, SM_START_GO, SM_STOP_GO)


def _modal(modal_id, title, body_id, go_id, go_label, cancel_id, extra=None):
    return dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle(title)),
        dbc.ModalBody([html.Div(id=body_id), *(extra or [])]),
        dbc.ModalFooter([dbc.Button("Cancel", id=cancel_id, color="secondary"),
                         dbc.Button(go_label, id=go_id, color="danger")]),
    ], id=modal_id, is_open=False)


def sessions_table(rows: list[dict], selected: str | None):
    if not rows:
        return html.Div("No session: the process manager runs no process and no root is known.",
                        className="text-body-secondary", id="ses-empty")
    head = html.Thead(html.Tr([html.Th(h) for h in ("session", "processes", "hosts", "root", "run", "in charge",
                                                    "errors", "")]))
    body = []
    for r in rows:
        link = vm.links(r["session"])
        body.append(html.Tr([
            html.Td(html.Strong(r["session"])),
            html.Td([html.Span(f"{r['running']} running", className="text-success me-2"),
                     html.Span(f"{r['dead']} dead", className="text-danger") if r["dead"] else None]),
            html.Td(", ".join(r["hosts"][:5]) + (f" +{len(r['hosts']) - 5}" if len(r["hosts"]) > 5 else "")),
            html.Td(dbc.Badge(vm.root_text(r), color=r["colour"],
                              text_color="dark" if r["colour"] == "light" else None)),
            html.Td(vm.run_text(r), title=r["run_since"] and f"since {r['run_since']} UTC"),
            html.Td(r["in_charge"] or "nobody"),
            html.Td(dcc.Link(str(r["errors"]), href=link["messages"],
                             className="text-danger fw-semibold" if r["errors"] else "text-body-secondary")),
            html.Td([dcc.Link("processes", href=link["processes"], className="me-2"),
                     dcc.Link("controller", href=link["controller"])], className="small"),
        ], className="table-active" if r["session"] == selected else None, **{"data-session": r["session"]}))
    return dbc.Table([head, html.Tbody(body)], size="sm", hover=True, responsive=True, id="ses-table-grid",
                     class_name="mb-0")


def session_panel(ctx, selected: str | None):
    perms = ctx.permissions
    return dbc.Card([
        dbc.CardHeader([html.Span("Session ", className="me-2"),
                        dcc.Dropdown(id=PICK, value=selected, options=[{"label": selected, "value": selected}]
                                     if selected else [], placeholder="choose a session", clearable=False,
                                     style={"minWidth": "16rem", "display": "inline-block"})],
                       class_name="d-flex align-items-center"),
        dbc.CardBody([
            html.Div(id=DETAIL),
            html.Div([
                guarded_button(TAKE_OPEN, "Take control of its root…", "controller.take_control", perms,
                               color="warning", size="sm", class_name="me-2"),
                guarded_button(TERM_OPEN, "Terminate the session…", "session.manage", perms, color="danger",
                               size="sm", class_name="me-2"),
            ], className="mt-2"),
            html.Div([
                dbc.InputGroup([dbc.InputGroupText("Save its processes as configuration"),
                                dbc.Input(id=SAVE_AS_NAME, placeholder="configuration name", maxLength=128),
                                guarded_button(SAVE_AS_GO, "Save", "session.manage", perms, color="secondary")],
                               size="sm"),
            ], className="mt-2"),
        ]),
        _modal(TERM_MODAL, "Terminate the session?", TERM_BODY, TERM_GO, "Kill every process of the session",
               TERM_CANCEL, [dbc.Label("Type the session's name to confirm", html_for=TERM_TYPED, class_name="mt-2"),
                             dbc.Input(id=TERM_TYPED, autoComplete="off", maxLength=255)]),
        _modal(TAKE_MODAL, "Take control of the root?", TAKE_BODY, TAKE_GO, "Take control", TAKE_CANCEL),
    ], class_name="mb-3", id="ses-session-card")


def boot_panel(ctx, configs: list[str]):
    perms = ctx.permissions
    return dbc.Card([
        dbc.CardHeader("Boot a session from a saved configuration"),
        dbc.CardBody([
            dbc.Row([
                dbc.Col([dbc.Label("Configuration", html_for=BOOT_CONFIG),
                         dcc.Dropdown(id=BOOT_CONFIG, options=configs, placeholder="choose a configuration")], md=6),
                dbc.Col([dbc.Label("Session name", html_for=BOOT_SESSION),
                         dbc.Input(id=BOOT_SESSION, placeholder="the configuration's own when blank",
                                   maxLength=255)], md=6),
            ], class_name="g-2"),
            html.Div(id=BOOT_PREVIEW, className="mt-2"),
            guarded_button(BOOT_GO, "Boot the processes", "session.manage", perms, color="primary", size="sm",
                           disabled=True, class_name="mt-2"),
            html.Div(id=BOOT_RESULT, className="mt-2"),
            dcc.Store(id=BOOT_PLAN),  # what the preview showed: configuration, version, session
            dcc.Store(id=BOOT_TOKEN),
        ]),
    ], class_name="mb-3", id="ses-boot-card")


def session_manager_panel(ctx):
    """The session manager's layout, state, sessions and configurations (filled on load and on Refresh), and
    start / stop session, shown only when it answers as it should."""
    perms = ctx.permissions
    actions = html.Div([
        dbc.Row([
            dbc.Col(dcc.Dropdown(id=SM_START_CONFIG, options=[], placeholder="configuration"), md=5),
            dbc.Col(dbc.Input(id=SM_START_NAME, placeholder="new session name", maxLength=255, size="sm",
                              autoComplete="off"), md=4),
            dbc.Col(guarded_button(SM_START_OPEN, "Start session…", "session.manage", perms, color="primary",
                                   size="sm"), md=3),
        ], class_name="g-2 align-items-center mb-2"),
        dbc.Row([
            dbc.Col(dcc.Dropdown(id=SM_STOP_SESSION, options=[], placeholder="session"), md=9),
            dbc.Col(guarded_button(SM_STOP_OPEN, "Stop session…", "session.manage", perms, color="danger",
                                   size="sm"), md=3),
        ], class_name="g-2 align-items-center"),
    ], id=SM_ACTIONS, className="mt-2", style={"display": "none"})
    return dbc.Card([
        dbc.CardHeader(["Session manager",
                        dbc.Button("Refresh", id=SM_LOAD, size="sm", color="link", class_name="p-0 ms-2")]),
        dbc.CardBody([
            dcc.Loading(html.Div("Reading the session manager…", id=SM_LIST, className="small"), delay_show=300),
            actions,
            dcc.Store(id=SM_CHANGED),
            dcc.Store(id=SM_START_PLAN),
            dcc.Store(id=SM_STOP_PLAN),
        ]),
        _modal(SM_START_MODAL, "Start a session?", SM_START_BODY, SM_START_GO, "Start the session",
               SM_START_CANCEL),
        _modal(SM_STOP_MODAL, "Stop the session?", SM_STOP_BODY, SM_STOP_GO, "Stop the session", SM_STOP_CANCEL),
    ], class_name="mb-3", id="ses-sm-card")


def _listing(title: str, rows: list[dict] | None, columns: tuple[str, ...], list_id: str, note: str = ""):
    if rows is None:
        return html.Div([html.Div(title, className="fw-semibold"),
                         html.Div(note or "not read", className="text-body-secondary mb-2")], id=list_id)
    if not rows:
        return html.Div([html.Div(title, className="fw-semibold"),
                         html.Div("none", className="text-body-secondary mb-2")], id=list_id)
    return html.Div([
        html.Div(title, className="fw-semibold"),
        dbc.Table([html.Thead(html.Tr([html.Th(c) for c in columns])),
                   html.Tbody([html.Tr([html.Td(r[c]) for c in columns], **{"data-name": r["name"]})
                               for r in rows])], size="sm", class_name="mb-2"),
    ], id=list_id)


def session_manager_view(state: dict):
    """The panel's body for one read (viewmodels.session_manager.build_state)."""
    colour, badge, sentence = sm_vm.headline(state)
    head = html.Div([dbc.Badge(badge, color=colour, class_name="me-2", id="ses-sm-badge"),
                     html.Span(sm_vm.layout_text(state.get("layout"), state.get("forced")) if state.get("layout")
                               else "", className="me-2", id="ses-sm-layout"),
                     html.Span(f"read {state.get('read_at')} UTC", className="text-body-secondary")],
                    className="mb-1")
    parts = [head, html.Div(sentence, className="mb-2", id="ses-sm-why")]
    if state.get("status") in ("none", "unreachable"):
        return html.Div(parts, **{"data-status": state.get("status")})
    if state.get("status") == "ok" or state.get("sessions") is not None:
        parts.append(_listing("Sessions", sm_vm.session_rows(state), ("name", "actor", "configuration"),
                              "ses-sm-sessions"))
    parts.append(_listing("Configurations", sm_vm.configuration_rows(state), ("name", "location", "kind"),
                          "ses-sm-configurations", sm_vm.configurations_note(state)))
    return html.Div(parts, **{"data-status": state.get("status")})


def confirmation(lines: list[str], list_id: str):
    return html.Ul([html.Li(line) for line in lines], className="rc-target-list small mb-0", id=list_id)
