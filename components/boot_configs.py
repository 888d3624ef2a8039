"""Saved boot configurations on the Sessions page: the list, a version's plan, a diff, the editor."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.guarded import guarded_button

LIST = "cfg-list"
CHANGED = "cfg-changed"  # bumped after a save or a delete: the lists and dropdowns refresh
NAME = "cfg-name"
VERSION = "cfg-version"
VIEW = "cfg-view"
DIFF_A = "cfg-diff-a"
DIFF_B = "cfg-diff-b"
DIFF = "cfg-diff"
EDIT_NAME = "cfg-edit-name"
EDIT_TEXT = "cfg-edit-text"
EDIT_COMMENT = "cfg-edit-comment"
EDIT_LOAD = "cfg-edit-load"
UPLOAD = "cfg-upload"
SAVE = "cfg-save"
DELETE_OPEN = "cfg-delete-open"
DELETE_MODAL = "cfg-delete-modal"
DELETE_BODY = "cfg-delete-body"
DELETE_GO = "cfg-delete-go"
DELETE_CANCEL = "cfg-delete-cancel"

EXAMPLE = """{"processes": [
  {"name": "ru-1", "session": "my-session", "executable": "sleep", "arguments": ["600"],
   "allowed_hosts": ["localhost"], "tree_id": "1.1.1", "environment": {"LEVEL": "2"}}
]}"""


def configs_table(summaries) -> object:
    if not summaries:
        return html.Div("No saved configuration yet.", className="text-body-secondary")
    rows = [html.Tr([html.Td(s.name), html.Td(f"v{s.version}"), html.Td(s.processes), html.Td(s.author),
                     html.Td(s.updated_at.strftime("%Y-%m-%d %H:%M UTC")), html.Td(s.created_by)],
                    **{"data-config": s.name}) for s in summaries]
    head = html.Thead(html.Tr([html.Th(h) for h in ("name", "version", "processes", "last author", "updated",
                                                    "created by")]))
    return dbc.Table([head, html.Tbody(rows)], size="sm", hover=True, class_name="mb-0", id="cfg-table")


def configs_panel(ctx):
    perms = ctx.permissions
    return dbc.Card([
        dbc.CardHeader("Saved boot configurations"),
        dbc.CardBody([
            html.Div(id=LIST),
            dbc.Row([
                dbc.Col([dbc.Label("Configuration", html_for=NAME), dcc.Dropdown(id=NAME, options=[])], md=5),
                dbc.Col([dbc.Label("Version", html_for=VERSION), dcc.Dropdown(id=VERSION, options=[])], md=3),
                dbc.Col([html.Div(className="mb-2"),
                         dbc.Button("Edit this version", id=EDIT_LOAD, size="sm", color="secondary",
                                    class_name="me-2 mt-3"),
                         guarded_button(DELETE_OPEN, "Delete…", "session.manage", perms, size="sm", color="danger",
                                        class_name="mt-3")], md=4),
            ], class_name="g-2 mt-2"),
            html.Pre(id=VIEW, className="rc-config-view small mt-2 mb-2", style={"maxHeight": "18rem"}),
            dbc.Row([
                dbc.Col([dbc.Label("Diff from version", html_for=DIFF_A), dcc.Dropdown(id=DIFF_A, options=[])], md=3),
                dbc.Col([dbc.Label("to version", html_for=DIFF_B), dcc.Dropdown(id=DIFF_B, options=[])], md=3),
            ], class_name="g-2"),
            html.Div(id=DIFF, className="small mt-2"),
            html.Hr(),
            html.H3("Create or edit", className="h6"),
            html.P(["A JSON list of processes, or {\"processes\": [...]}, with the keys of the Process Manager's "
                    "boot file (name, session, user, executable, arguments, environment, working_directory, "
                    "log_path, allowed_hosts, tree_id). A blank user or log path is filled in at each boot. "
                    "Saving under an existing name adds a version (its author or an administrator only)."],
                   className="small text-body-secondary"),
            dbc.Row([
                dbc.Col(dbc.Input(id=EDIT_NAME, placeholder="configuration name", maxLength=128), md=5),
                dbc.Col(dbc.Input(id=EDIT_COMMENT, placeholder="what changed (optional)", maxLength=2000), md=7),
            ], class_name="g-2 mb-2"),
            dbc.Textarea(id=EDIT_TEXT, placeholder=EXAMPLE, rows=10, class_name="font-monospace small",
                         maxLength=1024 * 1024),
            dcc.Upload(html.Div(["Drop a JSON file here, or ", html.A("choose one")]), id=UPLOAD,
                       className="rc-upload border rounded p-2 mt-2 small text-center", max_size=1024 * 1024),
            guarded_button(SAVE, "Save configuration", "session.manage", perms, color="primary", size="sm",
                           class_name="mt-2"),
            dcc.Store(id=CHANGED, data=0),
        ]),
        dbc.Modal([
            dbc.ModalHeader(dbc.ModalTitle("Delete the configuration?")),
            dbc.ModalBody(html.Div(id=DELETE_BODY)),
            dbc.ModalFooter([dbc.Button("Cancel", id=DELETE_CANCEL, color="secondary"),
                             dbc.Button("Delete every version", id=DELETE_GO, color="danger")]),
        ], id=DELETE_MODAL, is_open=False),
    ], class_name="mb-3", id="cfg-card")
