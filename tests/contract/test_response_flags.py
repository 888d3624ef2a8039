"""Contract tests, issue 11 point 5: the response flag numbers of the released druncschema 0.8.x, over real gRPC.

The simulator must send the released numbers (DRUNC_EXCEPTION_THROWN = 5, UNHANDLED_EXCEPTION_THROWN = 6), the
client must name them as drunc 0.10.x means them, and a number the released schema does not define (a server on
the development numbering) must show as "flag N" with the server's text, never under a wrong name.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from drunc_client.controller import ControllerClient
from drunc_client.errors import DruncFlagError
from drunc_client.generated.druncschema import controller_pb2 as ctl
from drunc_client.generated.druncschema import controller_pb2_grpc as ctl_grpc
from drunc_client.generated.druncschema import generic_pb2, request_response_pb2
from drunc_client.generated.druncschema import process_manager_pb2 as pm
from drunc_client.generated.druncschema import process_manager_pb2_grpc as pm_grpc
from drunc_client.process_manager import ProcessManagerClient
from drunc_client.transport import make_request
from simulator.broadcast import RecordingBroadcaster
from simulator.controller import build_tree, serve_tree, stop_tree
from simulator.process_manager import ProcessManagerServicer


def _response(flag: int, data=None, children=()) -> request_response_pb2.Response:
    response = request_response_pb2.Response(name="future-controller", flag=flag, children=list(children))
    if data is not None:
        response.data.Pack(data)
    return response


class DevelopmentNumberingController(ctl_grpc.ControllerServicer):
    """A controller on the development numbering: flag 8 (its BAD_REQUEST_FORMAT), FSM flag 4 (its IN_ERROR)."""

    def get_status(self, request, context):
        return _response(8, generic_pb2.PlainText(text="payload of the wrong type"))

    def execute_fsm_command(self, request, context):
        child = request_response_pb2.Response(name="child", flag=7)
        child.data.Pack(generic_pb2.PlainText(text="the child's own words"))
        return _response(0, ctl.FSMCommandResponse(flag=4, command_name="conf"), [child])

    def describe_fsm(self, request, context):
        return _response(0, ctl.FSMCommandsDescription(commands=[ctl.FSMCommandDescription(name="conf")]))


@pytest.fixture
def grpc_server():
    servers = []

    def serve(add) -> str:
        server = grpc.server(ThreadPoolExecutor(4))
        add(server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return f"127.0.0.1:{port}"

    yield serve
    for server in servers:
        server.stop(None)


def test_unknown_response_flag_shows_as_flag_n_with_the_servers_text(grpc_server):
    address = grpc_server(lambda s: ctl_grpc.add_ControllerServicer_to_server(DevelopmentNumberingController(), s))
    client = ControllerClient(address, "alice", timeout=5)
    with pytest.raises(DruncFlagError) as raised:
        client.status()
    assert raised.value.flag == "flag 8" and raised.value.text == "payload of the wrong type"
    assert "(flag 8): payload of the wrong type" in str(raised.value)


def test_unknown_fsm_flag_and_child_flag_show_as_flag_n(grpc_server):
    address = grpc_server(lambda s: ctl_grpc.add_ControllerServicer_to_server(DevelopmentNumberingController(), s))
    result = ControllerClient(address, "alice", timeout=5).execute("conf")
    assert result.fsm_flag == "flag 4" and not result.ok
    (child,) = result.children
    # 7 is NOT_EXECUTED_BAD_REQUEST_FORMAT in the released numbering: named as the released schema names it.
    assert (child.flag, child.text) == ("NOT_EXECUTED_BAD_REQUEST_FORMAT", "the child's own words")
    assert "future-controller: flag 4" in result.summary()


def test_simulated_process_manager_sends_released_numbers(grpc_server, tmp_path):
    servicer = ProcessManagerServicer(broadcaster=RecordingBroadcaster(), log_dir=tmp_path, kill_timeout=0.2)
    try:
        address = grpc_server(servicer.add_to_server)
        stub = pm_grpc.ProcessManagerStub(grpc.insecure_channel(address))
        raw = stub.restart(make_request("alice", pm.ProcessQuery(uuids=[pm.ProcessUUID(uuid="no-such-uuid")])),
                           timeout=5)
        assert raw.flag == 5  # DRUNC_EXCEPTION_THROWN in v0.8.0-v0.8.2; 5 was NODE_IN_ERROR on the dev branch
        with pytest.raises(DruncFlagError) as raised:
            ProcessManagerClient(address, "alice", timeout=5).restart("no-such-uuid")
        assert raised.value.flag == "DRUNC_EXCEPTION_THROWN"
        assert stub.restart(make_request("alice"), timeout=5).flag == 6  # no payload: UNHANDLED_EXCEPTION_THROWN
    finally:
        servicer.close()


def test_simulated_controller_sends_released_numbers():
    root = build_tree(1, 1, session="flags")
    servers, addresses = serve_tree(root)
    try:
        stub = ctl_grpc.ControllerStub(grpc.insecure_channel(addresses["root-controller"]))
        stub.take_control(make_request("alice"), timeout=5)
        conf = stub.execute_fsm_command(make_request("alice", ctl.FSMCommand(command_name="conf")), timeout=5)
        assert conf.flag == 0
        missing = stub.execute_fsm_command(make_request("alice", ctl.FSMCommand(command_name="start")), timeout=5)
        assert missing.flag == 5  # MissingArgument: DRUNC_EXCEPTION_THROWN
        assert stub.describe_fsm(make_request("alice", generic_pb2.Empty()), timeout=5).flag == 6
        root.inject_error("root-controller")
        in_error = stub.execute_fsm_command(make_request("alice", ctl.FSMCommand(command_name="conf")), timeout=5)
        assert in_error.flag == 5  # no FSM_NOT_EXECUTED_IN_ERROR in the released schema
        assert "is in error" in "\n".join(generic_pb2.Stacktrace.FromString(in_error.data.value).text)
    finally:
        stop_tree(root, servers)
