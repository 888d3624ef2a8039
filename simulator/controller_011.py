"""The controller tree served in druncschema 0.11, as real drunc 0.13.2 behaved (drunc-protocol-0.11.md §3.3, §9).

A `Facade011` per node wraps the simulator's `ControllerNode` / `ApplicationNode` (the same FSM, sub-states,
actor and error injection) and speaks the 0.11 envelope: every request carries an `AddressedCommand`
(absent → self and the whole tree; another type → flag 8 "Cannot unpack"), `target` routes a command to a
subtree (components matched with `re.match`, an unknown target answers FAILED), `status` answers for the node and
its children. As on 0.13.2: an invalid transition answers flag 0 + FSM_INVALID_TRANSITION; a node in error
answers FSM_NOT_EXECUTED_IN_ERROR; excluded children are not sent a transition and do not put the parent in
error; include / exclude of an included / excluded node is not an error.

`bugs=True` reproduces what 0.13.2 breaks: `describe_fsm` with a state or transition name fails (flag 7,
AttributeError), `recompute_status` on a controller without children fails (flag 7, KeyError) and leaves that
node in error for good, and `surrender_control` says "Could not surrender control" although it did.
"""

from __future__ import annotations

import re
from concurrent import futures

from google.protobuf.message import Message

from drunc_client.generated.druncschema import broadcast_pb2, generic_pb2
from drunc_client.generated.druncschema import request_response_pb2 as rr8
from drunc_client.generated_011.druncschema import controller_pb2 as ctl
from drunc_client.generated_011.druncschema import controller_pb2_grpc as ctl_grpc
from drunc_client.generated_011.druncschema import request_response_pb2 as rr
from simulator.broadcast import topic_for
from simulator.controller import (
    STATES,
    TRANSITIONS,
    ApplicationNode,
    ControllerNode,
    decode_arguments,
)
from simulator.rpc import DruncException, Refusal, stacktrace_of

# 0.8 flag numbers → 0.11 (NODE_IN_ERROR = 5 inserted)
FLAG_08_TO_011 = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 7, 7: 8}
CONTROLLED = {"execute_fsm_command", "include", "exclude", "recompute_status", "execute_expert_command",
              "surrender_control"}
PAYLOADS = {"describe_fsm": generic_pb2.PlainText, "execute_fsm_command": ctl.FSMCommand,
            "execute_expert_command": generic_pb2.PlainText}


class BadFormat(Exception):
    pass


def copy_any(destination, source) -> None:
    destination.type_url = source.type_url
    destination.value = source.value


def respond(name: str, data: Message | None = None, flag: int = rr.EXECUTED_SUCCESSFULLY, token=None,
            children=()) -> rr.Response:
    response = rr.Response(name=name, flag=flag, children=list(children))
    if token is not None:
        response.token.token, response.token.user_name = token.token, token.user_name
    if data is not None:
        response.data.Pack(data)
    return response


def from_08(response: rr8.Response) -> rr.Response:
    converted = rr.Response(name=response.name, flag=FLAG_08_TO_011.get(response.flag, response.flag))
    converted.token.token, converted.token.user_name = response.token.token, response.token.user_name
    if response.HasField("data"):
        copy_any(converted.data, response.data)
    converted.children.extend(from_08(c) for c in response.children)
    return converted


def plain(text: str) -> generic_pb2.PlainText:
    return generic_pb2.PlainText(text=text)


class Facade011(ctl_grpc.ControllerServicer):
    """One node of the tree in the 0.11 layout; controllers are also gRPC servicers."""

    def __init__(self, node: ControllerNode | ApplicationNode, bugs: bool = False):
        self.node = node
        self.name = node.name
        self.bugs = bugs
        self.endpoint = "unknown"  # grpc://host:port once served
        self.children = [Facade011(c, bugs) for c in getattr(node, "children", ())]
        if isinstance(node, ControllerNode):
            node.propagate_hook = self._propagate_transition
        self._token = None  # the caller of the transition running, for the propagation hook

    @property
    def is_controller(self) -> bool:
        return isinstance(self.node, ControllerNode)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def add_to_server(self, server) -> None:
        ctl_grpc.add_ControllerServicer_to_server(self, server)

    # -- the gRPC entry points ----------------------------------------------------------------------------------

    def _entry(self, rpc: str, request: rr.Request) -> rr.Response:
        emit = getattr(self.node, "_emit", None)
        if emit is not None:
            emit(broadcast_pb2.ACK, f"User '{request.token.user_name}' attempting to execute '{rpc}'")
        try:
            command = self._addressed(rpc, request)
        except BadFormat as exc:
            return respond(self.name, plain(str(exc)), rr.NOT_EXECUTED_BAD_REQUEST_FORMAT, request.token)
        return self.handle(rpc, command, request.token)

    @staticmethod
    def _addressed(rpc: str, request: rr.Request) -> ctl.AddressedCommand:
        if not request.HasField("data"):
            return ctl.AddressedCommand(command_name=rpc, execute_along_path=True,
                                        execute_on_all_subsequent_children_in_path=True)
        command = ctl.AddressedCommand()
        if not request.data.Unpack(command):
            raise BadFormat(f"Cannot unpack '{request.data.type_url}' to 'AddressedCommand'")
        expected = PAYLOADS.get(rpc)
        if expected is not None and command.HasField("command_data") \
                and not command.command_data.Is(expected.DESCRIPTOR):
            raise BadFormat(f"Cannot unpack '{command.command_data.type_url}' to '{expected.__name__}'")
        return command

    def describe(self, request, context):
        return self._entry("describe", request)

    def status(self, request, context):
        return self._entry("status", request)

    def describe_fsm(self, request, context):
        return self._entry("describe_fsm", request)

    def execute_fsm_command(self, request, context):
        return self._entry("execute_fsm_command", request)

    def execute_expert_command(self, request, context):
        return self._entry("execute_expert_command", request)

    def include(self, request, context):
        return self._entry("include", request)

    def exclude(self, request, context):
        return self._entry("exclude", request)

    def recompute_status(self, request, context):
        return self._entry("recompute_status", request)

    def take_control(self, request, context):
        return self._entry("take_control", request)

    def surrender_control(self, request, context):
        return self._entry("surrender_control", request)

    def who_is_in_charge(self, request, context):
        return self._entry("who_is_in_charge", request)

    # -- addressing ---------------------------------------------------------------------------------------------

    def _route(self, command: ctl.AddressedCommand):
        """(execute on self, [(child, its AddressedCommand)]); raises ValueError for a target not matching."""
        target = command.target
        parts = [p for p in target.split("/") if p]
        if target.startswith("/") and parts:
            if parts[0] != self.name:
                raise ValueError(f"Target '{target}' is not matching '{self.name}'")
            parts = parts[1:]
        elif parts and parts[0] == self.name:
            parts = parts[1:]
        reduces = not parts
        on_self = command.execute_along_path or reduces
        routed = []
        if reduces:
            if command.execute_on_all_subsequent_children_in_path:
                routed = [(c, self._for_child(command, c.name)) for c in self.children]
        else:
            rest = parts[1:]
            routed = [(c, self._for_child(command, "/".join([c.name, *rest]))) for c in self.children
                      if re.match(parts[0], c.name)]
            if not routed:
                raise ValueError(f"Target '{target}' is not matching '{self.name}'")
        return on_self, routed

    @staticmethod
    def _for_child(command: ctl.AddressedCommand, target: str) -> ctl.AddressedCommand:
        forwarded = ctl.AddressedCommand()
        forwarded.CopyFrom(command)
        forwarded.target = target
        return forwarded

    def handle(self, rpc: str, command: ctl.AddressedCommand, token) -> rr.Response:
        """This node's answer to an addressed command, with its routed children's."""
        if self.is_controller and not self.node.reachable:
            return respond(self.name, generic_pb2.Stacktrace(text=[f"failed to connect to {self.name}: "
                                                                   "StatusCode.UNAVAILABLE"]),
                           rr.UNHANDLED_EXCEPTION_THROWN, token)
        try:
            if rpc in CONTROLLED and self.is_controller:
                self.node._require_control(_Request(token))
            on_self, routed = self._route(command)
        except Refusal as exc:
            return respond(self.name, plain(exc.text), exc.flag, token)
        except ValueError as exc:
            return respond(self.name, plain(str(exc)), rr.FAILED, token)
        if rpc == "execute_fsm_command" and on_self:
            return self._guard(lambda: self._transition(command, token, routed), token)
        data = None
        if on_self:
            outcome = self._guard(lambda: self._self(rpc, command, token), token)
            if outcome.flag != rr.EXECUTED_SUCCESSFULLY:
                outcome.children.extend(self._children(rpc, routed, token))
                return outcome
            data = outcome
        children = self._children(rpc, routed, token)
        response = data if data is not None else respond(self.name, token=token)
        response.children.extend(children)
        if rpc == "take_control" and any(c.flag != rr.EXECUTED_SUCCESSFULLY for c in children):
            response.flag = rr.FAILED
        return response

    def _children(self, rpc: str, routed, token) -> list[rr.Response]:
        if not routed:
            return []
        with futures.ThreadPoolExecutor(max_workers=len(routed)) as pool:
            return list(pool.map(lambda pair: pair[0].handle(rpc, pair[1], token), routed))

    def _guard(self, run, token) -> rr.Response:
        try:
            return run()
        except Refusal as exc:
            return respond(self.name, plain(exc.text), exc.flag, token)
        except DruncException as exc:
            return respond(self.name, stacktrace_of(exc), rr.DRUNC_EXCEPTION_THROWN, token)
        except Exception as exc:  # noqa: BLE001 - drunc: any other exception is UNHANDLED_EXCEPTION_THROWN
            return respond(self.name, stacktrace_of(exc), rr.UNHANDLED_EXCEPTION_THROWN, token)

    # -- what a node does on itself -----------------------------------------------------------------------------

    def status_message(self) -> ctl.Status:
        status = self.node.status() if not self.is_controller else None
        if status is not None:
            return ctl.Status(state=status.state, sub_state=status.sub_state, in_error=status.in_error,
                              included=status.included)
        node = self.node
        with node._lock:
            return ctl.Status(state=node.state, sub_state=node.sub_state or node.state, in_error=node.in_error,
                              included=node.included)

    def _self(self, rpc: str, command: ctl.AddressedCommand, token) -> rr.Response:
        node, name = self.node, self.name
        user = token.user_name
        if rpc == "status":
            return respond(name, self.status_message(), token=token)
        if rpc == "describe":
            description = rr.Description(type=node.kind, name=name, endpoint=self.endpoint if self.is_controller
                                         else "unknown", session=node.session)
            broadcaster = getattr(node, "broadcaster", None)
            if broadcaster is not None and broadcaster.kafka_address:
                description.broadcast.Pack(broadcast_pb2.KafkaBroadcastHandlerConfiguration(
                    kafka_address=broadcaster.kafka_address, topic=topic_for(node.session, name)))
            return respond(name, description, token=token)
        if rpc == "describe_fsm":
            key = generic_pb2.PlainText()
            if command.HasField("command_data"):
                command.command_data.Unpack(key)
            return respond(name, self._describe_fsm(key.text), token=token)
        if rpc == "who_is_in_charge":
            actor = node.actor.user_name if self.is_controller else ""
            return respond(name, plain(actor), token=token)
        if rpc == "take_control":
            if self.is_controller:
                with node._lock:
                    node.actor.token, node.actor.user_name = token.token, token.user_name
            return respond(name, plain(f"{user} took control on {name}"), token=token)
        if rpc == "surrender_control":
            if self.is_controller:
                with node._lock:
                    node.actor.token, node.actor.user_name = "", ""
            text = f"Could not surrender control on {name}" if self.bugs else f"{user} surrendered control on {name}"
            return respond(name, plain(text), token=token)
        if rpc in ("include", "exclude"):
            wanted = rpc == "include"
            with node._lock:
                already = node.included == wanted
                node.included = wanted
            if not already and self.is_controller:
                node._emit(broadcast_pb2.STATUS_UPDATE, f"{name} {rpc}d")
            return respond(name, plain(f"{name} is already {rpc}d" if already else f"{name} {rpc}d"), token=token)
        if rpc == "execute_expert_command":
            return respond(name, plain(f"{name} propagated expert command"), token=token)
        if rpc == "recompute_status":
            return self._recompute(token)
        raise DruncException(f"{rpc} is not served by {name}")

    def _describe_fsm(self, key: str) -> ctl.FSMCommandsDescription:
        state = self.node.state
        if key == "":
            selected = [t for t in TRANSITIONS.values() if t.source == state]
        elif key == "all-transitions":
            selected = list(TRANSITIONS.values())
        elif self.bugs:
            raise AttributeError("'str' object has no attribute 'text'")  # drunc 0.13.2's named-key bug
        elif key in STATES:
            selected = [t for t in TRANSITIONS.values() if t.source == key]
        elif key in TRANSITIONS:
            selected = [TRANSITIONS[key]]
        else:
            raise DruncException(f"'{key}' is neither a state nor a transition of the FSM")
        described = ctl.FSMCommandsDescription(type="controller", name=self.name, session=self.node.session)
        for transition in selected:
            described.commands.add().MergeFromString(transition.to_proto().SerializeToString())
        return described

    def _recompute(self, token) -> rr.Response:
        node = self.node
        included = [c for c in self.children if c.node.included]
        if not self.children and self.bugs:
            if self.is_controller:
                node._set_error("recompute_status failed")  # 0.13.2: in error for good
            raise KeyError("pop from an empty set")
        in_error = any(c.status_message().in_error for c in included)
        with node._lock:
            node.in_error = in_error
        children = [respond(c.name, c.status_message(), token=token) for c in self.children]
        return respond(self.name, self.status_message(), token=token, children=children)

    # -- transitions --------------------------------------------------------------------------------------------

    def _transition(self, command: ctl.AddressedCommand, token, routed) -> rr.Response:
        fsm = ctl.FSMCommand()
        if command.HasField("command_data"):
            command.command_data.Unpack(fsm)
        if not self.is_controller:
            return self._application_transition(fsm, token)
        node, name = self.node, self.name
        transition = TRANSITIONS.get(fsm.command_name)

        def answer(flag, children=()):
            return respond(name, ctl.FSMCommandResponse(flag=flag, command_name=fsm.command_name), token=token,
                           children=children)

        with node._lock:
            if node.in_error:
                return answer(ctl.FSM_NOT_EXECUTED_IN_ERROR)
            if not node.included:
                return answer(ctl.FSM_NOT_EXECUTED_EXCLUDED)
            valid = transition is not None and not node._busy and transition.source == node.state
            if valid:
                node._busy = True
        if not valid:
            return answer(ctl.FSM_INVALID_TRANSITION)
        try:
            decode_arguments(transition, _ArgumentsView(fsm.arguments))
            with node._lock:
                fail = transition.name in node._fail_next
                node._fail_next.discard(transition.name)
            if fail:
                return answer(ctl.FSM_FAILED)
            self._routed = [(c, cmd) for c, cmd in routed if c.node.included]
            self._fsm = fsm
            self._token = token
            children = node._run_transition(transition, token, None)
        finally:
            with node._lock:
                node._busy = False
        return answer(ctl.FSM_EXECUTED_SUCCESSFULLY, children)

    def _propagate_transition(self, t: str, token, _command) -> list:
        """The node's propagating step: only included children receive it; a child that fails puts this node
        in error, an excluded one does not (0.13.2)."""
        routed, token = getattr(self, "_routed", []), self._token
        if not routed:
            return []
        forwarded = []
        for child, command in routed:
            copy = ctl.AddressedCommand()
            copy.CopyFrom(command)
            copy.command_data.Pack(self._fsm)
            forwarded.append((child, copy))
        responses = self._children("execute_fsm_command", forwarded, token)
        failed = [r.name for r in responses if r.flag != rr.EXECUTED_SUCCESSFULLY or _fsm_flag(r) not in (
            ctl.FSM_EXECUTED_SUCCESSFULLY, ctl.FSM_NOT_EXECUTED_EXCLUDED)]
        if failed:
            self.node._set_error(f"{t} failed on {', '.join(failed)}")
        return responses

    def _application_transition(self, fsm: ctl.FSMCommand, token) -> rr.Response:
        node = self.node
        if node.in_error:
            return respond(self.name, ctl.FSMCommandResponse(flag=ctl.FSM_NOT_EXECUTED_IN_ERROR,
                                                             command_name=fsm.command_name), token=token)
        request = rr8.Request()
        request.token.token, request.token.user_name = token.token, token.user_name
        request.data.type_url = "type.googleapis.com/dunedaq.druncschema.FSMCommand"
        request.data.value = fsm.SerializeToString()
        return from_08(node.execute_fsm_command(request))


class _Request:
    def __init__(self, token):
        self.token = token


class _ArgumentsView(dict):
    """FSMCommand.arguments for `decode_arguments` (it only reads keys and Unpack()s values)."""

    def __init__(self, arguments):
        super().__init__(arguments.items())


def _fsm_flag(response: rr.Response) -> int | None:
    answer = ctl.FSMCommandResponse()
    if response.HasField("data") and response.data.Unpack(answer):
        return answer.flag
    return None
