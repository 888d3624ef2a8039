"""Boot: a form for one process and a JSON file for several, in one modal opened from the Process Manager toolbar.

The checks run on the server (viewmodels/boot.py); each field shows its own message under it.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.guarded import guarded_button
from viewmodels.boot import FIELDS, MAX_PROCESSES, BootDefaults, BootEntry

PERMISSION = "process.boot"

OPEN = "pm-boot-open"
MODAL = "pm-boot"
TABS = "pm-boot-tabs"
CANCEL = "pm-boot-cancel"

FORM = "pm-boot-form"  # dbc.Form: its n_submit (the Boot button, or Enter in a field) submits
SUBMIT = "pm-boot-submit"
FORM_ERROR = "pm-boot-form-error"
FIELD_IDS = {key: f"pm-boot-{key.replace('_', '-')}" for key in FIELDS}
FEEDBACK_IDS = {key: f"{FIELD_IDS[key]}-error" for key in FIELDS}

UPLOAD = "pm-boot-upload"
FILE_STATUS = "pm-boot-file-status"
PREVIEW = "pm-boot-preview"
FILE_SUBMIT = "pm-boot-file-submit"
FILE_DIGEST = "pm-boot-file-digest"  # the sha256 of the previewed upload: only what was previewed is booted

_HELP = {
    "name": "No spaces or “/”.",
    "session": "One word.",
    # "user" and "log_path" name the configured defaults: see _help()
    "executable": "A program name or path, without arguments.",
    "arguments": "Split like a shell: quote an argument that contains spaces, e.g. -c 'echo hi; sleep 5'. "
                 "Passed literally ($VARIABLES are not expanded).",
    "environment": "One KEY=VALUE per line; blank lines and lines starting with # are ignored.",
    "working_directory": "Optional; blank: the account's home directory on the host (drunc runs a bare cd).",
    "allowed_hosts": "Separated by commas or spaces; the first usable one is chosen.",
    "tree_id": "Optional: three dot-separated numbers, like 1.2.3.",
}
_PLACEHOLDERS = {
    "name": "e.g. my-process",
    "session": "e.g. my-session",
    "executable": "e.g. sleep",
    "arguments": "e.g. 30",
    "environment": "e.g. LEVEL=2",
    "working_directory": "e.g. /path/to/run/in",
    "log_path": "e.g. /path/to/process.log",
    "tree_id": "e.g. 1.2.3",
}
_EXAMPLE = """{"processes": [
  {"name": "writer-1", "session": "test", "executable": "bash",
   "arguments": ["-c", "while true; do echo hi; sleep 1; done"],
   "environment": {"LEVEL": "2"}, "allowed_hosts": ["localhost"], "tree_id": "1.2.3"},
  {"name": "sleeper", "session": "test", "executable": "sleep", "arguments": "30"}
]}"""


def boot_button(ctx) -> html.Span:
    return guarded_button(OPEN, "Boot…", PERMISSION, ctx.permissions, color="primary", size="sm")


def _defaults(ctx) -> BootDefaults:
    return BootDefaults.from_settings(ctx.settings)


def _help(key: str, defaults: BootDefaults) -> str:
    if key == "user":
        return (f"The Unix account on the DAQ host that runs the process (ssh): drunc logs in as this user, who "
                f"must exist there and accept the process manager's ssh key; not your web login. "
                f"Blank: {defaults.user} (BOOT_DEFAULT_USER).")
    if key == "log_path":
        return (f"Where the process's output goes, on its host. Blank: {defaults.log_hint} (BOOT_LOG_DIR, "
                f"BOOT_LOG_PATTERN; time in UTC). drunc has no default of its own.")
    return _HELP[key]


def _field(key: str, ctx, width: int) -> dbc.Col:
    defaults = _defaults(ctx)
    placeholders = {**_PLACEHOLDERS, "log_path": defaults.log_hint}
    common = {"id": FIELD_IDS[key], "invalid": False, "placeholder": placeholders.get(key, "")}
    if key == "environment":
        control = dbc.Textarea(rows=4, spellcheck=False, submit_on_enter=False, class_name="font-monospace",
                               **common)
    else:
        value = {"user": defaults.user, "allowed_hosts": "localhost"}.get(key, "")
        control = dbc.Input(type="text", value=value, autocomplete="off",
                            class_name="font-monospace" if key in ("arguments", "executable") else None, **common)
    return dbc.Col(
        [
            dbc.Label(FIELDS[key], html_for=FIELD_IDS[key], class_name="mb-1"),
            control,
            dbc.FormFeedback(id=FEEDBACK_IDS[key], type="invalid"),
            dbc.FormText(_help(key, defaults)),
        ],
        md=width,
        class_name="mb-2",
    )


def _form_tab(ctx) -> dbc.Form:
    rows = [
        (("name", 4), ("session", 4), ("user", 4)),
        (("executable", 4), ("arguments", 8)),
        (("environment", 12),),
        (("working_directory", 6), ("log_path", 6)),
        (("allowed_hosts", 8), ("tree_id", 4)),
    ]
    return dbc.Form(
        [
            *[dbc.Row([_field(key, ctx, width) for key, width in row], class_name="g-2") for row in rows],
            dbc.Alert(id=FORM_ERROR, color="danger", is_open=False, class_name="py-2 mt-2"),
            html.Div(dbc.Button("Boot", id=SUBMIT, type="submit", color="primary"), className="text-end mt-2"),
        ],
        id=FORM,
        class_name="pt-3",
    )


def _file_tab(ctx) -> html.Div:
    defaults = _defaults(ctx)
    return html.Div(
        [
            html.P(
                [
                    "A JSON file: a list of processes, or {\"processes\": [...]}, each with the form's fields as "
                    f"keys: name, session, user ({defaults.user} when absent: the Unix account on the DAQ host), "
                    "executable, arguments (a list, or a string split like a shell), environment (an object), "
                    f"working_directory, log_path ({defaults.log_hint} when absent; the time is the boot's), "
                    "allowed_hosts (a list or a string; localhost when absent), tree_id. At most 1 MB and "
                    f"{MAX_PROCESSES} processes. Nothing is booted before you have seen the preview.",
                ],
                className="small text-body-secondary",
            ),
            html.Details([html.Summary("Example", className="small"), html.Pre(_EXAMPLE, className="small mb-2")]),
            dcc.Upload(
                id=UPLOAD,
                children=html.Div(["Drop a .json file here, or ",
                                   html.Span("choose one", className="link-primary text-decoration-underline")]),
                accept=".json,application/json",
                multiple=False,
                className="rc-boot-upload",
                style={"border": "2px dashed var(--bs-border-color)", "borderRadius": "0.5rem",
                       "padding": "1.25rem", "textAlign": "center", "cursor": "pointer"},
                style_active={"borderColor": "var(--bs-primary)"},
            ),
            html.Div(id=FILE_STATUS, className="mt-2"),
            html.Div(id=PREVIEW, className="mt-2"),
            html.Div(
                dbc.Button("Boot the processes", id=FILE_SUBMIT, color="primary", disabled=True),
                className="text-end mt-2",
            ),
            dcc.Store(id=FILE_DIGEST),
        ],
        className="pt-3",
    )


def boot_modal(ctx) -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Boot processes")),
            dbc.ModalBody(
                dbc.Tabs(
                    [
                        dbc.Tab(_form_tab(ctx), label="Form", tab_id="form"),
                        dbc.Tab(_file_tab(ctx), label="From a JSON file", tab_id="file"),
                    ],
                    id=TABS,
                    active_tab="form",
                )
            ),
            dbc.ModalFooter(dbc.Button("Close", id=CANCEL, color="secondary")),
        ],
        id=MODAL,
        is_open=False,
        size="xl",
        scrollable=True,
    )


def preview_table(entries: list[BootEntry]) -> dbc.Table:
    """One row per process of the file; drunc-bound strings are plain text (Dash escapes them)."""
    header = html.Thead(html.Tr([html.Th(h) for h in ("#", "Name", "Session", "User", "Hosts", "Command",
                                                      "Log path", "Status")]))
    rows = [
        html.Tr(
            [
                html.Td(str(e.index)),
                html.Td(e.name),
                html.Td(e.session),
                html.Td(e.user),
                html.Td(", ".join(e.hosts)),
                html.Td(e.command, className="font-monospace small"),
                html.Td(e.log_path, className="font-monospace small"),
                html.Td(e.status, className="text-success" if e.ok else "text-danger"),
            ],
            className=None if e.ok else "table-danger",
        )
        for e in entries
    ]
    return dbc.Table([header, html.Tbody(rows)], id=f"{PREVIEW}-table", size="sm", bordered=True, hover=True,
                     responsive=True, class_name="mb-0")


def file_alert(text: str, color: str) -> dbc.Alert:
    return dbc.Alert(text, id=f"{FILE_STATUS}-alert", color=color, class_name="py-2 mb-0")
