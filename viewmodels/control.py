"""Control, include/exclude and errors as plain data, from the controller feed's node rows (see
polling/controller_feed.py NODE_FIELDS).

What drunc 0.10.x allows, and so what this offers:
- control is per controller: take_control propagates down, surrender does not (protocol 9.3.1);
- include/exclude have no targeting: they act on the addressed controller and all its descendants, so a node is
  included/excluded on ITS OWN controller address. Applications have no address of their own (their controller
  reaches them over REST) and cannot be excluded alone: the smallest unit is their controller's subtree;
- no rpc clears an error: the recovery is restarting the process, or excluding the node.

What druncschema 0.11 (drunc 0.13.x) adds: the root addresses any node of its tree with a `target` (its path),
so include/exclude (and transitions) of any node, an application included, go THROUGH THE ROOT, and every
controller on the way checks that the caller is in control. `inclusion_plan(..., through=root)` plans that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from viewmodels.runs import INIT_TOKEN
from viewmodels.text import clip


def node_by_path(nodes, path: str) -> dict | None:
    return next((n for n in nodes if n.get("path") == path), None)


def controllers(nodes) -> list[dict]:
    return [n for n in nodes if n.get("kind") == "controller"]


def is_actor(actor: str | None, user: str) -> bool:
    return bool(user) and (actor or "") == user


def actor_name(actor: str | None) -> str:
    """The person in charge, or "" when nobody is (drunc's start-up token, or cleared by a surrender)."""
    actor = (actor or "").strip()
    return "" if actor == INIT_TOKEN else actor


def since_hm(moment: datetime | None) -> str:
    if moment is None:
        return ""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f" since {moment.astimezone(UTC):%H:%M} UTC"


def not_in_control_text(node: str, actor: str | None, since: datetime | None = None) -> str:
    """The refusal of a command sent without control: "bob is in charge of root since 13:40 UTC; take control
    first"."""
    who = actor_name(actor)
    if not who:
        return f"Nobody is in charge of {node}: take control first."
    return f"{clip(who, 64)} is in charge of {node}{since_hm(since)}; take control first."


def take_control_question(node: str, actor: str | None, user: str) -> str | None:
    """The confirmation needed before taking control, or None when nobody else holds it."""
    who = actor_name(actor)
    if not who or who == user:
        return None
    return (f"{clip(who, 64)} is in charge of {node}. Taking control evicts them: their next command will be "
            f"refused. Take control of {node} (and the controllers below it) from {clip(who, 64)}?")


def subtree(nodes, path: str) -> list[dict]:
    """The node at `path` and all its descendants, in tree order."""
    prefix = path + "/"
    return [n for n in nodes if n.get("path") == path or str(n.get("path", "")).startswith(prefix)]


def owning_controller(nodes, path: str) -> dict | None:
    """The controller include/exclude must be sent to for `path`: itself for a controller, None for an
    application (see the module's docstring)."""
    node = node_by_path(nodes, path)
    if node is None or node.get("kind") != "controller":
        return None
    return node


def controllers_on_path(nodes, path: str) -> list[dict]:
    """The controllers from the root down to the node at `path` (itself included when it is one): those that
    check control when a command is addressed through the root (0.11)."""
    found = []
    for n in nodes:
        p = str(n.get("path", ""))
        if n.get("kind") == "controller" and (p == path or path.startswith(p + "/")):
            found.append(n)
    return sorted(found, key=lambda n: int(n.get("depth", 0)))


def control_blocker(nodes, path: str, user: str, through_root: bool) -> dict | None:
    """The controller whose actor is not `user` and that would refuse the command (None: none would). 0.8: the
    node's own controller; 0.11: any controller between the root and the target."""
    if through_root:
        chain = controllers_on_path(nodes, path)
    else:
        node = node_by_path(nodes, path)
        chain = [node] if node is not None else []
    return next((n for n in chain if not is_actor(actor_name(n.get("in_charge")), user)), None)


@dataclass(frozen=True)
class InclusionPlan:
    verb: str  # "include" | "exclude"
    path: str
    name: str
    address: str  # where the rpc is sent: the node's own address (0.8) or the root's (0.11)
    affected: tuple[dict, ...]  # the subtree the rpc reaches
    refusal: str = ""  # why it cannot be done ("" when it can)
    through: str = ""  # 0.11: the root's name, the rpc carrying `target`
    target: str = ""  # 0.11: the node path sent as the target ("" for the root itself)

    @property
    def ok(self) -> bool:
        return not self.refusal

    def summary(self) -> str:
        n = len(self.affected)
        return f"{self.verb} {self.name} and its {n - 1} descendant{'s' if n != 2 else ''}" if n > 1 \
            else f"{self.verb} {self.name}"

    def sent_to(self) -> str:
        """ "sent to seg at h:1" (0.8) or "sent through root at h:1 with target root/seg" (0.11)."""
        if self.through:
            return (f"sent through {self.through} at {self.address}"
                    + (f" with target {self.target}" if self.target else ""))
        return f"sent to {self.name} at {self.address}"


def inclusion_plan(nodes, path: str, verb: str, through: dict | None = None) -> InclusionPlan:
    """What include/exclude of the node at `path` does and where it is sent; `through` is the root when it can
    address a subtree (druncschema 0.11), None for 0.8 (the node's own address)."""
    node = node_by_path(nodes, path)
    if verb not in ("include", "exclude"):
        return InclusionPlan(verb, path, path, "", (), f"unknown action {verb!r}")
    if node is None:
        return InclusionPlan(verb, path, path, "", (), f"{path or 'that node'} is not in the tree any more.")
    name = node.get("name", path)
    if through is not None:
        return _targeted_plan(nodes, node, verb, through)
    if node.get("kind") != "controller":
        parent = node_by_path(nodes, node.get("parent", ""))
        parent_name = parent.get("name") if parent else "its controller"
        return InclusionPlan(verb, path, name, "", (node,),
                             f"drunc 0.10.x cannot {verb} one application: {verb} is sent to a controller and "
                             f"acts on all its applications. {verb.capitalize()} {parent_name} instead "
                             f"(it {verb}s every application below it).")
    if not node.get("address"):
        return InclusionPlan(verb, path, name, "", (), f"the address of {name} is unknown: it cannot be reached "
                                                       f"on its own (check the connectivity service).")
    if node.get("unreachable"):
        return InclusionPlan(verb, path, name, node["address"], (),
                             f"{name} does not answer: it cannot be {verb}d.")
    affected = tuple(subtree(nodes, path))
    included = bool(node.get("included", True))
    if verb == "exclude" and not included:
        return InclusionPlan(verb, path, name, node["address"], affected, f"{name} is already excluded.")
    if verb == "include" and included:
        return InclusionPlan(verb, path, name, node["address"], affected, f"{name} is already included.")
    return InclusionPlan(verb, path, name, node["address"], affected)


def _targeted_plan(nodes, node: dict, verb: str, root: dict) -> InclusionPlan:
    path, name = node["path"], node.get("name", node["path"])
    root_name, address = root.get("name", ""), root.get("address", "")
    target = "" if path == root.get("path") else path

    def plan(refusal: str = "", affected=()) -> InclusionPlan:
        return InclusionPlan(verb, path, name, address, tuple(affected), refusal, root_name, target)

    if not address or root.get("unreachable"):
        return plan(f"the root {root_name} does not answer: nothing can be {verb}d through it.")
    if node.get("unreachable"):
        return plan(f"{name} does not answer: it cannot be {verb}d.")
    affected = subtree(nodes, path)
    included = bool(node.get("included", True))
    if verb == "exclude" and not included:
        return plan(f"{name} is already excluded.", affected)
    if verb == "include" and included:
        return plan(f"{name} is already included.", affected)
    return plan("", affected)


def affected_line(node: dict) -> str:
    kind = "controller" if node.get("kind") == "controller" else "application"
    flags = [f for f, on in (("in error", node.get("in_error")), ("excluded", not node.get("included", True)))
             if on]
    return f"{node.get('path', '')} ({kind}, {node.get('state', '?')}{', ' + ', '.join(flags) if flags else ''})"


# ------------------------------------------------------------------------------------------------ errors

PROCESS_MANAGER = "/process-manager"


def process_manager_link(name: str) -> str:
    """The Process Manager filtered to one process (its quick search, `q`, see viewmodels/processes.py)."""
    return f"{PROCESS_MANAGER}?{urlencode({'q': name})}"


@dataclass(frozen=True)
class ErrorEntry:
    path: str
    name: str
    kind: str
    what: str  # "in error" | "unreachable"
    recovery: str  # plain words
    link: str  # the Process Manager filtered to the process to restart ("" when none)
    exclude_path: str  # the controller to exclude to go on without the node ("" when none)
    exclude_name: str


def errors(nodes, targeted: bool = False) -> list[ErrorEntry]:
    """Nodes in error (deepest cause first within the tree order is not guessed: tree order), with what drunc
    allows: no rpc clears an error; restart the node's process, or exclude it. drunc 0.10.x (`targeted` False)
    excludes a controller on its own address, so an application goes with the controller above it; a 0.11 root
    (`targeted`) addresses any node below it, so the node itself is excluded through the root."""
    out = []
    release = "drunc 0.13.x" if targeted else "drunc 0.10.x"
    for n in nodes:
        if not (n.get("in_error") or n.get("unreachable")):
            continue
        name = n.get("name", "")
        what = "unreachable" if n.get("unreachable") else "in error"
        if targeted or n.get("kind") == "controller":
            target = n
        else:
            target = node_by_path(nodes, n.get("parent", ""))
        reachable = targeted or bool(target and target.get("address"))
        ex_path = target.get("path", "") if target and target.get("included", True) and reachable \
            and target.get("depth", 0) > 0 else ""
        ex_name = target.get("name", "") if ex_path else ""
        steps = [f"No {release} command clears an error: {name} refuses every transition until its process is "
                 f"restarted."]
        if n.get("unreachable"):
            steps = [f"{name} does not answer: check its process."]
        steps.append(f"Restart the process {name} in the Process Manager")
        if ex_path:
            if targeted:
                steps[-1] += f", or exclude {ex_name} (through the root, which stays out of error)"
            else:
                steps[-1] += f", or exclude {ex_name}" + (" (the controller above it, with all its applications)"
                                                          if n.get("kind") != "controller" else "")
            steps[-1] += " to carry on without it"
        steps[-1] += "."
        out.append(ErrorEntry(n.get("path", ""), name, n.get("kind", ""), what, " ".join(steps),
                              process_manager_link(name), ex_path, ex_name))
    return out


def errors_summary(entries: list[ErrorEntry]) -> str:
    if not entries:
        return ""
    names = ", ".join(e.name for e in entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
    return f"{len(entries)} node{'s' if len(entries) != 1 else ''} in error: {names}"
