"""The issue's acceptance run: `python -m simulator` as its own process, driven with raw stubs compiled from
the .proto files (no client-layer code), exactly as an independent drunc client would."""

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

ROOT = Path(__file__).resolve().parents[2]
OK = rr.EXECUTED_SUCCESSFULLY


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("sim-logs")
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--kafka", "none", "--host", "127.0.0.1", "--pm-port", "0",
         "--controller-port", "0", "--session-manager-port", "0", "--transition-seconds", "0",
         "--log-dir", str(log_dir)],
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
    yield addresses
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0


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
    stub = pm_grpc.ProcessManagerStub(grpc.insecure_channel(simulator["process_manager"]))
    described = stub.describe(request("alice"), timeout=5)
    assert described.flag == OK
    assert unpack(described, rr.Description).type == "process_manager"

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
    assert refused.flag != OK


def test_controller_acceptance(simulator):
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

    expected = [("start", "ready"), ("enable_triggers", "running"), ("disable_triggers", "ready"),
                ("drain_dataflow", "dataflow_drained"), ("stop_trigger_sources", "trigger_sources_stopped"),
                ("stop", "configured"), ("scrap", "initial")]
    for transition, destination in expected:
        response = run("alice", transition, **({"run_number": 42} if transition == "start" else {}))
        assert response.flag == OK, (transition, response)
        assert unpack(response, ctl.FSMCommandResponse).flag == ctl.FSM_EXECUTED_SUCCESSFULLY
        assert state() == destination


def test_simulator_cli_rejects_bad_arguments():
    result = subprocess.run([sys.executable, "-m", "simulator", "--tree", "banana"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, env={**os.environ})
    assert result.returncode == 2
    assert "SEGMENTSxAPPS" in result.stderr and "Traceback" not in result.stderr
