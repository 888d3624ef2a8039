"""The issue's acceptance run: `python -m simulator` as its own process, driven with raw stubs compiled from
the .proto files (no client-layer code), exactly as an independent drunc client would.

On both layouts: `--schema 0.8` with the 0.8 messages, `--schema 0.11` with the 0.11 ones (its own descriptor
pool: AddressedCommand envelope, renumbered Description and flags), and `--schema 0.11 --drunc-bugs` for what
the bugs switch changes on the wire (drunc-protocol-0.11.md section 9). One simulator process per layout, for
the whole module."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import any_pb2

from drunc_client.generated.druncschema import controller_pb2 as ctl
from drunc_client.generated.druncschema import controller_pb2_grpc as ctl_grpc
from drunc_client.generated.druncschema import generic_pb2 as gen
from drunc_client.generated.druncschema import process_manager_pb2 as pm
from drunc_client.generated.druncschema import process_manager_pb2_grpc as pm_grpc
from drunc_client.generated.druncschema import request_response_pb2 as rr
from drunc_client.generated.druncschema import token_pb2
from drunc_client.generated_011.druncschema import controller_pb2 as ctl11
from drunc_client.generated_011.druncschema import controller_pb2_grpc as ctl11_grpc
from drunc_client.generated_011.druncschema import request_response_pb2 as rr11
from drunc_client.generated_011.druncschema import session_manager_pb2 as sm11
from drunc_client.generated_011.druncschema import session_manager_pb2_grpc as sm11_grpc

ROOT = Path(__file__).resolve().parents[2]
OK = rr.EXECUTED_SUCCESSFULLY
FLAGS = {"0.8": rr.ResponseFlag, "0.11": rr11.ResponseFlag}
DESCRIPTIONS = {"0.8": rr.Description, "0.11": rr11.Description}
EXPECTED = [("start", "ready"), ("enable_triggers", "running"), ("disable_triggers", "ready"),
            ("drain_dataflow", "dataflow_drained"), ("stop_trigger_sources", "trigger_sources_stopped"),
            ("stop", "configured"), ("scrap", "initial")]


def start(tmp_path_factory, *options: str) -> tuple[subprocess.Popen, dict[str, str]]:
    log_dir = tmp_path_factory.mktemp("sim-logs")
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--kafka", "none", "--host", "127.0.0.1", "--pm-port", "0",
         "--controller-port", "0", "--session-manager-port", "0", "--transition-seconds", "0",
         "--log-dir", str(log_dir), *options],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    addresses = None
    deadline = time.time() + 60
    for line in proc.stdout:
        if line.startswith("READY "):
            addresses = dict(part.split("=", 1) for part in line.split()[1:])
            break
        if time.time() > deadline:
            break
    assert addresses, "simulator did not print READY"
    return proc, addresses


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0


@pytest.fixture(scope="module", params=["0.8", "0.11"])
def simulator(request, tmp_path_factory):
    proc, addresses = start(tmp_path_factory, "--schema", request.param)
    assert addresses["schema"] == request.param
    yield addresses
    stop(proc)


@pytest.fixture(scope="module")
def buggy_simulator(tmp_path_factory):
    proc, addresses = start(tmp_path_factory, "--schema", "0.11", "--drunc-bugs", "--tree", "1x1")
    yield addresses
    stop(proc)


def request(user: str, payload=None) -> rr.Request:
    req = rr.Request(token=token_pb2.Token(token=f"{user}-token", user_name=user))
    if payload is not None:
        req.data.Pack(payload)
    return req


def unpack(response, cls):
    message = cls()
    assert response.data.Unpack(message), response.data.type_url
    return message


def test_process_manager_acceptance(simulator, tmp_path):
    """The process-manager files are the same in both layouts: only Description, the flags above 4 and
    terminate's payload differ (drunc-protocol-0.11.md §3.4, §5)."""
    layout = simulator["schema"]
    stub = pm_grpc.ProcessManagerStub(grpc.insecure_channel(simulator["process_manager"]))
    described = stub.describe(request("alice"), timeout=5)
    assert described.flag == OK
    description = unpack(described, DESCRIPTIONS[layout])
    assert description.type == "process_manager" and "ps" in [c.name for c in description.commands]
    if layout == "0.11":
        assert description.endpoint == "" and description.info.endswith("process_manager.log")

    log = tmp_path / "echo.log"
    description = pm.ProcessDescription(
        metadata=pm.ProcessMetadata(user="alice", session="acc", name="acc-echo"),
        executable_and_arguments=[pm.ProcessDescription.ExecAndArgs(
            exec="bash", args=["-c", "'for i in 1 2 3; do echo line-$i; done; sleep 30'"])],
        process_logs_path=str(log),
    )
    booted = stub.boot(request("alice", pm.BootRequest(
        process_description=description, process_restriction=pm.ProcessRestriction(allowed_hosts=["localhost"]))),
        timeout=10)
    assert booted.flag == OK, booted
    instance = unpack(booted, pm.ProcessInstance)
    uuid = instance.uuid.uuid
    assert instance.status_code == pm.ProcessInstance.RUNNING
    assert instance.process_description.metadata.tree_id.count(".") == 2

    by_uuid = unpack(stub.ps(request("alice", pm.ProcessQuery(uuids=[pm.ProcessUUID(uuid=uuid)])), timeout=5),
                     pm.ProcessInstanceList)
    assert [p.uuid.uuid for p in by_uuid.values] == [uuid]
    by_name = unpack(stub.ps(request("alice", pm.ProcessQuery(names=["^acc-e.ho$"])), timeout=5),
                     pm.ProcessInstanceList)
    assert uuid in [p.uuid.uuid for p in by_name.values]

    for _ in range(50):
        if log.exists() and "line-3" in log.read_text():
            break
        time.sleep(0.1)
    lines = [unpack(r, pm.LogLine).line for r in stub.logs(request("alice", pm.LogRequest(
        query=pm.ProcessQuery(uuids=[pm.ProcessUUID(uuid=uuid)]), how_far=10)), timeout=5)]
    assert [line for line in lines if line.startswith("line-")] == ["line-1", "line-2", "line-3"]

    killed = unpack(stub.kill(request("alice", pm.ProcessQuery(uuids=[pm.ProcessUUID(uuid=uuid)])), timeout=10),
                    pm.ProcessInstanceList)
    assert [p.status_code for p in killed.values] == [pm.ProcessInstance.DEAD]

    refused = stub.ps(request("alice"), timeout=5)  # no ProcessQuery at all
    if layout == "0.8":
        assert refused.flag == rr.UNHANDLED_EXCEPTION_THROWN  # drunc 0.10.x's NameError
    else:
        assert refused.flag == rr11.NOT_EXECUTED_BAD_REQUEST_FORMAT
        assert unpack(refused, gen.PlainText).text == "Cannot unpack '' to 'ProcessQuery'"
    restart = stub.restart(request("alice", pm.ProcessQuery(uuids=[pm.ProcessUUID(uuid="nope")])), timeout=5)
    assert restart.flag == FLAGS[layout].Value("DRUNC_EXCEPTION_THROWN")  # 5 in 0.8, 6 in 0.11

    stub.boot(request("alice", pm.BootRequest(
        process_description=description, process_restriction=pm.ProcessRestriction(allowed_hosts=["localhost"]))),
        timeout=10)
    # 0.10.x requires the (ignored) query; 0.13.2's driver sends no payload
    terminated = stub.terminate(request("alice", pm.ProcessQuery(names=[".*"]) if layout == "0.8" else None),
                                timeout=10)
    assert terminated.flag == OK
    assert {p.status_code for p in unpack(terminated, pm.ProcessInstanceList).values} == {pm.ProcessInstance.DEAD}
    assert unpack(stub.ps(request("alice", pm.ProcessQuery(names=[".*"])), timeout=5),
                  pm.ProcessInstanceList).values == []


def test_controller_acceptance(simulator):
    if simulator["schema"] == "0.11":
        return controller_acceptance_011(simulator)
    stub = ctl_grpc.ControllerStub(grpc.insecure_channel(simulator["controller"]))

    def state():
        return unpack(stub.get_status(request("alice"), timeout=5), ctl.Status).state

    assert stub.take_control(request("alice"), timeout=5).flag == OK

    def run(user, name, **arguments):
        command = ctl.FSMCommand(command_name=name)
        for key, value in arguments.items():
            wrapped = any_pb2.Any()
            wrapped.Pack(gen.int_msg(value=value))
            command.arguments[key].CopyFrom(wrapped)
        return stub.execute_fsm_command(request(user, command), timeout=60)

    refused = run("mallory", "conf")
    assert refused.flag == rr.NOT_EXECUTED_NOT_IN_CONTROL
    assert state() == "initial"

    assert run("alice", "conf").flag == OK and state() == "configured"
    no_run_number = run("alice", "start")
    assert no_run_number.flag == rr.DRUNC_EXCEPTION_THROWN
    assert state() == "configured"

    for transition, destination in EXPECTED:
        response = run("alice", transition, **({"run_number": 42} if transition == "start" else {}))
        assert response.flag == OK, (transition, response)
        assert unpack(response, ctl.FSMCommandResponse).flag == ctl.FSM_EXECUTED_SUCCESSFULLY
        assert state() == destination


def addressed(user: str, rpc: str, payload=None, target: str = "", along_path: bool = True) -> rr11.Request:
    """A 0.11 Request: the rpc's payload inside an AddressedCommand (drunc-protocol-0.11.md §2.7, §3.2)."""
    req = rr11.Request()
    req.token.token, req.token.user_name = f"{user}-token", user
    command = ctl11.AddressedCommand(command_name=rpc, target=target, execute_along_path=along_path,
                                     execute_on_all_subsequent_children_in_path=True)
    if payload is not None:
        command.command_data.Pack(payload)
    req.data.Pack(command)
    return req


def controller_acceptance_011(simulator):
    stub = ctl11_grpc.ControllerStub(grpc.insecure_channel(simulator["controller"]))

    def status(response=None):
        response = response or stub.status(addressed("alice", "status"), timeout=5)
        assert response.flag == OK
        return unpack(response, ctl11.Status)

    assert stub.take_control(addressed("alice", "take_control"), timeout=5).flag == OK

    def run(user, name, **arguments):
        command = ctl11.FSMCommand(command_name=name)
        for key, value in arguments.items():
            command.arguments[key].type_url = f"type.googleapis.com/{gen.int_msg.DESCRIPTOR.full_name}"
            command.arguments[key].value = gen.int_msg(value=value).SerializeToString()
        return stub.execute_fsm_command(addressed(user, "execute_fsm_command", command), timeout=60)

    refused = run("mallory", "conf")
    assert refused.flag == rr11.NOT_EXECUTED_NOT_IN_CONTROL
    assert status().state == "initial"
    tree = stub.status(addressed("alice", "status"), timeout=5)
    assert tree.children and all(unpack(c, ctl11.Status).state == "initial" for c in tree.children)

    assert run("alice", "conf").flag == OK and status().state == "configured"
    no_run_number = run("alice", "start")
    assert no_run_number.flag == rr11.DRUNC_EXCEPTION_THROWN == 6
    invalid = run("alice", "enable_triggers")  # not from configured: 0.13.2 answers, does not throw
    assert invalid.flag == OK and unpack(invalid, ctl11.FSMCommandResponse).flag == ctl11.FSM_INVALID_TRANSITION
    assert status().state == "configured"

    for transition, destination in EXPECTED:
        response = run("alice", transition, **({"run_number": 42} if transition == "start" else {}))
        assert response.flag == OK, (transition, response)
        assert unpack(response, ctl11.FSMCommandResponse).flag == ctl11.FSM_EXECUTED_SUCCESSFULLY
        assert status().state == destination

    bare = stub.status(request("alice", gen.PlainText(text="")), timeout=5)  # a 0.8-style payload
    assert bare.flag == rr11.NOT_EXECUTED_BAD_REQUEST_FORMAT == 8


def test_drunc_bugs_switch_on_the_wire(buggy_simulator):
    """--drunc-bugs: named-key describe_fsm fails (flag 7) and the session manager answers gRPC UNKNOWN, as
    drunc 0.13.2 did; the rest of the 0.11 wire is the same as without the switch (above)."""
    stub = ctl11_grpc.ControllerStub(grpc.insecure_channel(buggy_simulator["controller"]))
    listed = stub.describe_fsm(addressed("alice", "describe_fsm", gen.PlainText(text="all-transitions")), timeout=5)
    assert listed.flag == OK
    named = stub.describe_fsm(addressed("alice", "describe_fsm", gen.PlainText(text="initial")), timeout=5)
    assert named.flag == rr11.UNHANDLED_EXCEPTION_THROWN == 7
    sessions = sm11_grpc.SessionManagerStub(grpc.insecure_channel(buggy_simulator["session_manager"]))
    with pytest.raises(grpc.RpcError) as caught:
        sessions.list_all_sessions(rr11.Request(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNKNOWN
    with pytest.raises(grpc.RpcError) as caught:
        sessions.list_all_configs(rr11.Request(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    described = pm_grpc.ProcessManagerStub(grpc.insecure_channel(buggy_simulator["process_manager"])).describe(
        request("alice"), timeout=5)
    assert unpack(described, rr11.Description).info  # the process manager has no bug of its own here


def test_session_manager_acceptance_011(simulator):
    if simulator["schema"] != "0.11":
        pytest.skip("drunc 0.10.x ships no session-manager server; the 0.8 one is covered in test_session_manager")
    stub = sm11_grpc.SessionManagerStub(grpc.insecure_channel(simulator["session_manager"]))
    listed = stub.list_all_sessions(rr11.Request(), timeout=5)
    assert listed.flag == OK and unpack(listed, sm11.AllActiveSessions).active_sessions
    configs = stub.list_all_configs(rr11.Request(), timeout=5)
    assert [k.session_id for k in unpack(configs, sm11.AllConfigKeys).config_keys]


def test_simulator_cli_rejects_bad_arguments():
    result = subprocess.run([sys.executable, "-m", "simulator", "--tree", "banana"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, env={**os.environ})
    assert result.returncode == 2
    assert "SEGMENTSxAPPS" in result.stderr and "Traceback" not in result.stderr
