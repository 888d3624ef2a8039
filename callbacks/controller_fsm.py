"""Controller page: the FSM from the controller, and transitions and sequences run as background jobs.

A tick (cheap: the shared tree snapshot, the describe_fsm cache, one read of the controller lock) draws the
diagram, the commands allowed now and why they are disabled, the steps and busy nodes of the transition running
(on every tab: the job writes its progress into the shared cache) and the last outcome. The dialog is generated
from the arguments and validated inline with the client's own rules. Running takes the root's lock (one
transition at a time, whatever the tab or web host), runs in a forked job that outlives the tab, records the
run on start/stop success, audits every node's outcome, and asks every tab to refresh.

On a druncschema 0.11 root (drunc 0.13.x) a transition can be addressed to one controller's subtree: the
target picker chooses it, the transitions offered are those leaving that controller's state, the command goes
to the root with the controller's path as `target` (never to the child's own address), and the dialog, the
audit and the results name the target and the root it goes through. Sequences stay whole-tree commands.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime

from dash import ALL, Output, ctx, html, no_update
from dash.exceptions import PreventUpdate

from auth.actions import UserError, caller, guarded_callback
from auth.shapes import In, St, boolean, clicks, list_of, or_reset, record, scalar, text
from callbacks.controller_shared import CHANGED, changed_now, taken_since
from callbacks.notify import notify
from components import controller_ids as ids
from components import fsm_panel as ui
from drunc_client.controller import SEQUENCES, SequenceStep
from drunc_client.errors import DruncError, NotInControl
from polling.fsm_cache import FsmCache, FsmNotRead
from viewmodels.control import node_by_path, subtree
from viewmodels.fsm import (
    DISRUPTIVE,
    SEQUENCE_LABELS,
    command_block,
    diagram_elements,
    form_fields,
    in_charge_text,
    parse_arguments,
    progress_summary,
    result_rows,
    steps_of,
    target_block,
)

SESSION = text(255)
PATH = text(2000)
PENDING = or_reset(record({"name": text(64, optional=False), "fields": list_of(text(128), 200),
                           "disruptive": boolean, "session": text(255), "target": PATH}))
VALUES = list_of(scalar(1000), 200)
AUDIT_NODES = 500  # per-node outcomes written into one audit event


def _hms(moment: datetime | float | None) -> str:
    if moment is None:
        return ""
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.strftime("%H:%M:%S")


def register(app, services) -> None:
    audit = services.audit
    feeds = services.controller_feeds
    locks = services.controller_locks
    settings = services.settings
    fsm = feeds.fsm  # kept fresh by the tree sweep: nothing here asks describe_fsm

    def in_charge_since(root: str, node: dict | None) -> str | None:
        """When the root's actor took control through this UI ("13:40 UTC", from the control part's audit
        events: callbacks.controller_shared), remembered 30 s per root and actor so a tick reads no audit."""
        who = (node or {}).get("in_charge", "")
        if not who or who == caller().name:
            return None
        key = f"fsm-since:{root}:{who}"
        cached = fsm.cache.get(key)
        if cached is not None:
            return cached or None
        moment = taken_since(audit, (node or {}).get("path", ""), who)
        since = f"{moment.astimezone(UTC):%H:%M} UTC" if moment else ""
        fsm.cache.set(key, since, expire=30)
        return since or None

    def situation(session: str):
        """(snapshot, root node, state, graph or None, error text, lock)."""
        snap = feeds.snapshot(session)
        root_node = snap.root_node if snap.registered else None
        state = (root_node or {}).get("state") or None
        graph, error = None, None
        if snap.root:
            try:
                graph = fsm.graph(session, snap.root, state)
            except FsmNotRead:
                error = "the FSM has not been read from the controller yet: it is, at the next refresh"
            except DruncError as exc:
                error = f"the FSM could not be read: {exc}"
        lock = locks.current(snap.root) if snap.root else None
        return snap, root_node, state, graph, error, lock

    def aim(snap, root_node, chosen) -> dict | None:
        """The controller below the root a transition is addressed to (0.11 only), or None for the whole tree."""
        if not (snap.targeted and root_node and chosen) or chosen == root_node.get("path"):
            return None
        node = node_by_path(snap.nodes, chosen)
        return node if node is not None and node.get("kind") == "controller" else None

    def through_text(snap, root_node, target, session) -> str:
        if target is None:
            return f"{root_node['name']} (session {session}, {len(snap.nodes)} nodes)"
        reached = len(subtree(snap.nodes, target["path"]))
        return (f"{target['name']} through {root_node['name']} (target {target['path']}, session {session}, "
                f"{reached} node{'s' if reached != 1 else ''})")

    # ------------------------------------------------------------------------------------------- the tick

    @guarded_callback(
        app, audit,
        Output(ui.STATE, "children"),
        Output(ui.STATE, "className"),
        Output(ui.REASON, "children"),
        Output(ui.DIAGRAM, "elements"),
        Output(ui.BUTTONS, "children"),
        Output(ui.PROGRESS, "children"),
        Output(ui.RESULTS, "children"),
        Output(ui.VIEW, "data"),
        Output(ui.LOCK, "data"),
        Output(ui.TARGET, "options"),
        Output(ui.TARGET, "value"),
        Output(ui.TARGET_WRAP, "style"),
        In(ui.TICK, "n_intervals", clicks),
        In(ids.CHANGED, "data", CHANGED),
        In(ids.SESSION, "data", SESSION),
        In(ui.TARGET, "value", or_reset(PATH)),
        St(ui.VIEW, "data", or_reset(text(64))),
    )
    def fsm_tick(_ticks, _changed, session, chosen, shown):
        user = caller()
        session = session or feeds.default_session
        snap, root_node, state, graph, error, lock = situation(session)
        target = aim(snap, root_node, chosen)
        lock_text = lock.text() if lock else None
        since = in_charge_since(snap.root, root_node) if root_node else None
        reason = command_block(can_command=user.can("controller.command"), user=user.name, root=root_node,
                               lock_text=lock_text, since=since)
        if reason is None and target is not None:
            reason = target_block(snap.nodes, target, user.name)
        if not snap.registered:
            reason = snap.message
        if target is not None:
            state = target.get("state") or None
        transitions = graph.allowed(state) if graph and state else []
        # sequences are whole-tree commands (their steps are asked of the root)
        sequences = graph.sequences(state) if graph and state and target is None else []
        options = ui.target_options(snap.nodes) if snap.targeted else []
        progress = fsm.progress(snap.root) if snap.root else None
        busy = progress_summary(snap.nodes)
        last = fsm.cache.get(f"fsm-last:{snap.root}") if snap.root else None
        view = {"state": state, "t": transitions, "s": sequences, "reason": reason, "error": error,
                "edges": [e.__dict__ for e in graph.edges] if graph else [], "progress": progress, "busy": busy,
                "last": (last or {}).get("id"), "lock": lock_text, "in_error": (root_node or {}).get("in_error"),
                "options": options, "target": (target or {}).get("path")}
        signature = hashlib.sha1(json.dumps(view, sort_keys=True, default=str).encode()).hexdigest()[:16]
        if signature == shown:
            raise PreventUpdate  # nothing changed: the tick costs a 204
        shown_node = target or root_node or {}
        badge = "badge " + ("text-bg-danger" if shown_node.get("in_error") else
                            "text-bg-success" if state == "running" else
                            "text-bg-warning" if shown_node.get("busy") else "text-bg-secondary")
        elements = diagram_elements(graph, state, transitions, reason is None) if graph else []
        labels = [(s, SEQUENCE_LABELS.get(s, s)) for s in sequences]
        shown_reason = [html.Span(error, className="text-danger d-block")] if error else []
        if target is not None:
            shown_reason.append(html.Span(f"{target['name']} ({state or '?'}): commands go through "
                                          f"{root_node['name']} with target {target['path']}.",
                                          className="d-block", id="ctl-fsm-through"))
        if reason:
            shown_reason.append(html.Span(reason, id="ctl-fsm-why"))
        value = (target or root_node or {}).get("path") if snap.targeted else None
        return (state or "—", badge, shown_reason, elements, ui.command_buttons(transitions, labels, reason),
                ui.step_list(progress, busy) if (progress or busy) else None, ui.results_view(last), signature,
                {"held": lock is not None, "text": lock_text or ""}, options, value,
                {"display": "flex"} if snap.targeted else {"display": "none"})

    # ------------------------------------------------------------------------------------- open the dialog

    @guarded_callback(
        app, audit,
        Output(ui.MODAL, "is_open"),
        Output(ui.MODAL_TITLE, "children"),
        Output(ui.MODAL_BODY, "children"),
        Output(ui.PENDING, "data"),
        Output(ui.FORM_ERROR, "children"),
        Output(ui.CONFIRM, "value"),
        Output(ui.CONFIRM, "label"),
        Output(ui.CONFIRM_WRAP, "style"),
        In({"type": ui.COMMAND, "name": ALL}, "n_clicks", list_of(clicks, 100)),
        In(ui.DIAGRAM, "tapEdgeData", record(max_bytes=10_000)),
        In(ui.CANCEL, "n_clicks", clicks),
        St(ids.SESSION, "data", SESSION),
        St(ui.TARGET, "value", or_reset(PATH)),
        prevent_initial_call=True,
    )
    def open_dialog(_clicks, edge, _cancel, session, chosen):
        trigger = ctx.triggered_id
        unchanged = (no_update, no_update, no_update, no_update, "", no_update, no_update, no_update)
        if trigger == ui.CANCEL:
            return False, no_update, no_update, None, "", False, "", {"display": "none"}
        if isinstance(trigger, dict):
            if not any(t.get("value") for t in ctx.triggered):
                return unchanged  # a button was (re)drawn, not clicked
            name = trigger.get("name")
        elif trigger == ui.DIAGRAM:
            name = (edge or {}).get("transition")
        else:
            return unchanged
        if not isinstance(name, str) or not name:
            return unchanged
        session = session or feeds.default_session
        user = caller()
        snap, root_node, state, graph, error, lock = situation(session)
        if graph is None:
            raise UserError(error or snap.message or "no root controller to command")
        reason = command_block(can_command=user.can("controller.command"), user=user.name, root=root_node,
                               lock_text=lock.text() if lock else None,
                               since=in_charge_since(snap.root, root_node))
        aimed = aim(snap, root_node, chosen)
        if reason is None and aimed is not None:
            reason = target_block(snap.nodes, aimed, user.name)
        if reason:
            raise UserError(f"{name}: {reason}")
        check_allowed(graph, name, state, aimed)
        fields = form_fields(graph, name, {"run_number": services.runs.next_number()})
        disruptive = name in DISRUPTIVE
        target = through_text(snap, root_node, aimed, session)
        listing = [vm_line(n) for n in subtree(snap.nodes, aimed["path"]) if n.get("included", True)] \
            if aimed is not None else None
        title = SEQUENCE_LABELS.get(name, name) + (" — stops the run" if name in ("stop", "stop_run") else "")
        pending = {"name": name, "fields": [f.name for f in fields], "disruptive": disruptive, "session": session,
                   "target": aimed["path"] if aimed is not None else ""}
        return (True, title, ui.dialog_body(steps_of(name), fields, target, listing), pending, "",
                *ui.confirmation(name, target, disruptive))

    def check_allowed(graph, name: str, state: str | None, aimed: dict | None) -> None:
        if aimed is not None and name in SEQUENCES:
            raise UserError(f"{name} is a whole-tree sequence: choose the root as the target, or run its "
                            f"transitions one by one on {aimed['name']}")
        if name not in graph.allowed(aimed.get("state") if aimed else state) and (
                aimed is not None or name not in graph.sequences(state)):
            raise UserError(f"{name} is not allowed from {aimed.get('state') if aimed else state}")

    # -------------------------------------------------------------------------------- inline validation

    @guarded_callback(
        app, audit,
        Output({"type": ui.ARG_ERROR, "name": ALL}, "children"),
        Output(ui.RUN, "disabled"),
        Output(ui.RUN, "children"),
        In({"type": ui.ARG, "name": ALL}, "value", VALUES),
        In(ui.CONFIRM, "value", boolean),
        In(ui.PENDING, "data", PENDING),
    )
    def validate_form(values, confirmed, pending):
        pending = _usable(pending)
        outputs = ctx.outputs_list[0] if ctx.outputs_list else []
        names = [o["id"].get("name") for o in outputs if isinstance(o, dict) and isinstance(o.get("id"), dict)]
        if not pending:
            return [""] * len(names), True, "Run"
        errors = _form_errors(pending, values or [])
        label = f"Run {SEQUENCE_LABELS.get(pending['name'], pending['name'])}"
        blocked = bool(errors) or (bool(pending.get("disruptive")) and not confirmed)
        return [errors.get(n, "") for n in names], blocked, label

    def _form_errors(pending: dict, values: list) -> dict[str, str]:
        session = pending.get("session") or feeds.default_session
        snap = feeds.snapshot(session)
        if not snap.root:
            return {}
        try:
            graph = fsm.graph(session, snap.root, None)
        except DruncError:
            return {}
        fields = form_fields(graph, pending["name"])
        raw = dict(zip(pending.get("fields") or [], values, strict=False))
        return parse_arguments(graph, pending["name"], fields, raw)[1]

    # --------------------------------------------------------------------------- run: a background job

    def describe_run(_clicks, pending, _values, _confirmed, session):
        name = pending.get("name") if isinstance(pending, dict) else None
        kind = "controller.sequence" if name in SEQUENCES else "controller.transition"
        return str(session or ""), {"command": str(name)[:64] if name else None}, kind

    @guarded_callback(
        app, audit,
        Output(ui.MODAL, "is_open", allow_duplicate=True),
        Output(ids.CHANGED, "data", allow_duplicate=True),
        In(ui.RUN, "n_clicks", clicks),
        St(ui.PENDING, "data", PENDING),
        St({"type": ui.ARG, "name": ALL}, "value", VALUES),
        St(ui.CONFIRM, "value", boolean),
        St(ids.SESSION, "data", SESSION),
        permission="controller.command",
        action="controller.fsm",
        describe=describe_run,
        background=True,
        running=[(Output(ui.RUN, "disabled"), True, False), (Output(ui.CANCEL, "disabled"), True, False)],
        prevent_initial_call=True,
    )
    def run_command(note, run_clicks, pending, values, confirmed, session):
        if not run_clicks:
            note.skip = True  # not a click: nothing happened
            return no_update, no_update
        pending = _usable(pending)
        if not pending:
            raise UserError("nothing to run: choose a transition first")
        name = pending["name"]
        session = session or pending.get("session") or feeds.default_session
        note.action = "controller.sequence" if name in SEQUENCES else "controller.transition"
        note.target = session
        user = caller().name
        snap, root_node, state, graph, error, lock = situation(session)
        if graph is None or root_node is None:
            raise UserError(error or snap.message or "no root controller to command")
        note.target = f"{root_node['name']} ({snap.root}, session {session})"
        aimed = None
        if pending.get("target"):
            aimed = aim(snap, root_node, pending["target"])
            if aimed is None:
                raise UserError(f"{pending['target']} cannot be addressed through {root_node['name']} "
                                f"(not a controller of its tree, or a druncschema 0.8 root)")
            note.target = f"{aimed['name']} through {root_node['name']} ({snap.root}, session {session})"
        fields = form_fields(graph, name)
        arguments, errors = parse_arguments(graph, name, fields,
                                            dict(zip(pending.get("fields") or [], values or [], strict=False)))
        note.arguments = {"command": name, "arguments": arguments, "from": state}
        if aimed is not None:
            state = aimed.get("state")
            note.arguments.update({"target": aimed["path"], "through": root_node["name"], "schema": snap.schema,
                                   "from": state})
        check_allowed(graph, name, state, aimed)
        if errors:
            raise UserError("invalid arguments: " + "; ".join(f"{k} {v}" for k, v in errors.items()))
        if name in DISRUPTIVE and not confirmed:
            raise UserError(f"{name} stops or tears down the run: confirm it first")
        since = in_charge_since(snap.root, root_node)
        reason = command_block(can_command=True, user=user, root=root_node,
                               lock_text=lock.text() if lock else None, since=since)
        if reason is None and aimed is not None:
            reason = target_block(snap.nodes, aimed, user)
        if reason:
            raise UserError(reason)
        steps = steps_of(name)
        ttl = settings.fsm_timeout * len(steps) + 60  # a crashed job's lock expires; a live one never does
        held = locks.acquire(snap.root, name, user, session=session, ttl=ttl)
        if held is None:
            current = locks.current(snap.root)
            raise UserError(current.text() if current else "another transition is starting: try again")
        progress = {"operation": name + (f" on {aimed['name']}" if aimed else ""), "user": user,
                    "started": time.time(),
                    "steps": [{"name": s, "status": "running" if i == 0 else "pending"} for i, s in enumerate(steps)]}
        fsm.set_progress(snap.root, progress, expire=ttl)
        outcome: list[SequenceStep] = []
        failure = None
        try:
            client = services.drunc.controller(user, address=snap.root, session=session)

            def on_step(step: SequenceStep) -> None:
                outcome.append(step)
                index = len(outcome) - 1
                status = "skipped" if step.skipped else ("done" if step.ok else "failed")
                progress["steps"][index]["status"] = status
                if step.ok and index + 1 < len(steps):
                    progress["steps"][index + 1]["status"] = "running"
                fsm.set_progress(snap.root, progress, expire=ttl)

            if name in SEQUENCES:
                client.run_sequence(name, arguments, on_step=on_step)
            else:
                result = client.execute(name, arguments, target=aimed["path"] if aimed else None)
                on_step(SequenceStep(name, result, None if result.ok else result.summary()))
        except NotInControl:
            failure = f"{in_charge_text(client.who_is_in_charge() if _answers(client) else '')}; take control first"
        except DruncError as exc:
            failure = str(exc)
        finally:
            locks.release(held)
            fsm.clear_progress(snap.root)
        _learn(fsm, snap.root, state, outcome)
        if aimed is None:  # a subtree's start or stop is not the session's run
            _record_runs(services.runs, session, snap.root, user, arguments, fields, outcome)
        ok = failure is None and bool(outcome) and all(s.ok for s in outcome)
        if failure is None and outcome and not outcome[-1].ok:
            failure = f"{outcome[-1].transition}: {outcome[-1].error}"
        last = _last_outcome(name + (f" on {aimed['name']}" if aimed else ""), outcome, ok, failure, steps_of(name))
        fsm.cache.set(f"fsm-last:{snap.root}", last, expire=24 * 3600)
        note.arguments = {**note.arguments, "steps": [
            {"transition": s.transition, "skipped": s.skipped, "error": s.error,
             "nodes": [{k: r[k] for k in ("name", "flag", "fsm_flag", "ok")} for r in
                       (result_rows(s.result) if s.result else [])][:AUDIT_NODES]} for s in outcome]}
        if ok:
            note.detail = f"{name}: ok ({', '.join(s.transition for s in outcome if not s.skipped)})"
        else:
            note.failed(failure or f"{name} failed")
        feeds.refresh_now(session)
        notify(f"{SEQUENCE_LABELS.get(name, name)}: {'done' if ok else 'failed'}",
               [html.Div(last["detail"])] + [html.Div(f"{s['name']}: {s['status']}", className="small")
                                              for s in last["steps"]],
               "success" if ok else "danger")
        return (False if ok else no_update), changed_now()


def vm_line(node: dict) -> str:
    return f"{node.get('path', '')} ({node.get('kind', '')}, {node.get('state', '?')})"


def _usable(pending) -> dict | None:
    """The dialog's store as the server wrote it (a name), or None (a stale or forged page)."""
    return pending if isinstance(pending, dict) and isinstance(pending.get("name"), str) else None


def _answers(client) -> bool:
    try:
        client.who_is_in_charge()
        return True
    except DruncError:
        return False


def _learn(fsm: FsmCache, root: str, state: str | None, outcome: list[SequenceStep]) -> None:
    """Destinations of transitions outside the standard FSM, from the root's state before and after each step."""
    before = state or ""
    for step in outcome:
        if step.result is None or step.result.status is None:
            continue
        after = step.result.status.state
        if step.ok:
            fsm.learn(root, step.transition, before, after)
        before = after


def _record_runs(runs, session: str, root: str, user: str, arguments: dict, fields, outcome) -> None:
    """The runs table: a run starts when a start step succeeds, ends when a stop step does."""
    for step in outcome:
        if step.skipped or not step.ok:
            continue
        if step.transition == "start":
            defaults = {f.name: f.default for f in fields if f.default is not None}
            run_type = arguments.get("run_type", defaults.get("run_type", ""))
            runs.started(session, number=arguments.get("run_number"), run_type=str(run_type or ""), user=user,
                         root=root, arguments=arguments)
        elif step.transition == "stop":
            runs.stopped(session, user=user)


def _last_outcome(name: str, outcome: list[SequenceStep], ok: bool, failure: str | None,
                  planned: tuple[str, ...] | None = None) -> dict:
    steps = []
    for s in outcome:
        status = "skipped" if s.skipped else ("ok" if s.ok else "failed")
        steps.append({"name": s.transition, "status": status, "rows": result_rows(s.result) if s.result else []})
    ran = {s.transition for s in outcome}
    steps += [{"name": t, "status": "not run", "rows": []} for t in (planned or steps_of(name)) if t not in ran]
    return {"id": f"{time.time():.6f}", "title": f"{SEQUENCE_LABELS.get(name, name)}: {'done' if ok else 'failed'}",
            "ok": ok, "detail": "every node succeeded" if ok else (failure or "failed"),
            "at": _hms(time.time()), "steps": steps}
