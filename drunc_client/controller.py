"""Client for drunc 0.10.x controllers: status, the tree walk, the FSM with validated arguments, sequences,
include/exclude and control.

Everything returned is a plain frozen dataclass; failures are the typed errors of `drunc_client.errors`.
`execute_fsm_command` has two flag levels (protocol 7.2): a non-zero `Response.flag` on the addressed node raises,
the FSM flag and the children's outcomes come back in a `NodeResult` to inspect (`NodeResult.ok`), with the node's
status read again after the transition, since a node can answer success for itself and still go into error.
Flag numbers are those of the released druncschema 0.8 (see the .proto); any other number shows as "flag N".
"""

from __future__ import annotations

import dataclasses
import math
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import any_pb2

from drunc_client.errors import (
    BackendUnavailable,
    DruncError,
    InvalidArguments,
    NodeInError,
    ProtocolError,
    UnsupportedByLayout,
)
from drunc_client.generated.druncschema import broadcast_pb2, generic_pb2, request_response_pb2
from drunc_client.generated.druncschema import controller_pb2 as ctl
from drunc_client.generated.druncschema import controller_pb2_grpc as ctl_grpc
from drunc_client.layouts import V011, LayoutCache, check_schema, detect_controller, resolve
from drunc_client.transport import (
    FLAG_NAMES,
    SUCCESS,
    Endpoint,
    channel,
    check,
    failure_text,
    flag_name,
    normalise_address,
    pack,
    unpack,
)

# Sequences are expanded client-side in 0.10.x (protocol section 10).
SEQUENCES: dict[str, tuple[str, ...]] = {
    "start_run": ("conf", "start", "enable_triggers"),
    "stop_run": ("disable_triggers", "drain_dataflow", "stop_trigger_sources", "stop"),
    "shutdown": ("disable_triggers", "drain_dataflow", "stop_trigger_sources", "stop", "scrap"),
}

FSM_FLAG_NAMES = {v.number: v.name for v in ctl.FSMResponseFlag.DESCRIPTOR.values}
FSM_OK = "FSM_EXECUTED_SUCCESSFULLY"
FSM_EXCLUDED = "FSM_NOT_EXECUTED_EXCLUDED"
OK = FLAG_NAMES[SUCCESS]
FAILED = request_response_pb2.FAILED

TYPE_NAMES = {v.number: v.name for v in ctl.Argument.Type.DESCRIPTOR.values}  # INT, FLOAT, STRING, BOOL
WRAPPERS = {"INT": generic_pb2.int_msg, "FLOAT": generic_pb2.float_msg, "STRING": generic_pb2.string_msg,
            "BOOL": generic_pb2.bool_msg}
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
FLOAT32_MAX = 3.4028234663852886e38

# How long a tree's `describe` (which nodes are controllers, their endpoints) is reused by `tree()`.
DESCRIBE_MAX_AGE = 30.0


# ---------------------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class NodeStatus:
    name: str
    state: str  # the FSM state: the text before " (" while transitioning (protocol 9.3.3)
    sub_state: str
    in_error: bool
    included: bool
    transitioning: bool

    @property
    def unreachable(self) -> bool:
        """drunc's fallback for a child it cannot reach: state "unknown" and in error (its `included = false` is
        part of the fallback, not an exclusion)."""
        return self.state == "unknown" and self.in_error

    @classmethod
    def from_proto(cls, status: ctl.Status) -> NodeStatus:
        state, sep, _ = status.state.partition(" (")
        # Controllers report "<state> (<sub_state>)" mid-transition; applications report sub_state executing_cmd.
        transitioning = bool(sep) or status.sub_state == "executing_cmd"
        return cls(status.name, state, status.sub_state, status.in_error, status.included, transitioning)


@dataclass(frozen=True)
class TreeNode:
    name: str
    status: NodeStatus | None
    kind: str  # "controller" | "application"
    children: tuple[TreeNode, ...] = ()
    address: str | None = None
    error: str | None = None  # why this controller's own subtree could not be read

    def walk(self) -> Iterator[TreeNode]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class NodeDescription:
    type: str  # "controller" | "application" | "" when the child's describe failed
    name: str
    session: str | None
    commands: tuple[str, ...]
    broadcast: tuple[str, str] | None  # (kafka_address, topic) when the node broadcasts to Kafka
    children: tuple[NodeDescription, ...] = ()
    error: str | None = None
    endpoint: str | None = None  # druncschema 0.11: the controller's own "grpc://host:port"
    info: str | None = None  # druncschema 0.11: the detector (controllers), the log path (process manager)

    def walk(self) -> Iterator[NodeDescription]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class ArgumentSpec:
    name: str
    type: str  # "INT" | "FLOAT" | "STRING" | "BOOL"
    mandatory: bool
    default: Any
    choices: tuple
    help: str


@dataclass(frozen=True)
class TransitionSpec:
    name: str
    help: str
    arguments: tuple[ArgumentSpec, ...] = ()

    def argument(self, name: str) -> ArgumentSpec | None:
        return next((a for a in self.arguments if a.name == name), None)


@dataclass(frozen=True)
class NodeResult:
    """One node's outcome of a propagating rpc, with its children's, recursively.

    For a transition, `status` is the addressed node's status read again afterwards (None when not read, with
    `status_error` saying why when the read failed)."""

    name: str
    flag: str  # ResponseFlag name, or "flag N" for a number the released 0.8 schema does not define
    fsm_flag: str | None  # FSMResponseFlag name for execute_fsm_command, None otherwise
    text: str  # the PlainText / Stacktrace the node sent, if any
    children: tuple[NodeResult, ...] = ()
    status: NodeStatus | None = None
    status_error: str | None = None

    @property
    def excluded(self) -> bool:
        return self.flag == OK and self.fsm_flag == FSM_EXCLUDED

    @property
    def self_ok(self) -> bool:
        return self.flag == OK and self.fsm_flag in (None, FSM_OK)

    @property
    def in_error_after(self) -> bool:
        return self.status is not None and self.status.in_error

    @property
    def ok(self) -> bool:
        """Both flag levels succeeded here and in every child, and the node is not in error afterwards. An
        excluded child is not ok: drunc's parent goes into error when it drives a transition over one."""
        return (self.self_ok and not self.in_error_after and self.status_error is None
                and all(c.ok for c in self.children))

    def failures(self) -> list[NodeResult]:
        """Every node of the result whose own answer is a failure (an excluded child's included), depth first."""
        found = [] if self.self_ok else [self]
        for child in self.children:
            found.extend(child.failures())
        return found

    def summary(self) -> str:
        """One line: each failing node with its flag and the server's last line of text, then "<node> is in
        error" when the addressed node went into error."""
        parts = [f"{n.name}: {n.fsm_flag if n.flag == OK else n.flag}"
                 + (f" ({n.text.strip().splitlines()[-1]})" if n.text.strip() else "") for n in self.failures()]
        if self.in_error_after:
            parts.append(f"{self.name} is in error")
        if self.status_error is not None:
            parts.append(f"{self.name}: status not read afterwards ({self.status_error})")
        return "; ".join(parts) or "ok"


@dataclass(frozen=True)
class SequenceStep:
    transition: str
    result: NodeResult | None
    error: str | None  # why the sequence stopped at this step
    skipped: bool = False  # not offered by describe_fsm("") in the state reached (drunc's shell skips these too)

    @property
    def ok(self) -> bool:
        return self.error is None


# ---------------------------------------------------------------------------------------------------------------
# Argument encoding


def _float32(value: float) -> float:
    return struct.unpack("<f", struct.pack("<f", value))[0]


def _unpack_value(data: any_pb2.Any, type_name: str) -> Any:
    wrapper = WRAPPERS[type_name]()
    if not data.Unpack(wrapper):
        raise ProtocolError(f"argument value of type {data.type_url}, expected {type_name}")
    return wrapper.value


def _check_value(transition: str, arg: ArgumentSpec, value: Any) -> Any:
    where = f"{transition}: argument '{arg.name}'"
    shown = f"{value!r} ({type(value).__name__})"
    if arg.type == "INT":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArguments(f"{where} must be an integer, got {shown}")
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidArguments(f"{where} does not fit in 64 bits: {value}")
    elif arg.type == "FLOAT":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidArguments(f"{where} must be a number, got {shown}")
        value = float(value)
        if not math.isfinite(value) or abs(value) > FLOAT32_MAX:
            raise InvalidArguments(f"{where} must be a finite 32-bit float, got {value}")
    elif arg.type == "STRING":
        if not isinstance(value, str):
            raise InvalidArguments(f"{where} must be a string, got {shown}")
    elif arg.type == "BOOL":
        if not isinstance(value, bool):
            raise InvalidArguments(f"{where} must be true or false, got {shown}")
    else:
        raise InvalidArguments(f"{where} has an unsupported type {arg.type}")
    if arg.choices:
        allowed = [_float32(c) for c in arg.choices] if arg.type == "FLOAT" else list(arg.choices)
        if (_float32(value) if arg.type == "FLOAT" else value) not in allowed:
            raise InvalidArguments(f"{where} must be one of {', '.join(map(str, arg.choices))}, got {value!r}")
    return value


def check_argument_value(transition: str, arg: ArgumentSpec, value: Any) -> Any:
    """One argument's value checked (and a FLOAT made float) by the same rules `encode_arguments` applies, so a
    form can say which field is wrong before anything is sent. Raises InvalidArguments."""
    return _check_value(transition, arg, value)


def encode_arguments(spec: TransitionSpec, values: Mapping[str, Any] | None) -> dict[str, any_pb2.Any]:
    """Validate `values` against the transition's declared arguments and pack them (protocol 7.3).

    Strict: no conversion from text (the form layer converts); None means "not given" (the server then uses the
    default). Raises InvalidArguments, before anything is sent, for an unknown name, a missing mandatory argument,
    a wrong type (a bool is not an INT) or a value outside the choices.
    """
    values = {k: v for k, v in (values or {}).items() if v is not None}
    declared = {a.name for a in spec.arguments}
    unknown = sorted(set(values) - declared)
    if unknown:
        accepted = ", ".join(sorted(declared)) or "none"
        raise InvalidArguments(f"{spec.name}: unknown argument(s) {', '.join(unknown)} (accepted: {accepted})")
    encoded: dict[str, any_pb2.Any] = {}
    for arg in spec.arguments:
        if arg.name not in values:
            if arg.mandatory:
                raise InvalidArguments(f"{spec.name}: argument '{arg.name}' is mandatory")
            continue
        value = _check_value(spec.name, arg, values[arg.name])
        encoded[arg.name] = pack(WRAPPERS[arg.type](value=value))
    return encoded


def _argument_spec(arg: ctl.Argument) -> ArgumentSpec:
    type_name = TYPE_NAMES.get(arg.type)
    if type_name is None:
        raise ProtocolError(f"argument {arg.name} has an unknown type {arg.type}")
    default = _unpack_value(arg.default_value, type_name) if arg.HasField("default_value") else None
    choices = tuple(_unpack_value(c, type_name) for c in arg.choices)
    return ArgumentSpec(arg.name, type_name, arg.presence == ctl.Argument.MANDATORY, default, choices, arg.help)


def _transition_spec(command: ctl.FSMCommandDescription) -> TransitionSpec:
    return TransitionSpec(command.name, command.help, tuple(_argument_spec(a) for a in command.arguments))


def _node_result(response: request_response_pb2.Response) -> NodeResult:
    fsm_flag = None
    text = ""
    if response.HasField("data"):
        answer = ctl.FSMCommandResponse()
        if response.data.Unpack(answer):
            fsm_flag = flag_name(answer.flag, FSM_FLAG_NAMES)
        else:
            text, _ = failure_text(response.data)
    return NodeResult(response.name, flag_name(response.flag), fsm_flag, text,
                      tuple(_node_result(c) for c in response.children))


def _description(response: request_response_pb2.Response) -> NodeDescription:
    children = tuple(_description(c) for c in response.children)
    description = request_response_pb2.Description()
    if response.flag != SUCCESS or not response.HasField("data") or not response.data.Unpack(description):
        text, _ = failure_text(response.data if response.HasField("data") else None)
        return NodeDescription("", response.name, None, (), None, children,
                               f"{flag_name(response.flag)}: {text}".rstrip(": "))
    broadcast = None
    if description.HasField("broadcast"):
        config = broadcast_pb2.KafkaBroadcastHandlerConfiguration()
        if description.broadcast.Unpack(config):
            broadcast = (config.kafka_address, config.topic)
    return NodeDescription(description.type, description.name or response.name,
                           description.session if description.HasField("session") else None,
                           tuple(c.name for c in description.commands), broadcast, children)


# ---------------------------------------------------------------------------------------------------------------
# The client


class ControllerClient:
    """One controller, called for one web user. `child_addresses` (name → host:port) lets `tree()` descend into
    child controllers, whose addresses a 0.8 controller does not report (protocol 9.3.3).

    `schema` is the druncschema layout: "0.8" (drunc 0.10.x), "0.11" (drunc 0.13.2 / 0.14.0, served by
    `controller_011.Adapter011`) or "auto", detected on first use and kept in `layouts` (per endpoint, shared
    by the clients of one DruncBackends). Every method returns the same dataclasses in both layouts; `target`
    (a node path) addresses a subtree from this controller, which only 0.11 can do."""

    def __init__(self, address: str, user_name: str, timeout: float = 5.0, fsm_timeout: float = 120.0,
                 child_addresses: Mapping[str, str] | None = None,
                 on_unreachable: Callable[[], None] | None = None, schema: str = "auto",
                 layouts: LayoutCache | None = None):
        # on_unreachable: told when this controller or a child did not answer (the connectivity resolver then
        # looks the session up again instead of trusting addresses that may have moved)
        self.on_unreachable = on_unreachable
        self.address = normalise_address(address)
        self.user_name = user_name
        self.timeout = timeout
        self.fsm_timeout = fsm_timeout
        self.child_addresses = dict(child_addresses or {})
        self.schema = check_schema(schema)
        self.layouts = layouts if layouts is not None else LayoutCache()
        self.endpoint = Endpoint(self.address, user_name, timeout)
        self._stub = ctl_grpc.ControllerStub(channel(self.address))
        self._v11 = None

    @property
    def layout(self) -> str:
        """"0.8" or "0.11": forced by `schema`, or detected (one `status` call) and cached per endpoint."""
        try:
            return resolve(self.schema, self.layouts, self.address,
                           lambda: detect_controller(self.address, self.user_name, self.timeout))
        except BackendUnavailable:
            self._unreachable()
            raise

    def _unreachable(self) -> None:
        self.layouts.forget(self.address)
        if self.on_unreachable is not None:
            self.on_unreachable()

    def _adapter(self):
        """The 0.11 adapter, or None when this endpoint speaks 0.8."""
        if self.layout != V011:
            return None
        if self._v11 is None:
            from drunc_client.controller_011 import Adapter011

            self._v11 = Adapter011(self.endpoint, self.fsm_timeout, self._unreachable)
        return self._v11

    def _only_011(self, what: str):
        adapter = self._adapter()
        if adapter is None:
            raise UnsupportedByLayout(self.address, what, self.layout)
        return adapter

    def _target(self, target: str | None) -> str:
        from drunc_client.controller_011 import drunc_target

        return drunc_target(target, self._root_name()) if target else ""

    def _root_name(self) -> str:
        return self.status().name

    def _call(self, rpc: str, payload=None, timeout: float | None = None) -> request_response_pb2.Response:
        try:
            return self.endpoint.call(getattr(self._stub, rpc), rpc, payload, timeout)
        except BackendUnavailable:
            self._unreachable()
            raise

    def _read(self, rpc: str, cls, payload=None):
        response = check(self._call(rpc, payload), rpc)
        return unpack(response.data, cls, server=response.name or self.address, rpc=rpc)

    # -- reads --------------------------------------------------------------------------------------------------

    def describe(self) -> NodeDescription:
        """This controller's Description, with every descendant's (describe propagates)."""
        adapter = self._adapter()
        if adapter is not None:
            return adapter.describe()
        return _description(check(self._call("describe"), "describe"))

    def ls(self) -> list[str]:
        if self._adapter() is not None:
            return [s.name for s in self.children_status()]
        return list(self._read("ls", generic_pb2.PlainTextVector).text)

    def status(self, target: str | None = None) -> NodeStatus:
        """This node's status, or (0.11) that of the node at path `target` below it."""
        adapter = self._adapter()
        if adapter is not None:
            return adapter.status(self._target(target) if target else "")
        if target:
            raise UnsupportedByLayout(self.address, "status of a subtree from the root", self.layout)
        return NodeStatus.from_proto(self._read("get_status", ctl.Status))

    def children_status(self) -> list[NodeStatus]:
        adapter = self._adapter()
        if adapter is not None:
            return adapter.children_status()
        return [NodeStatus.from_proto(s) for s in self._read("get_children_status", ctl.ChildrenStatus).children_status]

    def who_is_in_charge(self) -> str:
        adapter = self._adapter()
        if adapter is not None:
            return adapter.who_is_in_charge()
        return self._read("who_is_in_charge", generic_pb2.PlainText).text

    def describe_fsm(self, key: str = "") -> list[TransitionSpec]:
        """"" = transitions allowed now; "all-transitions"; a state name; a transition name (protocol 9.3.5).
        drunc 0.13.2 answers a state or transition name with UNHANDLED_EXCEPTION_THROWN (its bug)."""
        adapter = self._adapter()
        if adapter is not None:
            return [_transition_spec(c) for c in adapter.describe_fsm(key).commands]
        described = self._read("describe_fsm", ctl.FSMCommandsDescription, generic_pb2.PlainText(text=key))
        return [_transition_spec(c) for c in described.commands]

    def recompute_status(self) -> NodeStatus:
        """0.11 only, an expert action: drunc recomputes this node's status from its included children. On drunc
        0.13.2 a controller without children answers UNHANDLED_EXCEPTION_THROWN and a root can stay in error
        for good: never call it automatically."""
        adapter = self._only_011("recompute_status")
        response = check(adapter.addressed("recompute_status"), "recompute_status", adapter_flag_names())
        from drunc_client.generated_011.druncschema import controller_pb2 as ctl011

        status = ctl011.Status()  # the 0.11 class: no name field
        if not response.HasField("data") or not response.data.Unpack(status):
            raise ProtocolError(f"{self.address}: recompute_status answered {response.data.type_url or 'no data'}")
        return adapter.node_status(response.name, status)

    def expert_command(self, json_text: str, target: str | None = None) -> NodeResult:
        """0.11 only: `execute_expert_command` with a JSON string, propagated to the (target's) subtree."""
        adapter = self._only_011("execute_expert_command")
        response = adapter.addressed("execute_expert_command", self._target(target), generic_pb2.PlainText(
            text=json_text))
        return adapter.node_result(check(response, "execute_expert_command", adapter_flag_names()))

    def all_transitions(self) -> list[TransitionSpec]:
        return self.describe_fsm("all-transitions")

    def tree(self) -> TreeNode:
        """The controller tree: get_status + get_children_status at each controller, descending into the child
        controllers whose address is in `child_addresses`. One `describe` at the top tells controllers from
        applications; without it, a child is taken for a controller when its address is known. A child
        controller that cannot be read is a leaf with its parent's view of its status and `error` set."""
        # `describe` is relayed down the whole tree (60 ms at 1,000 nodes on 0.11, half a sweep) and only tells
        # kinds and endpoints apart, which change when the tree does: kept DESCRIBE_MAX_AGE seconds, asked again
        # at once when a node it did not name appears.
        kept = self.layouts.described(self.address, DESCRIBE_MAX_AGE)
        if kept is None:
            try:
                described = list(self.describe().walk())
            except DruncError:
                described = []
            kinds = {d.name: d.type for d in described if d.type}
            endpoints = {d.name: d.endpoint for d in described if d.endpoint and d.endpoint != "unknown"}
            if described:
                self.layouts.remember_description(self.address, (kinds, endpoints))
        else:
            kinds, endpoints = kept
        adapter = self._adapter()
        # 0.11: one status from the root answers for the whole tree; controllers report their endpoint
        tree = (adapter.tree(kinds, endpoints, self.child_addresses) if adapter is not None
                else self._walk(kinds, {self.address}))
        if kept is not None and any(node.name not in kinds for node in tree.walk()):
            self.layouts.forget_description(self.address)
        return tree

    def _child(self, address: str) -> ControllerClient:
        return ControllerClient(address, self.user_name, self.timeout, self.fsm_timeout, self.child_addresses,
                                self.on_unreachable, self.schema, self.layouts)

    def _walk(self, kinds: dict[str, str], seen: set[str]) -> TreeNode:
        status = self.status()
        children = []
        for child in self.children_status():
            address = self.child_addresses.get(child.name)
            kind = kinds.get(child.name) or ("controller" if address else "application")
            if address and kind == "controller" and normalise_address(address) not in seen:
                seen.add(normalise_address(address))
                try:
                    children.append(self._child(address)._walk(kinds, seen))
                except DruncError as exc:
                    children.append(TreeNode(child.name, child, kind, (), normalise_address(address), str(exc)))
            else:
                children.append(TreeNode(child.name, child, kind, (), address))
        return TreeNode(status.name, status, "controller", tuple(children), self.address)

    # -- FSM ----------------------------------------------------------------------------------------------------

    def _spec(self, transition: str, specs: Mapping[str, TransitionSpec] | None = None) -> TransitionSpec:
        specs = specs if specs is not None else {s.name: s for s in self.all_transitions()}
        spec = specs.get(transition)
        if spec is None:
            raise InvalidArguments(f"unknown transition '{transition}' (known: {', '.join(specs) or 'none'})")
        return spec

    def encode_arguments(self, spec: TransitionSpec, values: Mapping[str, Any] | None) -> dict[str, any_pb2.Any]:
        return encode_arguments(spec, values)

    def execute(self, transition: str, arguments: Mapping[str, Any] | None = None,
                target: str | None = None) -> NodeResult:
        """Run one transition on this node (and, by propagation, its subtree). Arguments are validated against
        describe_fsm first. Raises NotInControl / DruncFlagError for a non-zero Response.flag on this node (an
        in-error node refuses that way); FSM outcomes (invalid transition, excluded, failing or excluded
        children) and the node's status afterwards are in the NodeResult. `target` (0.11): the node path of the
        subtree to run it on, addressed through this controller; `status` is then the target's."""
        return self._execute(self._spec(transition), arguments, target)

    def _execute(self, spec: TransitionSpec, arguments: Mapping[str, Any] | None,
                 target: str | None = None) -> NodeResult:
        adapter = self._adapter()
        if adapter is not None:
            response = adapter.execute(spec.name, encode_arguments(spec, arguments), self._target(target))
            result = adapter.node_result(response)
            try:
                return dataclasses.replace(result, status=self.status(target))
            except DruncError as exc:
                return dataclasses.replace(result, status_error=str(exc))
        if target:
            raise UnsupportedByLayout(self.address, "a transition addressed to a subtree", self.layout)
        command = ctl.FSMCommand(command_name=spec.name)
        for name, value in encode_arguments(spec, arguments).items():
            command.arguments[name].CopyFrom(value)
        response = self._call("execute_fsm_command", command, timeout=self.fsm_timeout)
        result = _node_result(check(response, "execute_fsm_command"))
        # The reply says how the node ran the command on itself, not whether it went into error doing so
        # (it does for a failing or excluded child), so the outcome is read again.
        try:
            return dataclasses.replace(result, status=self.status())
        except DruncError as exc:
            return dataclasses.replace(result, status_error=str(exc))

    def run_sequence(self, name: str, arguments: Mapping[str, Any] | None = None,
                     on_step: Callable[[SequenceStep], None] | None = None) -> list[SequenceStep]:
        """Expand a standard sequence client-side and run it step by step (protocol section 10).

        Refuses up front (NodeInError) when the node is in error, and
        (InvalidArguments) when an argument is unknown to every step or fails validation. Each step gets only the
        arguments it declares. A step that describe_fsm("") does not offer in the reached state is skipped, as
        drunc's shell does. The sequence stops at the first step that fails at either flag level, in any child,
        raises, or leaves the node in error. `on_step` is called after each step.
        """
        transitions = SEQUENCES.get(name)
        if transitions is None:
            raise InvalidArguments(f"unknown sequence '{name}' (known: {', '.join(SEQUENCES)})")
        arguments = {k: v for k, v in (arguments or {}).items() if v is not None}
        status = self.status()
        if status.in_error:
            raise NodeInError(status.name, name)
        specs = {s.name: s for s in self.all_transitions()}
        step_specs = [self._spec(t, specs) for t in transitions]
        declared = {a.name for spec in step_specs for a in spec.arguments}
        unknown = sorted(set(arguments) - declared)
        if unknown:
            raise InvalidArguments(f"{name}: unknown argument(s) {', '.join(unknown)}"
                                   f" (accepted: {', '.join(sorted(declared)) or 'none'})")
        per_step = [{k: v for k, v in arguments.items() if spec.argument(k)} for spec in step_specs]
        for spec, values in zip(step_specs, per_step, strict=True):
            encode_arguments(spec, values)  # validate every step before sending the first

        steps: list[SequenceStep] = []
        for spec, values in zip(step_specs, per_step, strict=True):
            try:
                offered = {s.name for s in self.describe_fsm("")}
                if spec.name not in offered:
                    step = SequenceStep(spec.name, None, None, skipped=True)
                else:
                    result = self._execute(spec, values)
                    error = None if result.ok else result.summary()
                    step = SequenceStep(spec.name, result, error)
            except DruncError as exc:
                step = SequenceStep(spec.name, None, str(exc))
            steps.append(step)
            if on_step is not None:
                on_step(step)
            if step.error is not None:
                break
        return steps

    # -- include / exclude / control -------------------------------------------------------------------------------

    def include(self, target: str | None = None) -> NodeResult:
        """Include this node and its descendants, or (0.11) the subtree at node path `target`, addressed through
        this controller. Raises for a non-zero flag on this node: including an included node raises
        (DRUNC_EXCEPTION_THROWN, CannotInclude), so in 0.8 an excluded segment is included on its own address."""
        return self._inclusion("include", target)

    def exclude(self, target: str | None = None) -> NodeResult:
        """Exclude this node and its descendants (or the subtree at `target`, 0.11); excluding an excluded node
        raises (DRUNC_EXCEPTION_THROWN)."""
        return self._inclusion("exclude", target)

    def _inclusion(self, rpc: str, target: str | None) -> NodeResult:
        adapter = self._adapter()
        if adapter is not None:
            return adapter.node_result(check(adapter.addressed(rpc, self._target(target)), rpc,
                                             adapter_flag_names()))
        if target:
            raise UnsupportedByLayout(self.address, f"{rpc} addressed to a subtree", self.layout)
        return _node_result(check(self._call(rpc), rpc))

    def take_control(self) -> NodeResult:
        """Become the actor of this node and its descendants. Always succeeds on this node in 0.10.x; FAILED means
        some child could not be taken (see NodeResult.children), so it is returned, not raised."""
        adapter = self._adapter()
        if adapter is not None:
            response = adapter.addressed("take_control")
            if response.flag != FAILED:
                check(response, "take_control", adapter_flag_names())
            return adapter.node_result(response)
        response = self._call("take_control")
        if response.flag != FAILED:
            check(response, "take_control")
        return _node_result(response)

    def surrender_control(self) -> None:
        """Give up control of this node. drunc 0.10.x clears the actor and then answers FAILED ("Could not
        surrender control"), without propagating: FAILED counts as success when who_is_in_charge then answers "".
        The children keep the old actor. drunc 0.13.2 answers success with the same text. Raises NotInControl
        when the caller is not the actor."""
        adapter = self._adapter()
        if adapter is not None:
            response = adapter.call("surrender_control", adapter.request("surrender_control", all_children=False))
            if response.flag == FAILED and self.who_is_in_charge() == "":
                return
            check(response, "surrender_control", adapter_flag_names())
            return
        response = self._call("surrender_control")
        if response.flag == FAILED and self.who_is_in_charge() == "":
            return
        check(response, "surrender_control")


def adapter_flag_names() -> dict[int, str]:
    from drunc_client.controller_011 import FLAG_NAMES as NAMES_011

    return NAMES_011
