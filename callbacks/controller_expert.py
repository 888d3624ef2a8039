"""Controller page, expert section: recompute_status and execute_expert_command (druncschema 0.11 only).

Never automatic: nothing else in the UI calls recompute_status. On drunc 0.13.2 recompute_status on a
controller without children answers an exception, and on the root that leaves the root in error for good (only a
restart clears it: drunc-protocol-0.11.md section 9), so each call is behind a confirmation that says so. Both
need `controller.expert` (checked here, on the server, for the question and for the action), are sent to the
root (the whole tree), need the caller in charge of the root and no transition running, and are audited. On a
0.8 root the buttons are disabled with the reason.
"""

from __future__ import annotations

import json
import logging
import time

from dash import Output, ctx, html, no_update
from dash.exceptions import PreventUpdate

from auth.actions import UserError, caller, guarded_callback
from auth.shapes import In, St, clicks, integer, or_reset, record, text
from callbacks.controller_shared import CHANGED, changed_now, taken_since
from callbacks.notify import notify
from components import controller_ids as ids
from components import expert_panel as ui
from drunc_client.errors import DruncError, NotInControl
from viewmodels import control as vm

log = logging.getLogger("runcontrol.controller")

SESSION = text(255)
REQUEST = record({"action": text(16, choices=("recompute", "expert")), "json": text(ui.MAX_JSON),
                  "n": integer(0)})
OLD_LAYOUT = ("drunc 0.10.x (druncschema 0.8) has neither recompute_status nor execute_expert_command: these "
              "need a druncschema 0.11 root (drunc 0.13.x).")
RECOMPUTE_WARNING = ("recompute_status makes every controller recompute its status from its included children. On "
                     "drunc 0.13.2 a controller without children answers with an exception (KeyError), and on the "
                     "root that leaves the root in error for good: only restarting the root's process clears it. "
                     "It is not a refresh: the tree is read every second without it.")


def parse_expert_json(raw) -> str:
    """The expert command's text, checked: JSON, an object, at most MAX_JSON characters. Raises UserError."""
    textual = (raw or "").strip() if isinstance(raw, str) else ""
    if not textual:
        raise UserError("Type the expert command as JSON first (an object, e.g. {\"command\": \"...\"}).")
    if len(textual) > ui.MAX_JSON:
        raise UserError(f"The expert command is longer than {ui.MAX_JSON} characters.")
    try:
        value = json.loads(textual)
    except json.JSONDecodeError as exc:
        raise UserError(f"The expert command is not valid JSON: {exc.msg} at line {exc.lineno}, column "
                        f"{exc.colno}.") from None
    if not isinstance(value, dict):
        raise UserError(f"The expert command must be a JSON object ({{...}}), not a {type(value).__name__}.")
    return textual


def register(app, services) -> None:
    feeds = services.controller_feeds
    audit = services.audit
    locks = services.controller_locks

    def blocked(snap, user: str) -> str | None:
        """Why neither expert action can be sent now (None: they can)."""
        if not snap.registered or not snap.nodes:
            return snap.message or "no root controller"
        if snap.schema and not snap.targeted:
            return OLD_LAYOUT
        if not snap.schema:
            return "the root's layout is not known yet (it does not answer)"
        root = snap.nodes[0]
        if root.get("unreachable") or not snap.ok:
            return f"{root.get('name')} does not answer"
        lock = locks.current(snap.root) if snap.root else None
        if lock is not None:
            return lock.text()
        actor = vm.actor_name(root.get("in_charge"))
        if not vm.is_actor(actor, user):
            return vm.not_in_control_text(root.get("name", ""), actor)
        return None

    @guarded_callback(
        app, audit,
        Output(ui.RECOMPUTE, "disabled"),
        Output(ui.SEND, "disabled"),
        Output(ui.WHY, "children"),
        In(ui.TICK, "n_intervals", clicks),
        In(ids.CHANGED, "data", CHANGED),
        In(ids.SESSION, "data", SESSION),
        permission=ui.PERMISSION,
    )
    def expert_state(_ticks, _changed, session):
        snap = feeds.snapshot(session or None)
        reason = blocked(snap, caller().name)
        if reason is None:
            root = snap.nodes[0]
            why = f"Sent to {root.get('name')} ({snap.root}) for the whole tree. Never needed for routine work."
        else:
            why = reason
        return reason is not None, reason is not None, why

    @guarded_callback(
        app, audit,
        Output(ui.CONFIRM, "is_open"),
        Output(ui.CONFIRM_TITLE, "children"),
        Output(ui.CONFIRM_BODY, "children"),
        Output(ui.PENDING, "data"),
        In(ui.RECOMPUTE, "n_clicks", clicks),
        In(ui.SEND, "n_clicks", clicks),
        In(ui.CONFIRM_CANCEL, "n_clicks", clicks),
        St(ui.JSON, "value", text(ui.MAX_JSON + 1000)),
        St(ids.SESSION, "data", SESSION),
        permission=ui.PERMISSION,
        prevent_initial_call=True,
    )
    def ask_expert(_recompute, _send, _cancel, raw, session):
        trigger = ctx.triggered_id
        if trigger == ui.CONFIRM_CANCEL:
            return False, no_update, no_update, None
        if trigger not in (ui.RECOMPUTE, ui.SEND):
            raise PreventUpdate
        snap = feeds.snapshot(session or None)
        reason = blocked(snap, caller().name)
        if reason is not None:
            raise UserError(reason)
        root = snap.nodes[0]
        where = html.P(f"Sent to {root.get('name')} at {snap.root}, which passes it to the {len(snap.nodes) - 1} "
                       f"nodes below it (session {snap.session}).", id="ctl-expert-route")
        n = int(time.time() * 1000)
        if trigger == ui.RECOMPUTE:
            body = [html.P(RECOMPUTE_WARNING, className="text-danger fw-semibold", id="ctl-expert-warning"), where]
            return True, f"Recompute the status of {root.get('name')}?", body, {"action": "recompute", "json": "",
                                                                                 "n": n}
        command = parse_expert_json(raw)
        body = [html.P("execute_expert_command passes this JSON to every node, as is:"),
                html.Pre(command, className="small border rounded p-2", id="ctl-expert-preview"), where]
        return True, f"Send an expert command to {root.get('name')}?", body, {"action": "expert", "json": command,
                                                                              "n": n}

    def describe_expert(_clicks, request, session):
        request = request if isinstance(request, dict) else {}
        action = {"recompute": "controller.recompute_status", "expert": "controller.expert_command"}.get(
            request.get("action"))
        return str(session or ""), {"json": str(request.get("json", ""))[:2000]}, action

    @guarded_callback(
        app, audit,
        Output(ui.CONFIRM, "is_open", allow_duplicate=True),
        Output(ids.CHANGED, "data", allow_duplicate=True),
        In(ui.CONFIRM_OK, "n_clicks", clicks),
        St(ui.PENDING, "data", or_reset(REQUEST)),
        St(ids.SESSION, "data", SESSION),
        permission=ui.PERMISSION,
        action="controller.expert",
        describe=describe_expert,
        prevent_initial_call=True,
    )
    def run_expert(note, clicks_, request, session):
        if not clicks_:
            note.skip = True  # drawn, not clicked
            return no_update, no_update
        if not request:
            raise UserError("Nothing to confirm: ask again from the Expert section (the page may be stale).")
        verb = request.get("action")
        note.action = "controller.recompute_status" if verb == "recompute" else "controller.expert_command"
        snap = feeds.snapshot(session or None)
        note.arguments = {"session": snap.session, "schema": snap.schema}
        reason = blocked(snap, caller().name)
        if reason is not None:
            root = snap.nodes[0] if snap.nodes else {}
            actor = vm.actor_name(root.get("in_charge"))
            if root and not vm.is_actor(actor, caller().name) and snap.targeted:
                reason = vm.not_in_control_text(root.get("name", ""), actor,
                                                taken_since(audit, root.get("path", ""), actor))
            raise UserError(f"Not sent: {reason}")
        root = snap.nodes[0]
        note.target = f"{root.get('name')} ({snap.root}, session {snap.session})"
        client = services.drunc.controller(caller().name, address=snap.root, session=snap.session)
        title = f"{'Recompute status' if verb == 'recompute' else 'Expert command'}: {root.get('name')}"
        try:
            if verb == "recompute":
                status = client.recompute_status()
                note.arguments.update(state=status.state, in_error=status.in_error)
                note.detail = f"{status.name}: {status.state}{', in error' if status.in_error else ''}"
                notify(title, f"{status.name} is {status.state}" + (" and IN ERROR" if status.in_error else
                                                                    ", not in error"),
                       "warning" if status.in_error else "success")
            else:
                command = parse_expert_json(request.get("json"))
                note.arguments["json"] = command[:2000]
                result = client.expert_command(command)
                failed = result.failures()
                if failed:
                    note.failed("; ".join(f"{f.name}: {f.flag} {f.text.strip()[:200]}" for f in failed[:20]))
                    notify(title, "Failed on: " + ", ".join(f"{f.name} ({f.flag})" for f in failed[:20]), "danger")
                else:
                    note.detail = "propagated to the tree"
                    notify(title, f"{root.get('name')} propagated the expert command.", "success")
        except NotInControl:
            raise UserError(vm.not_in_control_text(root.get("name", ""), "someone else")) from None
        except DruncError as exc:
            note.failed(str(exc))
            notify(title, str(exc), "danger")
        try:
            feeds.refresh_now(session or None)
        except DruncError:
            log.warning("refresh after an expert action failed", exc_info=True)
        return False, changed_now()
