"""Boot on the Process Manager page: one process from the form, or every process of a previewed JSON file.

Both submit callbacks are mutating ("process.boot", gated by the permission process.boot) and re-check
everything on the server: the form through viewmodels.boot.parse_boot_form, the file by parsing the upload
again (and refusing it when it is not the one previewed).
"""

from __future__ import annotations

from dash import Input, Output, no_update
from flask_login import current_user

from auth.actions import UserError, guarded_callback
from auth.shapes import In, St, clicks, text
from callbacks.notify import notify
from components import boot_form as ui
from drunc_client.errors import DruncError, InvalidArguments
from viewmodels.boot import (
    FIELDS,
    FORM,
    MAX_BLOCK,
    MAX_FILE_BYTES,
    BootDefaults,
    BootFileError,
    audit_arguments,
    boot_entries,
    decode_upload,
    drunc_error_text,
    field_of_validation,
    parse_boot_file,
    parse_boot_form,
    summary_text,
    toast_plan,
    upload_digest,
)

PERMISSION = "process.boot"
ACTION = "process.boot"
FILE_BUDGET_SECS = 40.0  # start no new boot after this: the request must end before gunicorn's 60 s timeout
_KEYS = tuple(FIELDS)
# Larger than any file the preview accepts, so that a too-big file is told so by name, not "bad request".
UPLOAD = text(8 * MAX_FILE_BYTES)

_OPEN_CLOSE = (
    "function(_open, _close) {"
    " const ids = (window.dash_clientside.callback_context.triggered || []).map(t => t.prop_id);"
    f" return ids.some(id => id.startsWith({ui.OPEN!r} + '.'));"
    " }"
)


def _send_toasts(items: list[tuple[str, object, str]]) -> None:
    for title, message, kind in items:
        notify(title, message, kind)  # notify gathers every toast of one request into one Patch


def _form_outputs(errors: dict[str, str], alert: str | None, close: bool):
    invalid = [key in errors for key in _KEYS]
    feedback = [errors.get(key, "") for key in _KEYS]
    return (*invalid, *feedback, alert or "", bool(alert), False if close else no_update)


def _booted_text(info) -> str:
    return f"uuid {info.uuid} on {info.hostname}, log {info.log_path}"


def register(app, services) -> None:
    app.clientside_callback(
        _OPEN_CLOSE,
        Output(ui.MODAL, "is_open"),
        Input(ui.OPEN, "n_clicks"),
        Input(ui.CANCEL, "n_clicks"),
        prevent_initial_call=True,
    )

    def describe_form(_n_submit=None, name=None, *_rest):
        return str(name or "")[:200], {"source": "form"}

    @guarded_callback(
        app,
        services.audit,
        *[Output(ui.FIELD_IDS[key], "invalid") for key in _KEYS],
        *[Output(ui.FEEDBACK_IDS[key], "children") for key in _KEYS],
        Output(ui.FORM_ERROR, "children"),
        Output(ui.FORM_ERROR, "is_open"),
        Output(ui.MODAL, "is_open", allow_duplicate=True),
        In(ui.FORM, "n_submit", clicks),
        *[St(ui.FIELD_IDS[key], "value", text(MAX_BLOCK)) for key in _KEYS],
        permission=PERMISSION,
        action=ACTION,
        describe=describe_form,
        prevent_initial_call=True,
    )
    def boot_from_form(note, _n_submit, *values):
        raw = dict(zip(_KEYS, values, strict=True))
        user = current_user.name
        spec, errors = parse_boot_form(raw, BootDefaults.from_settings(services.settings))
        note.target = str(raw.get("name") or "")[:200]
        if spec is None:
            note.arguments = {"source": "form"}
            note.failed("invalid form: " + "; ".join(f"{FIELDS.get(k, 'form')}: {m}" for k, m in errors.items()))
            count = len([k for k in errors if k != FORM])
            alert = " ".join(filter(None, [
                f"Nothing was booted: fix the {count} marked field{'s' if count != 1 else ''}." if count else "",
                errors.get(FORM, ""),
            ]))
            return _form_outputs(errors, alert, close=False)
        note.target, note.arguments = spec.name, {"source": "form", **audit_arguments(spec)}
        try:
            info = services.drunc.process_manager(user).boot(spec)
        except InvalidArguments as exc:  # the client's own check: cannot happen after parse_boot_form
            field = field_of_validation(str(exc), spec)
            note.failed(str(exc))
            return _form_outputs({field: str(exc)}, "Nothing was booted: fix the marked field.", close=False)
        except DruncError as exc:
            text = drunc_error_text(exc)
            note.failed(text)
            _send_toasts([(f"Boot failed: {spec.name}", text, "danger")])
            return _form_outputs({}, f"{spec.name} was not booted. {text}", close=False)
        services.process_feed.poke()
        _send_toasts([(f"Booted {info.name}", _booted_text(info), "success")])
        return _form_outputs({}, None, close=True)

    @guarded_callback(
        app,
        services.audit,
        Output(ui.FILE_STATUS, "children"),
        Output(ui.PREVIEW, "children"),
        Output(ui.FILE_SUBMIT, "children"),
        Output(ui.FILE_SUBMIT, "disabled"),
        Output(ui.FILE_DIGEST, "data"),
        In(ui.UPLOAD, "contents", UPLOAD),
        St(ui.UPLOAD, "filename", text(1000)),
        permission=PERMISSION,
        prevent_initial_call=True,
    )
    def preview_file(contents, filename):
        if not contents:
            return None, None, "Boot the processes", True, None
        name = str(filename or "the file")
        try:
            entries = parse_boot_file(decode_upload(contents), BootDefaults.from_settings(services.settings))
        except BootFileError as exc:
            return ui.file_alert(f"{name}: {exc}", "danger"), None, "Boot the processes", True, None
        bad = sum(1 for e in entries if not e.ok)
        n = len(entries)
        plural = "es" if n != 1 else ""
        if bad:
            status = ui.file_alert(f"{name}: {n} process{plural}, {bad} invalid. Fix the file and choose it again: "
                                   "nothing is booted while an entry is invalid.", "danger")
        else:
            status = ui.file_alert(f"{name}: {n} process{plural}, all valid. Check them, then boot.", "info")
        return status, ui.preview_table(entries), f"Boot {n} process{plural}", bad > 0, upload_digest(contents)

    def describe_file(_n=None, _contents=None, filename=None, *_rest):
        return str(filename or "")[:200], {"source": "file"}

    @guarded_callback(
        app,
        services.audit,
        Output(ui.MODAL, "is_open", allow_duplicate=True),
        Output(ui.UPLOAD, "contents"),
        In(ui.FILE_SUBMIT, "n_clicks", clicks),
        St(ui.UPLOAD, "contents", UPLOAD),
        St(ui.UPLOAD, "filename", text(1000)),
        St(ui.FILE_DIGEST, "data", text(128)),
        permission=PERMISSION,
        action=ACTION,
        describe=describe_file,
        prevent_initial_call=True,
    )
    def boot_from_file(note, _n_clicks, contents, filename, digest):
        name = str(filename or "the file")
        note.target, note.arguments = name[:200], {"source": "file"}
        if not contents:
            raise UserError("Choose a file first.")
        if digest != upload_digest(contents):
            raise UserError("The file changed since its preview: check the new preview, then boot.")
        user = current_user.name
        try:
            entries = parse_boot_file(decode_upload(contents), BootDefaults.from_settings(services.settings))
        except BootFileError as exc:
            raise UserError(f"{name}: {exc}") from None
        note.arguments = {"source": "file", "file": name, "count": len(entries), "names": [e.name for e in entries]}
        bad = [e for e in entries if not e.ok]
        if bad:
            raise UserError(f"{len(bad)} of the {len(entries)} processes in {name} are invalid (see the preview): "
                            "nothing was booted.")
        results = boot_entries(services.drunc.process_manager(user), entries, FILE_BUDGET_SECS, "file",
                               _booted_text)
        booted = [r.name for r in results if r.ok]
        if booted:
            services.process_feed.poke()
        shown, rest = toast_plan(results)
        toasts = [(f"Booted {r.name}", r.text, "success") if r.ok else (f"Boot failed: {r.name}", r.text, "danger")
                  for r in shown]
        if rest:
            failed_rest = any(not r.ok for r in rest)
            toasts.append((f"{len(rest)} more processes", summary_text(rest), "danger" if failed_rest else "success"))
        _send_toasts(toasts)
        note.arguments["booted"] = booted
        failed = [r for r in results if not r.ok]
        if failed:
            note.failed(f"{len(failed)} of {len(results)} not booted: "
                        + "; ".join(f"{r.name}: {r.text}" for r in failed[:20]) + (" …" if len(failed) > 20 else ""))
        if not booted:
            return no_update, no_update  # keep the preview: the operator may try again
        return False, None  # close, and clear the file so that reopening cannot boot it twice
