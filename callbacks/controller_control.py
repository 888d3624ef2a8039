"""Controller page: who is in charge, take control / surrender, include / exclude, and the nodes in error.

Every action goes to the chosen controller's OWN address, looked up on the server in the feed's snapshot from
the node's path: the browser names a node, never an address. On a druncschema 0.11 root (drunc 0.13.x),
include / exclude of any node (an application too) go THROUGH THE ROOT with the node's path as the target, and
every controller on the way must have the caller in charge. take/surrender need controller.take_control,
include/exclude controller.command; both are audited with the node, its address and drunc's per-node outcome.
A command without control is refused with who is in charge; while a transition holds the root's lock every
button is disabled with the lock's text. After an action: refresh the feed and bump the page's CHANGED store.
"""

from __future__ import annotations

import hashlib
import logging
import time

import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, dcc, html, no_update, set_props
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from auth.actions import UserError, guarded_callback
from auth.shapes import In, St, clicks, integer, or_reset, record, text
from callbacks.controller_shared import CHANGED, SURRENDER_CONTROL, TAKE_CONTROL, changed_now, taken_since
from callbacks.notify import notify
from components import control_panel as cp
from components import controller_ids as ids
from drunc_client.errors import DruncError, NotInControl
from viewmodels import control as vm
from viewmodels.runs import in_charge_text

log = logging.getLogger("runcontrol.controller")

SESSION = text(255)
PATH = text(2000)
# written by this page's own callbacks, but an action's input: a malformed one is refused and audited
REQUEST = record({"action": text(16, choices=("take", "surrender", "include", "exclude")), "path": PATH,
                  "n": integer(0)})
CONTROL_VERBS = ("take", "surrender")
INCLUSION_VERBS = ("include", "exclude")
AUDIT_NODES = 200


def _user() -> str:
    return getattr(current_user, "name", "") or ""


def _can(permission: str) -> bool:
    return bool(current_user.is_authenticated and current_user.can(permission))


def _bump() -> None:
    set_props(ids.CHANGED, {"data": changed_now()})


def who_view(nodes, user: str):
    rows = []
    for n in vm.controllers(nodes):
        actor = vm.actor_name(n.get("in_charge"))
        mine = vm.is_actor(actor, user)
        rows.append(html.Tr([
            html.Td(("\u00a0\u00a0" * int(n.get("depth", 0))) + n.get("name", "")),
            html.Td(html.Span(actor or "nobody", className="fw-semibold" if mine else
                              ("" if actor else "text-body-secondary")) if not n.get("unreachable")
                    else html.Span("unreachable", className="text-danger")),
        ], **{"data-path": n.get("path", "")}))
    if not rows:
        return html.Div("no controller known yet", className="text-body-secondary")
    return dbc.Table([html.Thead(html.Tr([html.Th("controller"), html.Th("in charge")])), html.Tbody(rows)],
                     size="sm", class_name="mb-0 rc-ctrl-who", id="ctl-ctrl-who-table")


def errors_view(entries: list[vm.ErrorEntry]):
    if not entries:
        return html.Div()
    items = []
    for e in entries[:50]:
        links = [dcc.Link(f"Restart {e.name} in the Process Manager", href=e.link, className="me-3")]
        if e.exclude_path:
            links.append(html.Span(f"or exclude {e.exclude_name} in the Control panel", className="small"))
        items.append(html.Li([html.Strong(e.path), f" ({e.kind}, {e.what}): ", html.Span(e.recovery),
                              html.Div(links, className="small")], **{"data-path": e.path}))
    more = [html.Li(f"… and {len(entries) - 50} more")] if len(entries) > 50 else []
    return dbc.Alert([html.Div(vm.errors_summary(entries), className="fw-semibold"),
                      html.Ul(items + more, className="mb-0 small")],
                     color="danger", class_name="py-2 mb-2", id="ctl-errors-alert")


def _buttons_state(node, user: str, lock_text: str, can_take: bool, can_command: bool, root: dict | None = None):
    """(take, surrender, include, exclude disabled flags, why text). `root`: the root node when it addresses a
    subtree itself (0.11), None otherwise."""
    if node is None:
        return True, True, True, True, "Choose a node."
    if lock_text:
        return True, True, True, True, lock_text
    actor = vm.actor_name(node.get("in_charge"))
    is_controller = node.get("kind") == "controller"
    reachable = is_controller and bool(node.get("address")) and not node.get("unreachable")
    mine = vm.is_actor(actor, user)
    take = not (can_take and reachable and not mine)
    surrender = not (can_take and reachable and mine)
    # 0.11: include/exclude reach any node through the root; 0.8: only a controller, on its own address
    addressable = (bool(root.get("address")) and not root.get("unreachable") and not node.get("unreachable")
                   ) if root is not None else reachable
    include = not (can_command and addressable and not node.get("included", True))
    exclude = not (can_command and addressable and node.get("included", True))
    why = []
    if not is_controller and root is not None:
        why.append(f"{node.get('name')} is an application: include/exclude go through {root.get('name')} "
                   f"(druncschema 0.11); control is taken on its controller.")
    elif not is_controller:
        why.append(f"{node.get('name')} is an application: drunc 0.10.x controls and includes/excludes it "
                   f"through its controller. Choose that controller.")
    elif not reachable:
        why.append(f"{node.get('name')} cannot be reached on its own address.")
    elif mine:
        why.append("You are in charge.")
    elif actor:
        why.append(f"{actor} is in charge: your commands are refused until you take control.")
    else:
        why.append("Nobody is in charge: take control before commanding.")
    return take, surrender, include, exclude, " ".join(why)


def register(app, services) -> None:
    feeds = services.controller_feeds
    audit = services.audit

    # ------------------------------------------------------------------------------------------ the view

    @guarded_callback(
        app, audit,
        Output(cp.WHO, "children"),
        Output(cp.NODE, "options"),
        Output(cp.NODE, "value"),
        Output(cp.SELECTED, "children"),
        Output(cp.TAKE, "disabled"),
        Output(cp.SURRENDER, "disabled"),
        Output(cp.INCLUDE, "disabled"),
        Output(cp.EXCLUDE, "disabled"),
        Output(cp.WHY, "children"),
        Output(cp.ERRORS_BODY, "children"),
        Output(cp.SHOWN, "data"),
        In(cp.TICK, "n_intervals", clicks),
        In(ids.CHANGED, "data", CHANGED),
        In(ids.SESSION, "data", SESSION),
        In(cp.NODE, "value", PATH),
        St(cp.SHOWN, "data", or_reset(text(64))),
        running=[(Output(cp.TICK, "disabled"), True, False)],
        permission="view",
    )
    def refresh_control(_ticks, _changed, session, chosen, shown):
        snap = feeds.snapshot(session or None)
        nodes = list(snap.nodes)
        user = _user()
        try:
            lock = services.controller_locks.current(snap.root) if snap.root else None
        except SQLAlchemyError:
            lock = None
        path = chosen if vm.node_by_path(nodes, chosen or "") else (nodes[0]["path"] if nodes else None)
        node = vm.node_by_path(nodes, path or "")
        flags = _buttons_state(node, user, lock.text() if lock else "", _can("controller.take_control"),
                               _can("controller.command"), nodes[0] if snap.targeted and nodes else None)
        entries = vm.errors(nodes, snap.targeted)
        # a digest, not the text: the store goes back to the server with every tick (1,000 nodes: ~150 KB of repr)
        signature = hashlib.sha1(repr((path, flags, [
            (n["path"], n.get("in_charge"), n.get("included"), n.get("in_error"), n.get("unreachable"),
             n.get("state"), n.get("kind")) for n in nodes])).encode()).hexdigest()[:16]
        options = [{"label": ("\u00a0\u00a0" * int(n.get("depth", 0))) + n.get("name", "")
                    + ("" if n.get("kind") == "controller" else " (application)")
                    + ("" if n.get("included", True) or n.get("unreachable") else " · excluded"),
                    "value": n["path"]} for n in nodes]
        # the options (a line per node: ~130 KB at 1,000 nodes) go out only when they change, not on every state
        # change of a transition
        signature += ":" + hashlib.sha1(repr(options).encode()).hexdigest()[:16]
        if signature == shown:
            return (no_update,) * 11
        if (shown or "").partition(":")[2] == signature.partition(":")[2]:
            options = no_update
        selected = ""
        if node is not None:
            actor = node.get("in_charge") if node.get("kind") == "controller" else ""
            since = vm.since_hm(taken_since(audit, node["path"], vm.actor_name(actor))) if actor else ""
            selected = html.Span([html.Strong(node.get("name")), f" · {node.get('kind')} · {node.get('state')}",
                                  " · excluded" if not node.get("included", True) else "",
                                  f" · {in_charge_text(actor)}{since}" if node.get("kind") == "controller" else ""])
        return (who_view(nodes, user), options, path, selected, *flags, errors_view(entries), signature)

    # ------------------------------------------------------------------------------- asking before acting

    @guarded_callback(
        app, audit,
        Output(cp.CONFIRM, "is_open"),
        Output(cp.CONFIRM_TITLE, "children"),
        Output(cp.CONFIRM_BODY, "children"),
        Output(cp.CONFIRM_OK, "children"),
        Output(cp.CONFIRM_OK, "color"),
        Output(cp.PENDING, "data"),
        Output(cp.GO_CONTROL, "data"),
        In(cp.TAKE, "n_clicks", clicks),
        In(cp.SURRENDER, "n_clicks", clicks),
        In(cp.INCLUDE, "n_clicks", clicks),
        In(cp.EXCLUDE, "n_clicks", clicks),
        In(cp.CONFIRM_CANCEL, "n_clicks", clicks),
        St(cp.NODE, "value", PATH),
        St(ids.SESSION, "data", SESSION),
        prevent_initial_call=True,
    )
    def ask(_take, _surrender, _include, _exclude, _cancel, path, session):
        verb = {cp.TAKE: "take", cp.SURRENDER: "surrender", cp.INCLUDE: "include",
                cp.EXCLUDE: "exclude"}.get(ctx.triggered_id)
        if verb is None:
            return False, no_update, no_update, no_update, no_update, None, no_update
        snap = feeds.snapshot(session or None)
        nodes = list(snap.nodes)
        node = vm.node_by_path(nodes, path or "")
        if node is None:
            raise UserError("Choose a node first (the one chosen is not in the tree any more).")
        request = {"action": verb, "path": node["path"], "n": int(time.time() * 1000)}
        user = _user()
        if verb in CONTROL_VERBS:
            question = vm.take_control_question(node.get("name", ""), node.get("in_charge"), user) \
                if verb == "take" else None
            if question is None:  # nobody else to evict, or one's own surrender: no confirmation
                return False, no_update, no_update, no_update, no_update, None, request
            body = html.P(question, id="ctl-ctrl-confirm-question")
            return True, f"Take control of {node.get('name')}?", body, "Take control", "danger", request, no_update
        plan = vm.inclusion_plan(nodes, node["path"], verb, nodes[0] if snap.targeted else None)
        if not plan.ok:
            raise UserError(plan.refusal)
        refuse_without_control(nodes, plan, user, snap.targeted)
        if verb == "include":
            effect = "The nodes take part in transitions again."
        elif snap.targeted:
            effect = ("Excluded nodes skip every transition; their controller carries on without them and does "
                      "not go into error (drunc 0.13.x).")
        else:
            effect = ("Excluded nodes skip every transition; their controller goes into error when it drives a "
                      "transition over them (drunc 0.10.x), and no command clears that error.")
        listing = html.Ul([html.Li(vm.affected_line(n)) for n in plan.affected[:200]]
                          + ([html.Li(f"… and {len(plan.affected) - 200} more")] if len(plan.affected) > 200
                             else []), className="rc-target-list mb-0", id="ctl-ctrl-confirm-targets")
        body = [html.P(f"{plan.summary().capitalize()} ({len(plan.affected)} node"
                       f"{'s' if len(plan.affected) != 1 else ''}), {plan.sent_to()}.",
                       id="ctl-ctrl-confirm-route"),
                html.P(effect, className="small"), listing]
        return (True, f"{verb.capitalize()} {plan.name}?", body, f"{verb.capitalize()} {len(plan.affected)} node"
                f"{'s' if len(plan.affected) != 1 else ''}", "warning" if verb == "exclude" else "success",
                request, no_update)

    # The confirmation hands the pending request to the callback that holds the right permission.
    app.clientside_callback(
        """function(n, pending) {
            var nu = window.dash_clientside.no_update;
            if (!n || !pending) { return [nu, nu]; }
            return (pending.action === 'include' || pending.action === 'exclude') ? [nu, pending] : [pending, nu];
        }""",
        Output(cp.GO_CONTROL, "data", allow_duplicate=True),
        Output(cp.GO_INCLUSION, "data"),
        Input(cp.CONFIRM_OK, "n_clicks"),
        State(cp.PENDING, "data"),
        prevent_initial_call=True,
    )

    def refuse_without_control(nodes, plan, user: str, targeted: bool) -> None:
        """UserError naming who is in charge of the first controller that would refuse the command."""
        blocker = vm.control_blocker(nodes, plan.path, user, targeted)
        if blocker is not None:
            actor = vm.actor_name(blocker.get("in_charge"))
            raise UserError(vm.not_in_control_text(blocker.get("name", ""), actor,
                                                   taken_since(audit, blocker.get("path", ""), actor)))

    def describe(request, session):
        request = request if isinstance(request, dict) else {}
        verb = request.get("action")
        name = {"take": TAKE_CONTROL, "surrender": SURRENDER_CONTROL,
                "include": "controller.include", "exclude": "controller.exclude"}.get(verb)
        return str(request.get("path", ""))[:500], {"path": str(request.get("path", ""))[:2000],
                                                    "session": str(session or "")[:255]}, name

    def resolve(note, request, session, verbs):
        if request is None:  # the store's first value: nothing was asked
            note.skip = True
            return None
        verb = request.get("action")
        if verb not in verbs:
            raise UserError("Nothing was done: the request names no action of this panel (reload the page).")
        snap = feeds.snapshot(session or None)
        nodes = list(snap.nodes)
        node = vm.node_by_path(nodes, request.get("path") or "")
        note.arguments = {"path": request.get("path"), "session": snap.session}
        if node is None:
            raise UserError(f"{request.get('path')} is not in the tree of {snap.session} any more.")
        note.target = f"{node.get('name')} ({node.get('address') or 'no address'})"
        note.arguments["address"] = node.get("address", "")
        if snap.root:
            lock = services.controller_locks.current(snap.root)
            if lock is not None:
                raise UserError(f"Not done: {lock.text()}.")
        return snap, nodes, node, verb

    def client_for(snap, address: str):
        return services.drunc.controller(_user(), address=address, session=snap.session)

    def finish(snap, session) -> None:
        try:
            feeds.refresh_now(session or None)
        except DruncError:
            log.warning("refresh after an action failed", exc_info=True)
        _bump()

    # --------------------------------------------------------------------------- take control / surrender

    @guarded_callback(
        app, audit,
        Output(cp.CONFIRM, "is_open", allow_duplicate=True),
        In(cp.GO_CONTROL, "data", REQUEST),
        St(ids.SESSION, "data", SESSION),
        permission="controller.take_control",
        action="controller.control",
        describe=describe,
        prevent_initial_call=True,
    )
    def control(note, request, session):
        resolved = resolve(note, request, session, CONTROL_VERBS)
        if resolved is None:
            return False
        snap, _nodes, node, verb = resolved
        note.action = TAKE_CONTROL if verb == "take" else SURRENDER_CONTROL
        name = node.get("name")
        if node.get("kind") != "controller" or not node.get("address"):
            raise UserError(f"{name} is not a controller with an address of its own: choose its controller.")
        before = vm.actor_name(node.get("in_charge"))
        note.arguments["previous"] = before
        try:
            client = client_for(snap, node["address"])
            if verb == "take":
                result = client.take_control()
                failed = result.failures()
                if failed:
                    note.failed("; ".join(f"{f.name}: {f.flag} {f.text.strip()[:200]}" for f in failed[:20]))
                    notify(f"Take control of {name}", f"Taken on {name}, but not on: "
                                  + ", ".join(f.name for f in failed[:20]), "warning")
                else:
                    evicted = f" from {before}" if before and before != _user() else ""
                    note.detail = f"took control{evicted}"
                    notify(f"Take control of {name}", f"You are in charge of {name} and the controllers "
                                  f"below it{evicted}.", "success")
            else:
                client.surrender_control()
                note.detail = "surrendered (not propagated to the children: drunc 0.10.x)"
                notify(f"Surrender {name}", f"Nobody is in charge of {name} now. The controllers below "
                              "it keep you as their actor: drunc 0.10.x does not pass a surrender down.", "success")
        except NotInControl:
            raise UserError(f"You are not in charge of {name}: nothing to surrender.") from None
        except DruncError as exc:
            note.failed(str(exc))
            notify(f"{'Take control of' if verb == 'take' else 'Surrender'} {name}", str(exc), "danger")
        finish(snap, session)
        return False

    # ---------------------------------------------------------------------------------- include / exclude

    @guarded_callback(
        app, audit,
        Output(cp.CONFIRM, "is_open", allow_duplicate=True),
        In(cp.GO_INCLUSION, "data", REQUEST),
        St(ids.SESSION, "data", SESSION),
        permission="controller.command",
        action="controller.inclusion",
        describe=describe,
        prevent_initial_call=True,
    )
    def inclusion(note, request, session):
        resolved = resolve(note, request, session, INCLUSION_VERBS)
        if resolved is None:
            return False
        snap, nodes, node, verb = resolved
        note.action = f"controller.{verb}"
        plan = vm.inclusion_plan(nodes, node["path"], verb, nodes[0] if snap.targeted else None)
        note.arguments["nodes"] = [n["path"] for n in plan.affected[:AUDIT_NODES]]
        note.arguments["count"] = len(plan.affected)
        if plan.through:
            note.target = f"{plan.name} through {plan.through} ({plan.address})"
            note.arguments.update(address=plan.address, through=plan.through, target=plan.target,
                                  schema=snap.schema)
        if not plan.ok:
            raise UserError(plan.refusal)
        refuse_without_control(nodes, plan, _user(), snap.targeted)
        try:
            client = client_for(snap, plan.address)
            if plan.through:
                target = plan.target or None
                result = client.include(target) if verb == "include" else client.exclude(target)
            else:
                result = client.include() if verb == "include" else client.exclude()
        except NotInControl:
            raise UserError(vm.not_in_control_text(plan.name, "someone else")) from None
        except DruncError as exc:
            note.failed(str(exc))
            notify(f"{verb.capitalize()} {plan.name}", str(exc), "danger")
            finish(snap, session)
            return False
        failed = result.failures()
        if failed:
            note.failed("; ".join(f"{f.name}: {f.flag} {f.text.strip()[:200]}" for f in failed[:20]))
            notify(f"{verb.capitalize()} {plan.name}", "Failed on: " + ", ".join(
                f"{f.name} ({f.flag})" for f in failed[:20]), "danger")
        else:
            note.detail = f"{plan.summary()}: {len(plan.affected)} nodes"
            notify(f"{verb.capitalize()} {plan.name}", f"{plan.summary().capitalize()}: done.", "success")
        finish(snap, session)
        return False
