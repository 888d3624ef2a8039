"""Simulated drunc 0.10.x controllers: a tree of `ControllerNode` gRPC servicers with application leaves.

Each controller node is a real `Controller` servicer and gets its own gRPC port (`serve_tree`), so a client can
talk to any node directly, as it must to exclude one segment (protocol 9.3.4). Inside the simulator the parent
reaches its children in-process, calling their servicer methods directly with the caller's token, which is what
drunc does over gRPC. DAQ applications (reached over REST in real drunc) are `ApplicationNode` leaves: a state,
an error flag and an inclusion flag, no server of their own.

Behaviour follows the protocol reference, sections 9.3 and 10: the actor rules, the standard DUNE FSM with its
`start` arguments, the sub-state progression of `execute_fsm_command` with one FSM_STATUS_UPDATE per step,
"<state> (<sub_state>)" while transitioning, child failures (an excluded child included) putting the parent in
error with no way back, and include/exclude on a node and its descendants (a second include or exclude raises).
`drunc_bugs=True` reproduces the 0.10.x invalid-transition bug (UNHANDLED_EXCEPTION_THROWN with an AttributeError
instead of FSM_INVALID_TRANSITION). Flags are sent in the released druncschema 0.8 numbering (see the .proto).

Error injection for tests and the demo is plain Python: `inject_error(name)`, `fail_next(name, transition)` and
`make_unreachable(name)` (undone by `restore(name)`); `stop_serving()` / `serve_again()` stop and restart one
controller's own gRPC server on the same address, as when its process is killed and started again. An application
with an ERS publisher (`ApplicationNode.ers`, set by `start_simulator` when it has Kafka) reports an injected error
or failed transition as a DAQ application does: an ERS issue chain with its causes (`simulator/app_issues.py`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import Message

from drunc_client.generated.druncschema import (
    broadcast_pb2,
    generic_pb2,
    request_response_pb2,
    token_pb2,
)
from drunc_client.generated.druncschema import controller_pb2 as ctl
from drunc_client.generated.druncschema import controller_pb2_grpc as ctl_grpc
from simulator.broadcast import Broadcaster, NullBroadcaster, topic_for
from simulator.rpc import DruncException, F, Refusal, plain, respond, stacktrace_of, traced, unpack_request

T = broadcast_pb2

INIT_TOKEN_TEXT = "controller_init_token"

# ---------------------------------------------------------------------------------------------------------------
# drunc's exceptions (DruncException subclasses → DRUNC_EXCEPTION_THROWN; the class name shows in the Stacktrace's
# last line)


class MissingArgument(DruncException):
    pass


class UnhandledArgument(DruncException):
    pass


class UnhandledArgumentType(DruncException):
    pass


class InvalidArgumentValue(DruncException):
    pass


class CannotExclude(DruncException):
    pass


class CannotInclude(DruncException):
    pass


class NodeInError(DruncException):
    """An in-error node refusing a transition. drunc 0.10.x answers with FSMResponseFlag.FSM_NOT_EXECUTED_IN_ERROR,
    which the released 0.8 schema does not define; what 0.10.5 then sends was not observed. Our choice:
    DRUNC_EXCEPTION_THROWN with this text (the numbering in the .proto says why)."""


class ChildUnreachable(Exception):
    """A child controller whose gRPC server cannot be reached (`make_unreachable`)."""


class InvalidKey(DruncException):
    pass


# ---------------------------------------------------------------------------------------------------------------
# The standard DUNE FSM (protocol section 10, fsmConf-test)

INT, FLOAT, STRING, BOOL = ctl.Argument.INT, ctl.Argument.FLOAT, ctl.Argument.STRING, ctl.Argument.BOOL
MANDATORY, OPTIONAL = ctl.Argument.MANDATORY, ctl.Argument.OPTIONAL
WRAPPERS: dict[int, type[Message]] = {
    INT: generic_pb2.int_msg,
    FLOAT: generic_pb2.float_msg,
    STRING: generic_pb2.string_msg,
    BOOL: generic_pb2.bool_msg,
}


@dataclass(frozen=True)
class ArgumentDef:
    name: str
    type: int
    presence: int
    default: Any = None
    choices: tuple = ()
    help: str = ""

    def to_proto(self) -> ctl.Argument:
        wrapper = WRAPPERS[self.type]
        arg = ctl.Argument(name=self.name, presence=self.presence, type=self.type, help=self.help)
        if self.default is not None:
            arg.default_value.Pack(wrapper(value=self.default))
        for choice in self.choices:
            arg.choices.add().Pack(wrapper(value=choice))
        return arg


@dataclass(frozen=True)
class TransitionDef:
    name: str
    source: str
    destination: str
    help: str
    arguments: tuple[ArgumentDef, ...] = ()

    def to_proto(self) -> ctl.FSMCommandDescription:
        return ctl.FSMCommandDescription(
            name=self.name,
            data_type=["controller_pb2.FSMCommand"],
            help=self.help,
            return_type="controller_pb2.FSMCommandResponse",
            arguments=[a.to_proto() for a in self.arguments],
        )


STATES = ("initial", "configured", "ready", "running", "paused", "dataflow_drained", "trigger_sources_stopped",
          "error")

START_ARGUMENTS = (
    ArgumentDef("run_number", INT, MANDATORY, help="Number of the run to start"),
    ArgumentDef("disable_data_storage", BOOL, OPTIONAL, False, help="Do not write the data to disk"),
    ArgumentDef("trigger_rate", FLOAT, OPTIONAL, 0.0, help="Trigger rate in Hz (0: keep the configured rate)"),
    ArgumentDef("run_type", STRING, OPTIONAL, "TEST", ("TEST", "PROD"), help="Run type: TEST or PROD"),
)

TRANSITIONS: dict[str, TransitionDef] = {t.name: t for t in (
    TransitionDef("conf", "initial", "configured", "Configure the applications"),
    TransitionDef("start", "configured", "ready", "Start a run", START_ARGUMENTS),
    TransitionDef("enable_triggers", "ready", "running", "Enable the triggers"),
    TransitionDef("disable_triggers", "running", "ready", "Disable the triggers"),
    TransitionDef("drain_dataflow", "ready", "dataflow_drained", "Drain the dataflow"),
    TransitionDef("stop_trigger_sources", "dataflow_drained", "trigger_sources_stopped", "Stop the trigger sources"),
    TransitionDef("stop", "trigger_sources_stopped", "configured", "Stop the run"),
    TransitionDef("scrap", "configured", "initial", "Scrap the configuration"),
)}

# rpc name, accepted payload type, help, return type (Description.commands)
COMMANDS = (
    ("describe", "None", "Describe self (and children)", "request_response_pb2.Description"),
    ("ls", "None", "List the children", "generic_pb2.PlainTextVector"),
    ("get_children_status", "None", "Status of the direct children", "controller_pb2.ChildrenStatus"),
    ("get_status", "None", "Status of self", "controller_pb2.Status"),
    ("describe_fsm", "generic_pb2.PlainText", "Describe the FSM transitions", "controller_pb2.FSMCommandsDescription"),
    ("execute_fsm_command", "controller_pb2.FSMCommand", "Execute an FSM command",
     "controller_pb2.FSMCommandResponse"),
    ("include", "None", "Include self and children", "generic_pb2.PlainText"),
    ("exclude", "None", "Exclude self and children", "generic_pb2.PlainText"),
    ("take_control", "None", "Take control of self and children", "generic_pb2.PlainText"),
    ("surrender_control", "None", "Surrender control", "generic_pb2.PlainText"),
    ("who_is_in_charge", "None", "Who is the actor", "generic_pb2.PlainText"),
)


def decode_arguments(transition: TransitionDef, arguments) -> dict[str, Any]:
    """FSMCommand.arguments → python values, with defaults; DruncException subclasses on any problem."""
    declared = {a.name for a in transition.arguments}
    unknown = sorted(set(arguments) - declared)
    if unknown:
        raise UnhandledArgument(f"Argument(s) {', '.join(unknown)} not accepted by transition '{transition.name}'")
    values: dict[str, Any] = {}
    for arg in transition.arguments:
        if arg.name not in arguments:
            if arg.presence == MANDATORY:
                raise MissingArgument(f"Argument '{arg.name}' is mandatory for transition '{transition.name}'")
            values[arg.name] = arg.default
            continue
        wrapper = WRAPPERS[arg.type]()
        if not arguments[arg.name].Unpack(wrapper):
            raise UnhandledArgumentType(
                f"Argument '{arg.name}' of '{transition.name}' must be a {type(wrapper).__name__}, "
                f"got {arguments[arg.name].type_url or 'nothing'}")
        value = wrapper.value
        if arg.choices and value not in arg.choices:
            raise InvalidArgumentValue(
                f"Argument '{arg.name}' of '{transition.name}' must be one of {', '.join(map(str, arg.choices))}, "
                f"got {value!r}")
        values[arg.name] = value
    return values


def _refuse_if_unable(node, command: str, token):
    """drunc checks, in this order, that a node is not in error and not excluded before any transition. In error
    raises NodeInError (DRUNC_EXCEPTION_THROWN)."""
    if node.in_error:
        raise NodeInError(f"{node.name} is in error: '{command}' not executed (a node in error refuses every "
                          f"transition until it is restarted)")
    if not node.included:
        return _fsm_response(node.name, command, ctl.FSM_NOT_EXECUTED_EXCLUDED, token)
    return None


def _fsm_response(name: str, command: str, flag: int, token=None, children=()) -> request_response_pb2.Response:
    return respond(name, ctl.FSMCommandResponse(flag=flag, command_name=command), token=token, children=children)


def _fsm_flag(response: request_response_pb2.Response) -> int | None:
    answer = ctl.FSMCommandResponse()
    if response.HasField("data") and response.data.Unpack(answer):
        return answer.flag
    return None


# ---------------------------------------------------------------------------------------------------------------
# Application leaves


class ApplicationNode:
    """A DAQ application as its controller sees it: no actor, no sub-states beyond idle / executing_cmd."""

    kind = "application"

    def __init__(self, name: str, *, session: str, transition_seconds: float = 0.0):
        self.name = name
        self.session = session
        self.transition_seconds = transition_seconds
        self.state = "initial"
        self.executing = False
        self.in_error = False
        self.included = True
        self._fail_next: set[str] = set()
        self._lock = threading.Lock()
        self.ers = None  # an ErsPublisher (anything with `publish(chain)`): failures are then reported over ERS

    def report_in_error(self) -> None:
        """Go into error, reporting why over ERS when there is a publisher."""
        with self._lock:
            self.in_error = True
        if self.ers is not None:
            from simulator.app_issues import in_error_chain

            self.ers.publish(in_error_chain(self.session, self.name))

    def _report_failed(self, command: str) -> None:
        if self.ers is not None:
            from simulator.app_issues import command_failed_chain

            self.ers.publish(command_failed_chain(self.session, self.name, command))

    def status(self) -> ctl.Status:
        with self._lock:
            return ctl.Status(name=self.name, state=self.state, sub_state="executing_cmd" if self.executing else "idle",
                              in_error=self.in_error, included=self.included)

    def walk(self) -> Iterator[ApplicationNode]:
        yield self

    def execute_fsm_command(self, request, context=None) -> request_response_pb2.Response:
        command = unpack_request(request, ctl.FSMCommand)
        name = command.command_name
        transition = TRANSITIONS.get(name)
        with self._lock:
            try:
                refused = _refuse_if_unable(self, name, request.token)
            except DruncException as exc:
                return respond(self.name, stacktrace_of(exc), F.DRUNC_EXCEPTION_THROWN, token=request.token)
            if refused is not None:
                return refused
            if transition is None or self.executing or transition.source != self.state:
                return _fsm_response(self.name, name, ctl.FSM_INVALID_TRANSITION, request.token)
            fail = name in self._fail_next
            if fail:
                self._fail_next.discard(name)
            else:
                self.executing = True
        if fail:  # published outside the lock: a slow broker never holds the node
            self._report_failed(name)
            return _fsm_response(self.name, name, ctl.FSM_FAILED, request.token)
        try:
            if self.transition_seconds:
                time.sleep(self.transition_seconds / 7)
        finally:
            with self._lock:
                self.state = transition.destination
                self.executing = False
        return _fsm_response(self.name, name, ctl.FSM_EXECUTED_SUCCESSFULLY, request.token)

    def include(self, request, context=None):
        with self._lock:
            if self.included:
                exc = CannotInclude(f"{self.name} is already included")
                return respond(self.name, stacktrace_of(exc), F.DRUNC_EXCEPTION_THROWN, token=request.token)
            self.included = True
        return respond(self.name, plain(f"{self.name} included"), token=request.token)

    def exclude(self, request, context=None):
        with self._lock:
            if not self.included:
                exc = CannotExclude(f"{self.name} is already excluded")
                return respond(self.name, stacktrace_of(exc), F.DRUNC_EXCEPTION_THROWN, token=request.token)
            self.included = False
        return respond(self.name, plain(f"{self.name} excluded"), token=request.token)

    def take_control(self, request, context=None):
        return respond(self.name, plain(f"{request.token.user_name} took control"), token=request.token)

    def describe(self, request, context=None):
        return respond(self.name, request_response_pb2.Description(type="application", name=self.name,
                                                                   session=self.session))


# ---------------------------------------------------------------------------------------------------------------
# Controllers


class ControllerNode(ctl_grpc.ControllerServicer):
    kind = "controller"
    _publisher = None  # a ControllerPublisher while registered in a connectivity service
    propagate_hook = None  # druncschema 0.11 (simulator/controller_011.py): how a transition reaches the children

    def __init__(self, name: str, *, session: str, broadcaster: Broadcaster | None = None,
                 children=(), transition_seconds: float = 0.0, drunc_bugs: bool = False):
        self.name = name
        self.session = session
        self.broadcaster = broadcaster if broadcaster is not None else NullBroadcaster()
        self.children: list[ControllerNode | ApplicationNode] = list(children)
        self.transition_seconds = transition_seconds
        self.drunc_bugs = drunc_bugs
        self.actor = token_pb2.Token(token=INIT_TOKEN_TEXT, user_name=INIT_TOKEN_TEXT)
        self.state = "initial"
        self.sub_state: str | None = None  # None when idle (the reported sub_state is then the state)
        self.in_error = False
        self.included = True
        self.reachable = True  # False after make_unreachable: its parent then sees drunc's fallback status
        self.server: grpc.Server | None = None  # set by serve_tree
        self.address: str | None = None  # "host:port", set by serve_tree (serve_again binds it again)
        self._executor_workers = 8
        self._connectivity: str | None = None
        self._busy = False
        self._fail_next: set[str] = set()
        self._lock = threading.RLock()

    # -- plumbing -----------------------------------------------------------------------------------------------

    def add_to_server(self, server: grpc.Server) -> None:
        ctl_grpc.add_ControllerServicer_to_server(self, server)

    def start_publishing(self, service: str, address: str, period: float | None = None) -> None:
        """Register `<name>_control` → grpc://address in the connectivity service every 2 s, as drunc does."""
        from simulator.connectivity import PUBLISH_PERIOD, ControllerPublisher

        self.stop_publishing()
        self._publisher = ControllerPublisher(service, self.session, self.name, address,
                                              period or PUBLISH_PERIOD).start()

    def stop_publishing(self) -> None:
        """Stop the publishing thread and retract the entry."""
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            publisher.stop()

    def add_child(self, child: ControllerNode | ApplicationNode) -> None:
        self.children.append(child)

    def walk(self) -> Iterator[ControllerNode | ApplicationNode]:
        """This node and all its descendants, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def controllers(self) -> list[ControllerNode]:
        """Every controller of the subtree, breadth first (the order `serve_tree` assigns ports in)."""
        found, queue = [], [self]
        while queue:
            node = queue.pop(0)
            found.append(node)
            queue.extend(c for c in node.children if isinstance(c, ControllerNode))
        return found

    def find(self, name: str) -> ControllerNode | ApplicationNode:
        return self._find_with_parent(name)[0]

    def _find_with_parent(self, name: str):
        if self.name == name:
            return self, None
        for child in self.children:
            if child.name == name:
                return child, self
            if isinstance(child, ControllerNode):
                try:
                    return child._find_with_parent(name)
                except KeyError:
                    pass
        raise KeyError(f"no node named {name!r} under {self.name}")

    def _emit(self, btype: int, text: str) -> None:
        self.broadcaster.emit(self.name, self.session, btype, text)

    def status(self) -> ctl.Status:
        """This node's own status; its parent reports `status_seen_by_parent()` instead."""
        with self._lock:
            if self.sub_state is None:
                return ctl.Status(name=self.name, state=self.state, sub_state=self.state, in_error=self.in_error,
                                  included=self.included)
            return ctl.Status(name=self.name, state=f"{self.state} ({self.sub_state})", sub_state=self.sub_state,
                              in_error=self.in_error, included=self.included)

    def status_seen_by_parent(self) -> ctl.Status:
        """drunc's fallback for a child controller it cannot reach (protocol 9.3.3): unknown, in error, and
        `included = false` although nobody excluded it."""
        if not self.reachable:
            return ctl.Status(name=self.name, state="unknown", sub_state="unknown", in_error=True, included=False)
        return self.status()

    def _child_call(self, child, rpc: str, request) -> request_response_pb2.Response:
        """Call a child's rpc in-process, as drunc does over gRPC; an unreachable child answers the way a failed
        gRPC call is reported among the children (UNHANDLED_EXCEPTION_THROWN with the error)."""
        try:
            if isinstance(child, ControllerNode) and not child.reachable:
                raise ChildUnreachable(f"failed to connect to {child.name}: StatusCode.UNAVAILABLE")
            return getattr(child, rpc)(request, None)
        except Exception as exc:  # noqa: BLE001 - a crashing child is a failed child
            return respond(child.name, stacktrace_of(exc), F.UNHANDLED_EXCEPTION_THROWN, token=request.token)

    def _require_control(self, request) -> None:
        token = request.token
        with self._lock:
            actor = self.actor
            ok = bool(actor.user_name) and actor.user_name == token.user_name and actor.token == token.token
        if not ok:
            raise Refusal(F.NOT_EXECUTED_NOT_IN_CONTROL, f"User {token.user_name} is not in control of Controller")

    def _set_error(self, reason: str) -> None:
        with self._lock:
            changed = not self.in_error
            self.in_error = True
        if changed:
            self._emit(T.STATUS_UPDATE, f"{self.name} is in error: {reason}")

    # -- error injection (plain Python, for tests and the demo) ---------------------------------------------------

    def inject_error(self, node_name: str) -> None:
        """Put a node of this subtree into error (STATUS_UPDATE from its controller; an application also reports
        an ERS issue chain when it has a publisher). Nothing clears it."""
        node, parent = self._find_with_parent(node_name)
        if isinstance(node, ControllerNode):
            node._set_error("error injected")
            return
        node.report_in_error()
        owner = parent or self
        owner._emit(T.STATUS_UPDATE, f"{node.name} is in error: error injected")

    def make_unreachable(self, node_name: str) -> None:
        """Stop a child controller's gRPC server (when `serve_tree` started one) and make its parent see it as
        drunc sees a child it cannot reach. There is no way back: serve the tree again."""
        node = self.find(node_name)
        if not isinstance(node, ControllerNode) or node is self:
            raise ValueError(f"{node_name} is not a child controller of {self.name}")
        node.reachable = False
        node.stop_serving()

    def restore(self, node_name: str) -> None:
        """Undo `make_unreachable`: the child's server answers again on its old address."""
        node = self.find(node_name)
        if not isinstance(node, ControllerNode) or node is self:
            raise ValueError(f"{node_name} is not a child controller of {self.name}")
        node.serve_again()

    def stop_serving(self) -> None:
        """Stop this controller's gRPC server at once (in-flight calls are cancelled: their callers see the
        controller vanish, as when its process is killed). A transition running inside carries on in its thread,
        as the state of a killed process would be whatever it reached."""
        self.stop_publishing()
        if self.server is not None:
            self.server.stop(None)
            self.server = None

    def serve_again(self) -> grpc.Server:
        """Start a new gRPC server for this controller on the address `serve_tree` gave it (its process
        restarted); returns the server."""
        if self.address is None:
            raise RuntimeError(f"{self.name} was never served: use serve_tree")
        if self.server is not None:
            return self.server
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=self._executor_workers,
                                                        thread_name_prefix=f"grpc-{self.name}"))
        self.add_to_server(server)
        if not server.add_insecure_port(self.address):
            raise RuntimeError(f"cannot bind {self.name} to {self.address} again")
        server.start()
        self.server = server
        self.reachable = True
        self._emit(T.SERVER_READY, "ready")
        if self._connectivity:
            self.start_publishing(self._connectivity, self.address)
        return server

    def fail_next(self, node_name: str, transition: str) -> None:
        """The named node answers FSM_FAILED the next time it is asked to run `transition` (once)."""
        if transition not in TRANSITIONS:
            raise ValueError(f"unknown transition {transition!r}")
        node = self.find(node_name)
        with node._lock:
            node._fail_next.add(transition)

    # -- reads --------------------------------------------------------------------------------------------------

    @traced("describe")
    def describe(self, request, context):
        description = request_response_pb2.Description(
            type="controller", name=self.name, session=self.session,
            commands=[request_response_pb2.CommandDescription(name=n, data_type=[d], help=h, return_type=r)
                      for n, d, h, r in COMMANDS])
        if self.broadcaster.kafka_address:
            description.broadcast.Pack(broadcast_pb2.KafkaBroadcastHandlerConfiguration(
                kafka_address=self.broadcaster.kafka_address, topic=topic_for(self.session, self.name)))
        children = [self._child_call(child, "describe", request) for child in self.children]
        return respond(self.name, description, children=children)

    @traced("ls")
    def ls(self, request, context):
        return respond(self.name, generic_pb2.PlainTextVector(text=[c.name for c in self.children]))

    @traced("get_status")
    def get_status(self, request, context):
        return respond(self.name, self.status())

    @traced("get_children_status")
    def get_children_status(self, request, context):
        return respond(self.name, ctl.ChildrenStatus(children_status=[
            c.status_seen_by_parent() if isinstance(c, ControllerNode) else c.status() for c in self.children]))

    @traced("describe_fsm")
    def describe_fsm(self, request, context):
        key = unpack_request(request, generic_pb2.PlainText).text
        with self._lock:
            state = self.state
        if key == "":
            selected = [t for t in TRANSITIONS.values() if t.source == state]
        elif key == "all-transitions":
            selected = list(TRANSITIONS.values())
        elif key in STATES:
            selected = [t for t in TRANSITIONS.values() if t.source == key]
        elif key in TRANSITIONS:
            selected = [TRANSITIONS[key]]
        else:
            raise InvalidKey(f"'{key}' is neither a state nor a transition of the FSM")
        return respond(self.name, ctl.FSMCommandsDescription(
            type="controller", name=self.name, session=self.session, commands=[t.to_proto() for t in selected]))

    @traced("who_is_in_charge")
    def who_is_in_charge(self, request, context):
        with self._lock:
            return respond(self.name, plain(self.actor.user_name))

    # -- control ------------------------------------------------------------------------------------------------

    @traced("take_control")
    def take_control(self, request, context):
        # The ownership check is disabled in 0.10.x: taking control always succeeds on self and propagates.
        with self._lock:
            self.actor = token_pb2.Token(token=request.token.token, user_name=request.token.user_name)
        children = [self._child_call(child, "take_control", request) for child in self.children]
        if any(r.flag != F.EXECUTED_SUCCESSFULLY for r in children):
            return respond(self.name, plain("Could not take control on all children"), F.FAILED,
                           token=request.token, children=children)
        return respond(self.name, plain(f"{request.token.user_name} took control"), token=request.token,
                       children=children)

    @traced("surrender_control")
    def surrender_control(self, request, context):
        # 0.10.x: the actor is cleared, then an early return answers FAILED; the children keep their actor.
        self._require_control(request)
        with self._lock:
            self.actor = token_pb2.Token()
        return respond(self.name, plain("Could not surrender control"), F.FAILED, token=request.token)

    @traced("include")
    def include(self, request, context):
        # As in drunc, including an included node raises CannotInclude: an excluded segment is included again
        # on its own address, not through its (included) parent.
        self._require_control(request)
        with self._lock:
            if self.included:
                raise CannotInclude(f"{self.name} is already included")
            self.included = True
        self._emit(T.STATUS_UPDATE, f"{self.name} included")
        children = [self._child_call(child, "include", request) for child in self.children]
        return respond(self.name, plain(f"{self.name} and children included"), token=request.token,
                       children=children)

    @traced("exclude")
    def exclude(self, request, context):
        self._require_control(request)
        with self._lock:
            if not self.included:
                raise CannotExclude(f"{self.name} is already excluded")
            self.included = False
        self._emit(T.STATUS_UPDATE, f"{self.name} excluded")
        children = [self._child_call(child, "exclude", request) for child in self.children]
        return respond(self.name, plain(f"{self.name} and children excluded"), token=request.token,
                       children=children)

    # -- FSM ----------------------------------------------------------------------------------------------------

    @traced("execute_fsm_command")
    def execute_fsm_command(self, request, context):
        self._require_control(request)
        command = unpack_request(request, ctl.FSMCommand)
        name = command.command_name
        transition = TRANSITIONS.get(name)
        with self._lock:
            refused = _refuse_if_unable(self, name, request.token)
            if refused is not None:
                return refused
            valid = transition is not None and not self._busy and transition.source == self.state
            if valid:
                self._busy = True
            state = self.state
        if not valid:
            if self.drunc_bugs:
                # 0.10.x: the error-logging line of the invalid-transition branch calls a missing method.
                raise AttributeError(f"'StatefulNode' object has no attribute 'get_current_state_name' "
                                     f"(transition '{name}' from state '{state}')")
            return _fsm_response(self.name, name, ctl.FSM_INVALID_TRANSITION, request.token)
        try:
            decode_arguments(transition, command.arguments)  # DRUNC_EXCEPTION_THROWN, state unchanged
            with self._lock:
                fail = name in self._fail_next
                self._fail_next.discard(name)
            if fail:
                return _fsm_response(self.name, name, ctl.FSM_FAILED, request.token)
            children = self._run_transition(transition, request.token, command)
        finally:
            with self._lock:
                self._busy = False
        return _fsm_response(self.name, name, ctl.FSM_EXECUTED_SUCCESSFULLY, request.token, children)

    def _step(self, sub_state: str | None, destination: str | None = None) -> None:
        with self._lock:
            old = self.sub_state or self.state
            if destination is not None:
                self.state = destination
            self.sub_state = sub_state
            new = sub_state or self.state
        self._emit(T.FSM_STATUS_UPDATE, f"Changing operational_state from {old} to {new}")

    def _run_transition(self, transition: TransitionDef, token, command: ctl.FSMCommand) -> list:
        t = transition.name
        pause = self.transition_seconds / 7

        def wait():
            if pause:
                time.sleep(pause)

        self._step(f"preparing-{t}")
        wait()
        self._step(f"{t}-ready")
        wait()
        self._step(f"propagating-{t}")
        children = (self.propagate_hook or self._propagate)(t, token, command)
        wait()
        self._step(f"{t}-propagated")
        wait()
        self._step(f"executing-{t}")
        wait()
        self._step(f"{t}-terminated", destination=transition.destination)
        wait()
        self._step(f"finalising-{t}")
        wait()
        self._step(None)
        return children

    def _propagate(self, t: str, token, command: ctl.FSMCommand) -> list:
        """Send the command to every child in parallel; any child not answering FSM_EXECUTED_SUCCESSFULLY puts
        this node in error.

        drunc sends to all children, excluded ones included; an excluded child answers FSM_NOT_EXECUTED_EXCLUDED,
        and that too puts the parent in error (observed on drunc 0.10.5: the parent still answers
        FSM_EXECUTED_SUCCESSFULLY for itself).
        """
        if not self.children:
            return []
        self._emit(T.COMMAND_EXECUTION_START, f"Propagating {t} to children")
        forwarded = ctl.FSMCommand(command_name=t)
        for key, value in command.arguments.items():
            forwarded.arguments[key].CopyFrom(value)
        request = request_response_pb2.Request(token=token)
        request.data.Pack(forwarded)

        def run(child):
            self._emit(T.CHILD_COMMAND_EXECUTION_START, f"Propagating {t} to children ({child.name}) started")
            response = self._child_call(child, "execute_fsm_command", request)
            fsm_flag = _fsm_flag(response)
            failed = response.flag != F.EXECUTED_SUCCESSFULLY or fsm_flag != ctl.FSM_EXECUTED_SUCCESSFULLY
            if failed:
                what = ctl.FSMResponseFlag.Name(fsm_flag) if fsm_flag is not None else \
                    request_response_pb2.ResponseFlag.Name(response.flag)
                self._emit(T.CHILD_COMMAND_EXECUTION_FAILED,
                           f"Propagating {t} to children ({child.name}) failed: {what}")
            else:
                self._emit(T.CHILD_COMMAND_EXECUTION_SUCCESS,
                           f"Propagating {t} to children ({child.name}) succeeded")
            return response, failed

        with futures.ThreadPoolExecutor(max_workers=len(self.children),
                                        thread_name_prefix=f"{self.name}-{t}") as pool:
            outcomes = list(pool.map(run, self.children))
        failed = [child.name for child, (_, bad) in zip(self.children, outcomes, strict=True) if bad]
        if failed:
            self._set_error(f"{t} failed on {', '.join(failed)}")
        return [response for response, _ in outcomes]


# ---------------------------------------------------------------------------------------------------------------
# Building and serving a tree


def build_tree(segments: int, apps: int, *, session: str, broadcaster: Broadcaster | None = None,
               transition_seconds: float = 0.0, drunc_bugs: bool = False) -> ControllerNode:
    """root-controller → segment-controller-N (N from 0) → segment-controller-N-app-M applications.

    With `segments=0` the applications hang directly under the root (named root-controller-app-M).
    """
    def controller(name: str) -> ControllerNode:
        return ControllerNode(name, session=session, broadcaster=broadcaster, transition_seconds=transition_seconds,
                              drunc_bugs=drunc_bugs)

    def add_apps(parent: ControllerNode) -> None:
        for m in range(apps):
            parent.add_child(ApplicationNode(f"{parent.name}-app-{m}", session=session,
                                             transition_seconds=transition_seconds))

    root = controller("root-controller")
    if segments == 0:
        add_apps(root)
    for n in range(segments):
        segment = controller(f"segment-controller-{n}")
        add_apps(segment)
        root.add_child(segment)
    return root


def serve_tree(root: ControllerNode, host: str = "127.0.0.1", root_port: int = 0, executor_workers: int = 8,
               connectivity: str | None = None, servicers: dict | None = None
               ) -> tuple[list[grpc.Server], dict[str, str]]:
    """One gRPC server per controller: root on `root_port`, the others on the following ports (breadth first),
    or all on any free port when `root_port` is 0. Emits SERVER_READY per controller. With a `connectivity`
    service address, each controller then publishes itself there until `stop_publishing` (stop_tree).

    `servicers` (controller name → servicer) serves another layout's servicer in place of the node (the
    druncschema 0.11 facades of simulator/controller_011.py); each gets `endpoint = "grpc://host:port"`.

    Returns the started servers and {controller name: "host:port"}.
    """
    servers: list[grpc.Server] = []
    addresses: dict[str, str] = {}
    try:
        for index, node in enumerate(root.controllers()):
            server = grpc.server(futures.ThreadPoolExecutor(max_workers=executor_workers,
                                                            thread_name_prefix=f"grpc-{node.name}"))
            servicer = servicers[node.name] if servicers else node
            servicer.add_to_server(server)
            wanted = root_port + index if root_port else 0
            bound = server.add_insecure_port(f"{host}:{wanted}")
            if not bound:
                raise RuntimeError(f"cannot bind {node.name} to {host}:{wanted}")
            server.start()
            servers.append(server)
            node.server = server
            node.address = addresses[node.name] = f"{host}:{bound}"
            node._executor_workers = executor_workers
            node._connectivity = connectivity
            if servicers:
                servicer.endpoint = f"grpc://{addresses[node.name]}"
            node._emit(T.SERVER_READY, "ready")
            if connectivity:
                node.start_publishing(connectivity, addresses[node.name])
    except BaseException:
        for node in root.controllers():
            node.stop_publishing()
        for server in servers:
            server.stop(None)
        raise
    return servers, addresses


def stop_tree(root: ControllerNode, servers: list[grpc.Server], grace: float | None = None) -> None:
    """Stop the servers of `serve_tree`, with a SERVER_SHUTDOWN broadcast per controller."""
    for node in root.controllers():
        node.stop_publishing()
        node._emit(T.SERVER_SHUTDOWN, "over_and_out")
    for server in servers:
        server.stop(grace)
