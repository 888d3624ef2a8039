"""The druncschema 0.11 adapter of `ControllerClient` (drunc 0.13.2 / 0.14.0; drunc-protocol-0.11.md sections 2.7,
3.2, 3.3 and 9).

Every request carries an `AddressedCommand` in `Request.data`, with the rpc's real payload in `command_data`;
`target` addresses a subtree from the root (`execute_along_path=False`: only the target and, with
`execute_on_all_subsequent_children_in_path`, everything below it executes). `status` answers for the node and,
addressed so, for its whole tree (children in `Response.children`), which makes the tree walk one call.
Messages of this layout live in their own descriptor pool (drunc_client/generated_011/pool.py); the results are
the same dataclasses the 0.8 path returns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from google.protobuf.message import Message

from drunc_client.errors import BackendUnavailable, ProtocolError
from drunc_client.generated.druncschema import broadcast_pb2, generic_pb2
from drunc_client.generated_011.druncschema import controller_pb2 as ctl
from drunc_client.generated_011.druncschema import controller_pb2_grpc as ctl_grpc
from drunc_client.generated_011.druncschema import request_response_pb2 as rr
from drunc_client.transport import Endpoint, channel, check, failure_text, flag_name, normalise_address

FLAG_NAMES = {v.number: v.name for v in rr.ResponseFlag.DESCRIPTOR.values}
FSM_FLAG_NAMES = {v.number: v.name for v in ctl.FSMResponseFlag.DESCRIPTOR.values}
SUCCESS = rr.EXECUTED_SUCCESSFULLY
FAILED = rr.FAILED


def drunc_target(path: str | None, root_name: str) -> str:
    """A node path ("seg" or "root/seg/app", as the tree shows it) → drunc's target: components after the
    root, each anchored, since drunc matches a component against the child names with `re.match`."""
    if not path:
        return ""
    parts = [p for p in path.strip("/").split("/") if p]
    if parts and parts[0] == root_name:
        parts = parts[1:]
    return "/".join(re.escape(p) + "$" for p in parts)


def copy_any(destination, source) -> None:
    """Any values cross the two descriptor pools by type URL and bytes (CopyFrom refuses another pool's class)."""
    destination.type_url = source.type_url
    destination.value = source.value


def _transitioning(state: str, sub_state: str) -> bool:
    # 0.11 reports the plain state; the sub-state says a transition runs (controllers: sub_state = state when
    # idle; applications: "idle" / "executing_cmd")
    return sub_state not in ("", "idle", state)


class Adapter011:
    def __init__(self, endpoint: Endpoint, fsm_timeout: float, on_unreachable: Callable[[], None] | None):
        self.endpoint = endpoint
        self.fsm_timeout = fsm_timeout
        self.on_unreachable = on_unreachable
        self._stub = ctl_grpc.ControllerStub(channel(endpoint.address))

    # -- plumbing -----------------------------------------------------------------------------------------------

    def request(self, rpc: str, payload: Message | None = None, target: str = "", along_path: bool = True,
                all_children: bool = True) -> rr.Request:
        command = ctl.AddressedCommand(command_name=rpc, target=target, execute_along_path=along_path,
                                       execute_on_all_subsequent_children_in_path=all_children)
        if payload is not None:
            command.command_data.Pack(payload)
        request = rr.Request()
        request.token.token = f"{self.endpoint.user_name}-token"
        request.token.user_name = self.endpoint.user_name
        request.data.Pack(command)
        return request

    def call(self, rpc: str, request: rr.Request, timeout: float | None = None) -> rr.Response:
        try:
            return self.endpoint.send(getattr(self._stub, rpc), request, timeout)
        except BackendUnavailable:
            if self.on_unreachable is not None:
                self.on_unreachable()
            raise

    def self_only(self, rpc: str, payload: Message | None = None, timeout: float | None = None) -> rr.Response:
        return check(self.call(rpc, self.request(rpc, payload, all_children=False), timeout), rpc, FLAG_NAMES)

    def read(self, rpc: str, cls, payload: Message | None = None):
        response = self.self_only(rpc, payload)
        message = cls()
        if not response.HasField("data") or not response.data.Unpack(message):
            raise ProtocolError(f"{response.name or self.endpoint.address}: {rpc} answered with "
                                f"{response.data.type_url or 'no data'}, expected {cls.__name__}")
        return message

    # -- results ------------------------------------------------------------------------------------------------

    @staticmethod
    def node_status(name: str, status: ctl.Status):
        from drunc_client.controller import NodeStatus

        return NodeStatus(name, status.state, status.sub_state, status.in_error, status.included,
                          _transitioning(status.state, status.sub_state))

    @staticmethod
    def unreachable_status(name: str):
        from drunc_client.controller import NodeStatus

        return NodeStatus(name, "unknown", "unknown", True, False, False)

    def node_result(self, response: rr.Response):
        from drunc_client.controller import NodeResult

        fsm_flag = None
        text = ""
        if response.HasField("data"):
            answer = ctl.FSMCommandResponse()
            if response.data.Unpack(answer):
                fsm_flag = flag_name(answer.flag, FSM_FLAG_NAMES)
            else:
                text, _ = failure_text(response.data)
        return NodeResult(response.name, flag_name(response.flag, FLAG_NAMES), fsm_flag, text,
                          tuple(self.node_result(c) for c in response.children))

    def description(self, response: rr.Response):
        from drunc_client.controller import NodeDescription

        children = tuple(self.description(c) for c in response.children)
        description = rr.Description()
        if response.flag != SUCCESS or not response.HasField("data") or not response.data.Unpack(description):
            text, _ = failure_text(response.data if response.HasField("data") else None)
            return NodeDescription("", response.name, None, (), None, children,
                                   f"{flag_name(response.flag, FLAG_NAMES)}: {text}".rstrip(": "))
        broadcast = None
        if description.HasField("broadcast"):
            config = broadcast_pb2.KafkaBroadcastHandlerConfiguration()
            if description.broadcast.Unpack(config):
                broadcast = (config.kafka_address, config.topic)
        return NodeDescription(description.type, description.name or response.name,
                               description.session if description.HasField("session") else None,
                               tuple(c.name for c in description.commands), broadcast, children,
                               endpoint=description.endpoint or None,
                               info=description.info if description.HasField("info") else None)

    # -- rpcs ---------------------------------------------------------------------------------------------------

    def describe(self):
        return self.description(check(self.call("describe", self.request("describe")), "describe", FLAG_NAMES))

    def status(self, target: str = ""):
        if not target:
            response = self.self_only("status")
            status = ctl.Status()
            if not response.data.Unpack(status):
                raise ProtocolError(f"{self.endpoint.address}: status answered {response.data.type_url}")
            return self.node_status(response.name, status)
        response = check(self.call("status", self.request("status", target=target, along_path=False,
                                                          all_children=False)), "status", FLAG_NAMES)
        found = _find(response, target.rstrip("$").split("/")[-1].replace("\\", ""))
        if found is None:
            raise ProtocolError(f"{self.endpoint.address}: status of {target!r} not in the answer")
        return found

    def status_tree(self) -> rr.Response:
        return check(self.call("status", self.request("status")), "status", FLAG_NAMES)

    def children_status(self):
        response = check(self.call("status", self.request("status")), "status", FLAG_NAMES)
        return [self._status_of(child)[0] for child in response.children]

    def _status_of(self, response: rr.Response):
        """(NodeStatus, error text or None) of one node's answer within a status tree."""
        status = ctl.Status()
        if response.flag == SUCCESS and response.HasField("data") and response.data.Unpack(status):
            return self.node_status(response.name, status), None
        text, _ = failure_text(response.data if response.HasField("data") else None)
        reason = f"{flag_name(response.flag, FLAG_NAMES)}: {text.strip().splitlines()[-1] if text.strip() else ''}"
        return self.unreachable_status(response.name), reason.rstrip(": ")

    def tree(self, kinds: Mapping[str, str], endpoints: Mapping[str, str], child_addresses: Mapping[str, str]):
        """The whole tree from one `status` of the root (children answer in Response.children, recursively)."""
        from drunc_client.controller import TreeNode

        def build(response: rr.Response, is_root: bool) -> TreeNode:
            status, error = self._status_of(response)
            if is_root and error is not None:
                check(response, "status", FLAG_NAMES)
            address = (self.endpoint.address if is_root else
                       child_addresses.get(response.name) or endpoints.get(response.name))
            kind = "controller" if is_root else kinds.get(response.name) or (
                "controller" if response.children or address else "application")
            children = tuple(build(c, False) for c in sorted(response.children, key=lambda r: r.name))
            return TreeNode(response.name, status, kind, children,
                            normalise_address(address) if address else None, error)

        return build(self.status_tree(), True)

    def who_is_in_charge(self) -> str:
        return self.read("who_is_in_charge", generic_pb2.PlainText).text

    def describe_fsm(self, key: str) -> ctl.FSMCommandsDescription:
        return self.read("describe_fsm", ctl.FSMCommandsDescription, generic_pb2.PlainText(text=key))

    def execute(self, command_name: str, arguments: Mapping, target: str = "") -> rr.Response:
        command = ctl.FSMCommand(command_name=command_name)
        for name, value in arguments.items():
            copy_any(command.arguments[name], value)
        request = self.request("execute_fsm_command", command, target=target, along_path=not target)
        return check(self.call("execute_fsm_command", request, self.fsm_timeout), "execute_fsm_command", FLAG_NAMES)

    def addressed(self, rpc: str, target: str = "", payload: Message | None = None,
                  timeout: float | None = None) -> rr.Response:
        """An rpc on this node and its subtree, or (target) on the target's subtree only."""
        return self.call(rpc, self.request(rpc, payload, target=target, along_path=not target), timeout)


def _find(response: rr.Response, name: str):
    status = ctl.Status()
    if response.name == name and response.HasField("data") and response.data.Unpack(status):
        return Adapter011.node_status(name, status)
    for child in response.children:
        found = _find(child, name)
        if found is not None:
            return found
    return None


def flag_names() -> dict[int, str]:
    return FLAG_NAMES
