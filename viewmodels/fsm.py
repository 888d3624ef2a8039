"""The FSM as the Controller page shows it, derived from what the controller says (pure functions, no drunc call).

drunc's `describe_fsm` gives every transition with its arguments ("all-transitions") and, per state name, the
transitions leaving it; it never says where a transition goes. Destinations come from the standard DUNE FSM for
the names it defines (protocol section 10) and, for any other name, from observation: the root's state before
and after a transition that succeeded (`learn`). Nothing here is hard-coded beyond that table: a deployment
with other transitions or arguments gets its own graph and forms.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from drunc_client.controller import SEQUENCES, NodeResult, TransitionSpec, check_argument_value
from drunc_client.errors import InvalidArguments

# The standard DUNE FSM (daqsystemtest fsm.data.xml): transition -> (source, destination)
STANDARD: dict[str, tuple[str, str]] = {
    "conf": ("initial", "configured"),
    "start": ("configured", "ready"),
    "enable_triggers": ("ready", "running"),
    "disable_triggers": ("running", "ready"),
    "drain_dataflow": ("ready", "dataflow_drained"),
    "stop_trigger_sources": ("dataflow_drained", "trigger_sources_stopped"),
    "stop": ("trigger_sources_stopped", "configured"),
    "scrap": ("configured", "initial"),
}
STANDARD_STATES = ("initial", "configured", "ready", "running", "dataflow_drained", "trigger_sources_stopped")
NOT_STATES = frozenset({"", "unknown", "error"})  # never a source to ask about, nor a destination to learn
DISRUPTIVE = frozenset({"stop", "scrap", "stop_run", "shutdown"})  # ask for confirmation first
SEQUENCE_LABELS = {"start_run": "Start run", "stop_run": "Stop run", "shutdown": "Shutdown"}


@dataclass(frozen=True)
class Edge:
    transition: str
    source: str
    destination: str | None  # None: not standard and never observed yet
    learnt: bool = False


@dataclass(frozen=True)
class FsmGraph:
    specs: tuple[TransitionSpec, ...]
    states: tuple[str, ...]
    edges: tuple[Edge, ...]

    def spec(self, name: str) -> TransitionSpec | None:
        return next((s for s in self.specs if s.name == name), None)

    def allowed(self, state: str) -> list[str]:
        """The transitions leaving `state`, in the controller's order."""
        leaving = {e.transition for e in self.edges if e.source == state}
        return [s.name for s in self.specs if s.name in leaving]

    def sequences(self, state: str) -> list[str]:
        """The standard sequences the controller has every step of, and of which some step leaves `state` (the
        steps before it are skipped, not offered in that state, as drunc's shell does)."""
        known = {s.name for s in self.specs}
        return [name for name, steps in SEQUENCES.items()
                if set(steps) <= known and any(e.source == state and e.transition in steps for e in self.edges)]


def states_to_ask(specs: Iterable[TransitionSpec], learnt: Mapping[str, str], current: str | None) -> list[str]:
    """The state names whose outgoing transitions are asked for: the standard states, the destinations learnt,
    the current state (a deployment's own state shows up there first)."""
    names = list(STANDARD_STATES)
    for value in [*learnt.values(), current or ""]:
        if value not in NOT_STATES and value not in names:
            names.append(value)
    return names


def derive_graph(specs: Iterable[TransitionSpec], sources: Mapping[str, Iterable[str]],
                 learnt: Mapping[str, str] | None = None) -> FsmGraph:
    """`specs`: describe_fsm("all-transitions"); `sources`: state -> names of describe_fsm(state);
    `learnt`: transition -> destination observed."""
    specs = tuple(specs)
    learnt = dict(learnt or {})
    edges: list[Edge] = []
    states: list[str] = []

    def add_state(name: str | None) -> None:
        if name and name not in states:
            states.append(name)

    for state in sorted(sources, key=_state_order):
        for transition in sources[state]:
            if transition in learnt:
                destination, was_learnt = learnt[transition], True
            elif transition in STANDARD:
                destination, was_learnt = STANDARD[transition][1], False
            else:
                destination, was_learnt = None, False
            edges.append(Edge(transition, state, destination, was_learnt))
            add_state(state)
            add_state(destination)
    ordered = sorted(states, key=_state_order)
    return FsmGraph(specs, tuple(ordered), tuple(edges))


def _state_order(state: str) -> tuple[int, str]:
    return (STANDARD_STATES.index(state), "") if state in STANDARD_STATES else (len(STANDARD_STATES), state)


def learn(learnt: Mapping[str, str], transition: str, before: str, after: str) -> dict[str, str] | None:
    """The learnt table with `transition`'s destination once observed (None when there is nothing new): only for
    names outside the standard table, only after a real change of state."""
    if transition in STANDARD or after in NOT_STATES or before == after or learnt.get(transition) == after:
        return None
    return {**learnt, transition: after}


# ---------------------------------------------------------------------------------------------------------------
# Argument forms


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # INT | FLOAT | STRING | BOOL
    mandatory: bool
    default: Any
    help: str
    choices: tuple
    steps: tuple[str, ...]  # the transitions that take it (a sequence's form holds every step's arguments)
    suggested: Any = None  # what the form is filled with (the next run number), when not the default

    @property
    def control(self) -> str:
        if self.choices:
            return "dropdown"
        return {"INT": "integer", "FLOAT": "number", "BOOL": "switch"}.get(self.type, "text")

    @property
    def initial(self) -> Any:
        if self.suggested is not None:
            return self.suggested
        if self.default is not None:
            return self.default
        return False if self.type == "BOOL" else None


def steps_of(name: str) -> tuple[str, ...]:
    """A sequence's transitions, or the transition itself."""
    return SEQUENCES.get(name, (name,))


def form_fields(graph: FsmGraph, name: str, suggestions: Mapping[str, Any] | None = None) -> list[Field]:
    """Every argument of the transition (or of every step of the sequence), once, in step order."""
    suggestions = suggestions or {}
    fields: dict[str, Field] = {}
    for step in steps_of(name):
        spec = graph.spec(step)
        if spec is None:
            continue
        for arg in spec.arguments:
            if arg.name in fields:
                known = fields[arg.name]
                fields[arg.name] = Field(known.name, known.type, known.mandatory or arg.mandatory, known.default,
                                         known.help, known.choices, (*known.steps, step), known.suggested)
                continue
            fields[arg.name] = Field(arg.name, arg.type, arg.mandatory, arg.default, arg.help, tuple(arg.choices),
                                     (step,), suggestions.get(arg.name))
    return list(fields.values())


def _convert(field: Field, raw: Any) -> Any:
    """The form's value (a number input gives numbers, a text input text) as the argument's type; strict beyond
    the obvious conversions, so the client's own check decides."""
    if field.type == "INT":
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        if isinstance(raw, str):
            try:
                return int(raw.strip())
            except ValueError:
                return raw
    if field.type == "FLOAT" and isinstance(raw, str):
        try:
            return float(raw.strip())
        except ValueError:
            return raw
    if field.type == "BOOL" and isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    return raw


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def parse_arguments(graph: FsmGraph, name: str, fields: list[Field], raw: Mapping[str, Any]
                    ) -> tuple[dict[str, Any], dict[str, str]]:
    """(values to send, errors by field name). A blank optional field is left out (the controller's default);
    every value is checked by the client's own rule (`check_argument_value`) for every step that takes it."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in fields:
        value = raw.get(field.name)
        if _blank(value):
            if field.mandatory:
                errors[field.name] = "required"
            continue
        value = _convert(field, value)
        try:
            for step in field.steps:
                spec = graph.spec(step)
                arg = spec.argument(field.name) if spec else None
                if arg is not None:
                    value = check_argument_value(step, arg, value)
        except InvalidArguments as exc:
            errors[field.name] = _short(str(exc), field.name)
            continue
        values[field.name] = value
    return values, errors


def _short(message: str, name: str) -> str:
    """ "start: argument 'run_number' must be an integer, got ..." -> "must be an integer, got ..." """
    marker = f"argument '{name}' "
    return message.split(marker, 1)[1] if marker in message else message


# ---------------------------------------------------------------------------------------------------------------
# What the panel says


NOBODY = frozenset({"", "controller_init_token"})


def in_charge_text(in_charge: str, since: str | None = None) -> str:
    if in_charge in NOBODY:
        return "nobody has taken control of this controller"
    return f"{in_charge} is in charge" + (f" since {since}" if since else "")


def command_block(*, can_command: bool, user: str, root: Mapping | None, lock_text: str | None,
                  since: str | None = None) -> str | None:
    """Why the FSM commands are disabled for this user now (None: they are not). The server checks again."""
    if not can_command:
        return "viewer: commands need the permission controller.command"
    if lock_text:
        return lock_text
    if root is None:
        return "no root controller to command"
    if root.get("unreachable"):
        return "the root controller does not answer"
    if root.get("in_error"):
        return ("the root controller is in error: no rpc clears an error in drunc 0.10.x; restart the failing "
                "application's process or exclude its node")
    in_charge = root.get("in_charge") or ""
    if in_charge != user:
        return f"{in_charge_text(in_charge, since)}; take control first"
    return None


def target_block(nodes: Iterable[Mapping], target: Mapping, user: str) -> str | None:
    """Why a transition addressed through the root to the subtree at `target` (druncschema 0.11) cannot run now
    (None: it can), on top of `command_block` of the root. Every controller on the way checks control."""
    from viewmodels.control import control_blocker

    name = target.get("name", "")
    if target.get("unreachable"):
        return f"{name} does not answer"
    if target.get("in_error"):
        return f"{name} is in error: it refuses every transition"
    if not target.get("included", True):
        return f"{name} is excluded: include it first (Control panel)"
    blocker = control_blocker(list(nodes), str(target.get("path", "")), user, True)
    if blocker is not None:
        who = blocker.get("in_charge") or ""
        who = "nobody" if who in NOBODY else who
        return f"{who} is in charge of {blocker.get('name')}; take control first"
    return None


def progress_summary(nodes: Iterable[Mapping]) -> str:
    """ "3 of 11 nodes still preparing-start" while a transition runs; "" when no node is busy."""
    nodes = list(nodes)
    busy = [n for n in nodes if n.get("busy")]
    if not busy:
        return ""
    counts = Counter((n.get("sub_state") or "busy") for n in busy)
    if len(counts) == 1:
        return f"{len(busy)} of {len(nodes)} nodes still {next(iter(counts))}"
    parts = ", ".join(f"{count} {sub}" for sub, count in counts.most_common(3))
    return f"{len(busy)} of {len(nodes)} nodes still busy ({parts})"


def result_rows(result: NodeResult, depth: int = 0) -> list[dict]:
    """Every node's outcome, depth first: response flag and FSM flag, whether the node's own answer is a success,
    and the server's last line of text."""
    text = result.text.strip().splitlines()[-1] if result.text.strip() else ""
    rows = [{"name": result.name, "depth": depth, "flag": result.flag, "fsm_flag": result.fsm_flag or "",
             "ok": result.self_ok and not (depth == 0 and result.in_error_after), "text": text[:300]}]
    for child in result.children:
        rows.extend(result_rows(child, depth + 1))
    return rows


def diagram_elements(graph: FsmGraph, current: str | None, allowed: Iterable[str], enabled: bool) -> list[dict]:
    """Cytoscape elements: one node per state (the current one marked), one edge per transition and source (the
    ones allowed now marked, and clickable when commands are enabled)."""
    allowed = set(allowed)
    elements: list[dict] = []
    for state in graph.states:
        elements.append({"data": {"id": f"s:{state}", "label": state},
                         "classes": "current" if state == current else ""})
    unknown_added = set()
    for edge in graph.edges:
        target = f"s:{edge.destination}" if edge.destination else f"u:{edge.transition}"
        if edge.destination is None and edge.transition not in unknown_added:
            unknown_added.add(edge.transition)
            elements.append({"data": {"id": target, "label": "?"}, "classes": "unknown"})
        live = edge.source == current and edge.transition in allowed
        classes = " ".join(c for c in ("allowed" if live else "", "enabled" if live and enabled else "",
                                       "learnt" if edge.learnt else "") if c)
        elements.append({"data": {"id": f"t:{edge.transition}:{edge.source}", "source": f"s:{edge.source}",
                                  "target": target, "label": edge.transition, "transition": edge.transition},
                         "classes": classes})
    return elements
