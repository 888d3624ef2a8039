"""Saved boot configurations on the Sessions page: list, view, diff (read), save and delete (session.manage).

A save validates the plan with the Process Manager's boot-file parser (viewmodels/configurations.parse_plan);
saving under an existing name adds a version, and only the configuration's creator or an administrator
(users.admin) may do that or delete it. Every save and delete is audited with the plan's process names.
"""

from __future__ import annotations

import time

import dash_bootstrap_components as dbc
from dash import Output, ctx, html, no_update
from flask_login import current_user

from auth.actions import UserError, guarded_callback
from auth.shapes import In, St, clicks, integer, one_of, text
from callbacks.notify import notify
from components import boot_configs as ui
from components import sessions_page as ses
from store.boot_configs import ConfigurationExists, UnknownConfiguration
from viewmodels.boot import MAX_FILE_BYTES, BootDefaults
from viewmodels.configurations import PlanError, check_name, diff_plans, parse_plan, plan_text, upload_text

CHANGED = one_of(integer(), text(64))
PLAN_TEXT = text(MAX_FILE_BYTES)
UPLOAD = text(8 * MAX_FILE_BYTES)
AUDIT_NAMES = 200


def _user() -> str:
    return getattr(current_user, "name", "") or ""


def may_edit(created_by: str) -> bool:
    return bool(current_user.is_authenticated and (current_user.name == created_by
                                                   or current_user.can("users.admin")))


def save_plan(services, note, name: str, plan: dict, comment: str) -> int:
    """Validate `plan` and save it as `name` (new, or a new version); returns the CHANGED store's new value."""
    try:
        plan, entries = parse_plan(plan_text(plan), BootDefaults.from_settings(services.settings))
    except PlanError as exc:
        raise UserError(f"{name} was not saved: {exc}") from None
    note.arguments = {**(note.arguments or {}), "processes": [e.name for e in entries][:AUDIT_NAMES],
                      "count": len(entries)}
    store = services.boot_configs
    existing = store.get(name)
    try:
        if existing is None:
            saved = store.create(name, plan, _user(), comment)
        else:
            if not may_edit(existing.created_by):
                raise UserError(f"{name} was created by {existing.created_by}: only its author or an administrator "
                                "may change it. Save it under another name.")
            saved = store.add_version(name, plan, _user(), comment)
    except (ConfigurationExists, UnknownConfiguration) as exc:
        raise UserError(f"{name} was not saved ({exc}): try again.") from None
    note.arguments["version"] = saved.version
    note.detail = f"version {saved.version}, {len(entries)} processes"
    notify(f"Saved {name}", f"Version {saved.version} with {len(entries)} processes.", "success")
    return int(time.time() * 1000)


def register(app, services) -> None:
    audit = services.audit
    store = services.boot_configs

    @guarded_callback(
        app, audit,
        Output(ui.LIST, "children"),
        Output(ui.NAME, "options"),
        Output(ses.BOOT_CONFIG, "options"),
        In(ui.CHANGED, "data", CHANGED),
        permission="view",
    )
    def refresh_list(_changed):
        summaries = store.list()
        names = [s.name for s in summaries]
        return ui.configs_table(summaries), names, names

    @guarded_callback(
        app, audit,
        Output(ui.VERSION, "options"),
        Output(ui.VERSION, "value"),
        Output(ui.DIFF_A, "options"),
        Output(ui.DIFF_B, "options"),
        In(ui.NAME, "value", text(128)),
        In(ui.CHANGED, "data", CHANGED),
        prevent_initial_call=True,
        permission="view",
    )
    def pick_config(name, _changed):
        versions = store.versions(name) if name else []
        options = [{"label": f"v{v.version} · {v.author} · {v.created_at:%Y-%m-%d %H:%M}"
                    + (f" · {v.comment[:40]}" if v.comment else ""), "value": v.version} for v in versions]
        return options, versions[0].version if versions else None, options, options

    @guarded_callback(
        app, audit,
        Output(ui.VIEW, "children"),
        In(ui.VERSION, "value", integer(1)),
        St(ui.NAME, "value", text(128)),
        prevent_initial_call=True,
        permission="view",
    )
    def view_version(version, name):
        if not name or not version:
            return ""
        config = store.get(name, version)
        return plan_text(config.plan) if config else f"{name} v{version}: not found."

    @guarded_callback(
        app, audit,
        Output(ui.DIFF, "children"),
        In(ui.DIFF_A, "value", integer(1)),
        In(ui.DIFF_B, "value", integer(1)),
        St(ui.NAME, "value", text(128)),
        prevent_initial_call=True,
        permission="view",
    )
    def diff_versions(a, b, name):
        if not (name and a and b):
            return ""
        old, new = store.get(name, a), store.get(name, b)
        if old is None or new is None:
            return "One of the versions does not exist."
        changes = diff_plans(old.plan, new.plan)
        if not changes:
            return html.Span(f"v{a} and v{b} boot the same processes.", id="cfg-diff-none")
        colour = {"added": "text-success", "removed": "text-danger", "changed": ""}
        return html.Ul([html.Li(c.text(), className=colour[c.kind]) for c in changes], className="mb-0",
                       id="cfg-diff-list")

    @guarded_callback(
        app, audit,
        Output(ui.EDIT_NAME, "value"),
        Output(ui.EDIT_TEXT, "value"),
        In(ui.EDIT_LOAD, "n_clicks", clicks),
        In(ui.UPLOAD, "contents", UPLOAD),
        St(ui.NAME, "value", text(128)),
        St(ui.VERSION, "value", integer(1)),
        St(ui.UPLOAD, "filename", text(1000)),
        prevent_initial_call=True,
        permission="view",
    )
    def load_editor(_load, contents, name, version, filename):
        if ctx.triggered_id == ui.UPLOAD:
            if not contents:
                return no_update, no_update
            try:
                loaded = upload_text(contents)
            except PlanError as exc:
                raise UserError(f"{filename or 'the file'}: {exc}") from None
            stem = (filename or "").rsplit("/", 1)[-1].removesuffix(".json")
            try:
                return check_name(stem), loaded
            except PlanError:
                return no_update, loaded
        if not name:
            raise UserError("Choose a configuration to edit.")
        config = store.get(name, version)
        if config is None:
            raise UserError(f"{name}: not found.")
        return config.name, plan_text(config.plan)

    def describe_save(_n=None, name=None, *_rest):
        return str(name or "")[:128], {"source": "editor"}

    @guarded_callback(
        app, audit,
        Output(ui.CHANGED, "data"),
        In(ui.SAVE, "n_clicks", clicks),
        St(ui.EDIT_NAME, "value", text(128)),
        St(ui.EDIT_TEXT, "value", PLAN_TEXT),
        St(ui.EDIT_COMMENT, "value", text(2000)),
        permission="session.manage",
        action="session.configuration.save",
        describe=describe_save,
        prevent_initial_call=True,
    )
    def save_configuration(note, _n, name, plan_json, comment):
        note.target, note.arguments = str(name or ""), {"source": "editor"}
        try:
            name = check_name(name)
            plan, _entries = parse_plan(plan_json or "", BootDefaults.from_settings(services.settings))
        except PlanError as exc:
            raise UserError(f"Not saved: {exc}") from None
        return save_plan(services, note, name, plan, comment or "")

    @guarded_callback(
        app, audit,
        Output(ui.DELETE_MODAL, "is_open"),
        Output(ui.DELETE_BODY, "children"),
        In(ui.DELETE_OPEN, "n_clicks", clicks),
        In(ui.DELETE_CANCEL, "n_clicks", clicks),
        St(ui.NAME, "value", text(128)),
        prevent_initial_call=True,
    )
    def ask_delete(_open, _cancel, name):
        if ctx.triggered_id != ui.DELETE_OPEN:
            return False, no_update
        versions = store.versions(name) if name else []
        if not versions:
            raise UserError("Choose a configuration to delete.")
        return True, [html.P(f"Delete {name} and its {len(versions)} version{'s' if len(versions) != 1 else ''} "
                             f"(created by {versions[0].created_by}). Running processes are not touched."),
                      dbc.Alert("This cannot be undone; the audit trail keeps who deleted it.", color="warning",
                                class_name="py-1 mb-0")]

    def describe_delete(_n=None, name=None, *_rest):
        return str(name or "")[:128], None

    @guarded_callback(
        app, audit,
        Output(ui.CHANGED, "data", allow_duplicate=True),
        Output(ui.DELETE_MODAL, "is_open", allow_duplicate=True),
        In(ui.DELETE_GO, "n_clicks", clicks),
        St(ui.NAME, "value", text(128)),
        permission="session.manage",
        action="session.configuration.delete",
        describe=describe_delete,
        prevent_initial_call=True,
    )
    def delete_configuration(note, _n, name):
        note.target = str(name or "")
        config = store.get(name) if name else None
        if config is None:
            raise UserError("Choose a configuration to delete.")
        if not may_edit(config.created_by):
            raise UserError(f"{name} was created by {config.created_by}: only its author or an administrator may "
                            "delete it.")
        note.arguments = {"versions": config.version, "processes": [p.get("name") for p in config.processes
                                                                    if isinstance(p, dict)][:AUDIT_NAMES]}
        store.delete(name)
        notify(f"Deleted {name}", f"{config.version} version{'s' if config.version != 1 else ''} deleted.", "success")
        return int(time.time() * 1000), False
