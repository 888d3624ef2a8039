"""SessionManagerClient against the simulated SessionManager on a real gRPC server (127.0.0.1, free port)."""

from __future__ import annotations

from concurrent import futures

import grpc
import pytest

from drunc_client import transport
from drunc_client.errors import BackendUnavailable, DruncFlagError, InvalidArguments
from drunc_client.generated.druncschema import (
    broadcast_pb2,
    generic_pb2,
    request_response_pb2,
    session_manager_pb2,
    session_manager_pb2_grpc,
)
from drunc_client.session_manager import ConfigurationInfo, SessionInfo, SessionManagerClient
from simulator.broadcast import RecordingBroadcaster
from simulator.session_manager import SessionManagerServicer

SEEDED_CONFIGURATIONS = ["local-1x1-config", "np04-daq-config"]


class KafkaRecordingBroadcaster(RecordingBroadcaster):
    kafka_address = "127.0.0.1:30092"


@pytest.fixture
def broadcaster():
    return KafkaRecordingBroadcaster()


@pytest.fixture
def servicer(broadcaster):
    return SessionManagerServicer(broadcaster=broadcaster, session="np04")


@pytest.fixture
def address(servicer):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer.add_to_server(server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(0)


@pytest.fixture
def client(address):
    return SessionManagerClient(address, "alice")


@pytest.fixture
def stub(address):
    return session_manager_pb2_grpc.SessionManagerStub(transport.channel(address))


def test_describe(client):
    description = client.describe()
    assert (description.type, description.name, description.session) == ("session_manager", "session_manager", "np04")
    assert set(description.commands) == {"describe", "list_session", "start_session", "terminate_session",
                                         "load_configuration", "list_configuration"}
    assert description.kafka_address == "127.0.0.1:30092"
    assert description.topic == "control.np04.session_manager"


def test_describe_without_kafka_has_no_broadcast():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    SessionManagerServicer().add_to_server(server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        description = SessionManagerClient(f"grpc://127.0.0.1:{port}", "bob").describe()
    finally:
        server.stop(0)
    assert description.session == "no_session"
    assert description.kafka_address is None and description.topic is None


def test_seeded_sessions_and_configurations(client):
    assert client.sessions() == [SessionInfo("np04-coldbox", "daq")]
    configurations = client.configurations()
    assert [c.name for c in configurations] == SEEDED_CONFIGURATIONS
    assert {c.name: c.kind for c in configurations} == {"local-1x1-config": "OKS", "np04-daq-config": "DAQCONF"}
    assert all(c.version and c.location for c in configurations)


def test_list_configuration_wire_shape(stub):
    response = stub.list_configuration(transport.make_request("alice"), timeout=5)
    assert response.flag == request_response_pb2.EXECUTED_SUCCESSFULLY
    assert response.name == "session_manager"
    names = transport.unpack(response.data, generic_pb2.PlainTextVector)
    assert list(names.text) == SEEDED_CONFIGURATIONS
    assert [child.name for child in response.children] == SEEDED_CONFIGURATIONS
    for child in response.children:
        assert child.flag == request_response_pb2.EXECUTED_SUCCESSFULLY
        assert transport.unpack(child.data, session_manager_pb2.ConfigurationKey).name == child.name


def test_start_and_terminate_session(client, servicer, broadcaster):
    started = client.start_session("run-42", "local-1x1-config")
    assert started == SessionInfo("run-42", "alice")
    assert SessionInfo("run-42", "alice") in client.sessions()
    assert servicer.sessions()["run-42"] == "alice"
    assert "run-42" in client.terminate_session("run-42")
    assert [s.name for s in client.sessions()] == ["np04-coldbox"]
    assert broadcaster.types("session_manager")[:2] == ["ACK", "COMMAND_EXECUTION_SUCCESS"]
    topics = {topic for topic, _ in broadcaster.records}
    assert topics == {"control.np04.session_manager"}


def test_start_session_with_pinned_version(client):
    np04 = next(c for c in client.configurations() if c.name == "np04-daq-config")
    assert client.start_session("pinned", np04) == SessionInfo("pinned", "alice")
    stale = ConfigurationInfo(np04.name, "v0.0.1", np04.location, np04.kind)
    with pytest.raises(DruncFlagError) as err:
        client.start_session("stale", stale)
    assert err.value.flag == "DRUNC_EXCEPTION_THROWN"


def test_start_existing_session_is_flag_6(client, broadcaster):
    with pytest.raises(DruncFlagError) as err:
        client.start_session("np04-coldbox", "local-1x1-config")
    assert err.value.flag == "DRUNC_EXCEPTION_THROWN"
    assert err.value.server == "session_manager" and err.value.rpc == "start_session"
    assert "already exists" in err.value.text
    assert err.value.lines  # the Stacktrace lines
    assert broadcaster.types()[-1] == "ACK"  # no success broadcast after a failure


def test_start_session_unknown_configuration_is_flag_6(client):
    with pytest.raises(DruncFlagError) as err:
        client.start_session("new-session", "no-such-config")
    assert err.value.flag == "DRUNC_EXCEPTION_THROWN"
    assert "not loaded" in err.value.text
    assert "new-session" not in {s.name for s in client.sessions()}


def test_terminate_unknown_session_is_flag_6(client):
    with pytest.raises(DruncFlagError) as err:
        client.terminate_session("ghost")
    assert err.value.flag == "DRUNC_EXCEPTION_THROWN"
    assert "does not exist" in err.value.text


def test_load_configuration(client):
    loaded = client.load_configuration("vd-coldbox-config", "v1.2", "/configs/vd.json", kind="DAQCONF")
    assert loaded == ConfigurationInfo("vd-coldbox-config", "v1.2", "/configs/vd.json", "DAQCONF")
    assert client.configurations()[-1] == loaded
    assert client.start_session("vd", "vd-coldbox-config") == SessionInfo("vd", "alice")


def test_load_configuration_again_replaces_it(client):
    client.load_configuration("local-1x1-config", "v2.0", "oksconflibs:other.data.xml")
    configurations = {c.name: c for c in client.configurations()}
    assert len(configurations) == 2
    assert configurations["local-1x1-config"].version == "v2.0"


def test_load_configuration_invalid_arguments_are_not_sent(client, broadcaster):
    with pytest.raises(InvalidArguments):
        client.load_configuration("x", kind="YAML")
    with pytest.raises(InvalidArguments):
        client.load_configuration("  ")
    with pytest.raises(InvalidArguments):
        client.start_session(" ", "local-1x1-config")
    assert broadcaster.records == []


def test_empty_configuration_name_is_flag_6_on_the_server(stub):
    request = transport.make_request("alice", session_manager_pb2.ConfigurationKey(name=""))
    response = stub.load_configuration(request, timeout=5)
    assert response.flag == request_response_pb2.DRUNC_EXCEPTION_THROWN
    assert response.token.user_name == "alice"


@pytest.mark.parametrize("rpc", ["start_session", "terminate_session", "load_configuration"])
def test_missing_or_wrong_payload_is_flag_7(stub, rpc):
    for request in (transport.make_request("alice"),
                    transport.make_request("alice", broadcast_pb2.Emitter(process="x"))):
        response = getattr(stub, rpc)(request, timeout=5)
        assert response.flag == request_response_pb2.UNHANDLED_EXCEPTION_THROWN
        trace = transport.unpack(response.data, generic_pb2.Stacktrace)
        assert "NameError" in "\n".join(trace.text)


def test_flag_7_maps_to_typed_error(client, stub, monkeypatch):
    monkeypatch.setattr(SessionManagerClient, "_stub", lambda self: _PayloadDroppingStub(stub))
    with pytest.raises(DruncFlagError) as err:
        client.terminate_session("np04-coldbox")
    assert err.value.flag == "UNHANDLED_EXCEPTION_THROWN"


class _PayloadDroppingStub:
    def __init__(self, stub):
        self._stub = stub

    def __getattr__(self, rpc):
        method = getattr(self._stub, rpc)

        def call(request, timeout=None):
            request.ClearField("data")
            return method(request, timeout=timeout)

        return call


def test_mutating_rpcs_echo_the_token(stub):
    key = session_manager_pb2.ConfigurationKey(name="c1")
    response = stub.load_configuration(transport.make_request("carol", key), timeout=5)
    assert response.token.user_name == "carol" and response.token.token == "carol-token"


def test_unreachable_server():
    with pytest.raises(BackendUnavailable):
        SessionManagerClient("127.0.0.1:1", "alice", timeout=2).sessions()
