"""Contract tests: ProcessManagerClient against the simulated drunc process manager, over real gRPC.

Every rpc and every error path of protocol spec sections 6 and 9.2; real child processes on this machine
(all killed at teardown), and a virtual process manager with 10,000 processes. Every test that talks to a served
process manager runs on both druncschema layouts (`layout`: 0.8 = drunc 0.10.x, 0.11 = drunc 0.13.2, whose
describe, flag numbers, bad-payload answer and terminate payload differ: drunc-protocol-0.11.md §3.4, §5, §9),
except those about the simulator's own machinery (virtual mode, churn, deadlines), pinned to 0.8.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from drunc_client.errors import BackendUnavailable, DruncFlagError, InvalidArguments, ProtocolError
from drunc_client.generated.druncschema import broadcast_pb2, generic_pb2
from drunc_client.generated.druncschema import process_manager_pb2 as pm
from drunc_client.generated.druncschema import process_manager_pb2_grpc as pm_grpc
from drunc_client.generated.druncschema import request_response_pb2 as rr
from drunc_client.generated_011.druncschema import request_response_pb2 as rr011
from drunc_client.layouts import LayoutCache
from drunc_client.process_manager import BootSpec, PMDescription, ProcessInfo, ProcessManagerClient
from drunc_client.transport import make_request
from simulator.broadcast import RecordingBroadcaster
from simulator.process_manager import ProcessManagerServicer
from simulator.process_manager_011 import ProcessManager011Servicer

USER = "alice"
SESSION = "pm-test"
LOG_ROOT = Path("/nonexistent")  # the test's own log directory, set by _log_root: drunc has no default log path


@pytest.fixture(autouse=True)
def _log_root(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "LOG_ROOT", tmp_path / "pm-logs")


class KafkaRecordingBroadcaster(RecordingBroadcaster):
    kafka_address = "broker.example:9092"


class SlowServicer(ProcessManagerServicer):
    """Answers describe and logs too late, to provoke DEADLINE_EXCEEDED."""

    def describe(self, request, context):
        time.sleep(1.0)
        return super().describe(request, context)

    def logs(self, request, context):
        yield from super().logs(request, context)
        time.sleep(1.0)


SERVICERS = {"0.8": ProcessManagerServicer, "0.11": ProcessManager011Servicer}
FLAGS = {"0.8": rr.ResponseFlag, "0.11": rr011.ResponseFlag}
pinned_to_08 = pytest.mark.parametrize("layout", ["0.8"])  # the simulator's machinery, the same in both


def flag(layout: str, name: str) -> int:
    """A flag's number in that layout (above 4 they differ: 0.11 inserted NOT_EXECUTED_NODE_IN_ERROR = 5)."""
    return FLAGS[layout].Value(name)


@pytest.fixture(params=["0.8", "0.11"])
def layout(request):
    return request.param


@pytest.fixture
def serve(tmp_path, layout):
    """serve(**servicer_kwargs) -> (servicer, address, broadcaster); servers stopped, children killed after."""
    started = []

    def _serve(cls=None, broadcaster=None, **kwargs):
        cls = cls or SERVICERS[layout]
        broadcaster = broadcaster or RecordingBroadcaster()
        kwargs.setdefault("log_dir", tmp_path / "pm-logs")
        kwargs.setdefault("kill_timeout", 0.2)
        servicer = cls(broadcaster=broadcaster, **kwargs)
        server = grpc.server(ThreadPoolExecutor(16))
        servicer.add_to_server(server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        started.append((server, servicer))
        return servicer, f"127.0.0.1:{port}", broadcaster

    yield _serve
    for server, servicer in started:
        server.stop(0)
        servicer.close()


@pytest.fixture
def pm_env(serve, layout):
    servicer, address, broadcaster = serve()
    return servicer, ProcessManagerClient(address, USER, timeout=5.0, schema=layout), broadcaster


@pytest.fixture
def stub(pm_env):
    servicer, client, _ = pm_env
    return pm_grpc.ProcessManagerStub(grpc.insecure_channel(client.address))


def spec(name: str, *arguments: str, executable: str = "sleep", **overrides) -> BootSpec:
    fields = {"name": name, "user": USER, "session": SESSION, "executable": executable,
              "arguments": arguments or ("30",), "log_path": str(LOG_ROOT / f"log_{USER}_{SESSION}_{name}.log")}
    fields.update(overrides)
    return BootSpec(**fields)


def shell(name: str, script: str, **overrides) -> BootSpec:
    """bash -c '<script>': drunc joins arguments unquoted, so the quotes are part of the argument."""
    return spec(name, "-c", f"'{script}'", executable="bash", **overrides)


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


def wait_dead(client: ProcessManagerClient, uuid: str) -> ProcessInfo:
    return wait_until(lambda: next((p for p in client.ps(uuids=[uuid]) if p.status == "DEAD"), None))


def texts(broadcaster: RecordingBroadcaster, btype: int) -> list[str]:
    out = []
    for _, message in list(broadcaster.records):
        if message.type == btype:
            text = generic_pb2.PlainText()
            assert message.data.Unpack(text)
            out.append(text.text)
    return out


def query(**kwargs) -> pm.ProcessQuery:
    uuids = [pm.ProcessUUID(uuid=u) for u in kwargs.pop("uuids", ())]
    return pm.ProcessQuery(uuids=uuids, **kwargs)


def unpack(response, cls):
    message = cls()
    assert response.data.Unpack(message), response.data.type_url
    return message


def raw_boot(stub, name: str, user: str, session: str | None, hosts=("localhost",), seconds: str = "30",
             log_path: str | None = None):
    """A BootRequest as any client may send it, bypassing BootSpec.validate()."""
    metadata = pm.ProcessMetadata(user=user, name=name)
    if session is not None:
        metadata.session = session
    request = pm.BootRequest(
        process_description=pm.ProcessDescription(
            metadata=metadata, executable_and_arguments=[pm.ProcessDescription.ExecAndArgs(exec="sleep",
                                                                                          args=[seconds])],
            process_logs_path=str(LOG_ROOT / f"raw_{name}.log") if log_path is None else log_path),
        process_restriction=pm.ProcessRestriction(allowed_hosts=list(hosts)))
    return stub.boot(make_request(USER, request), timeout=5)


def shell_pid(client: ProcessManagerClient, uuid: str) -> int:
    banner = wait_until(lambda: [line for line in client.logs(uuid) if line.startswith("SSHPM: Starting process")])
    return int(banner[0].split()[3])


def gone(pid: int) -> bool:
    """No such process, or only a zombie waiting for a parent that is not ours to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


# ------------------------------------------------------------------------------------------------- describe


def test_describe_without_kafka(pm_env, layout):
    servicer, client, _ = pm_env
    description = client.describe()
    assert isinstance(description, PMDescription)
    assert description.name == "process_manager"
    assert description.session == getpass.getuser()  # the SSH PM's session is the Unix user
    assert set(description.commands) == {"describe", "boot", "terminate", "restart", "kill", "ps", "flush", "logs"}
    assert description.kafka_address is None and description.topic is None
    assert description.layout == layout and description.endpoint is None  # drunc's PM leaves endpoint empty
    assert description.info == (servicer.log_path if layout == "0.11" else None)  # 0.11: the PM's log path


def test_describe_detects_the_layout_from_the_answer_and_keeps_it(serve, layout):
    _, address, broadcaster = serve()
    layouts = LayoutCache()
    client = ProcessManagerClient(address, USER, layouts=layouts)  # schema "auto"
    assert client.describe().layout == layout
    assert layouts.snapshot() == {address: layout}
    assert client.layout == layout
    assert broadcaster.types() == ["ACK", "COMMAND_EXECUTION_SUCCESS"]  # no second describe to learn it


def test_a_forced_layout_the_server_does_not_speak_is_a_clear_error(serve, layout):
    _, address, _ = serve()
    other = "0.8" if layout == "0.11" else "0.11"
    with pytest.raises(ProtocolError, match=f"answered in the druncschema {layout} layout, but {other} is forced"):
        ProcessManagerClient(address, USER, schema=other).describe()


def test_failure_flags_are_named_in_the_servers_layout_when_auto(serve, layout):
    _, address, broadcaster = serve()
    client = ProcessManagerClient(address, USER)  # auto: the flag (5 or 6) needs the layout, learnt once
    for _ in range(2):
        with pytest.raises(DruncFlagError) as caught:
            client.restart("no-such-uuid")
        assert caught.value.flag == "DRUNC_EXCEPTION_THROWN"
    assert broadcaster.types().count("COMMAND_EXECUTION_SUCCESS") == 1  # one describe, then the cache


def test_describe_with_kafka_names_broker_and_topic(serve, layout):
    _, address, _ = serve(broadcaster=KafkaRecordingBroadcaster(), session="daq")
    description = ProcessManagerClient(address, USER, schema=layout).describe()
    assert description.session == "daq"
    assert (description.kafka_address, description.topic) == ("broker.example:9092", "control.daq.process_manager")


# ------------------------------------------------------------------------------------------------------ boot


def test_boot_runs_a_local_process(pm_env, tmp_path):
    _, client, _ = pm_env
    info = client.boot(spec("sleeper"))
    assert isinstance(info, ProcessInfo)
    assert info.status == "RUNNING" and info.return_code == 0
    assert info.hostname == "localhost" and info.allowed_hosts == ("localhost",)
    assert info.tree_id == "1.0.1"  # none given: the simulator assigns an infrastructure id
    assert (info.name, info.user, info.session) == ("sleeper", USER, SESSION)
    assert info.executable == "sleep 30"
    assert info.log_path == str(tmp_path / "pm-logs" / f"log_{USER}_{SESSION}_sleeper.log")
    for value in dataclasses.astuple(info):  # nothing protobuf leaks out
        assert isinstance(value, str | int | tuple)
    pid = shell_pid(client, info.uuid)
    assert not gone(pid)
    [listed] = client.ps(uuids=[info.uuid])
    assert listed == info


def test_boot_keeps_a_given_tree_id_and_uses_the_first_local_host(pm_env):
    _, client, _ = pm_env
    second = client.boot(spec("a", tree_id="1.2.3", allowed_hosts=("np04-srv-001", "127.0.0.1")))
    assert second.tree_id == "1.2.3" and second.hostname == "127.0.0.1"
    third = client.boot(spec("b"))
    assert third.tree_id == "1.0.1"


def test_boot_environment_working_directory_and_log_path(pm_env, tmp_path):
    _, client, _ = pm_env
    work = tmp_path / "work"
    work.mkdir()
    log = tmp_path / "custom" / "app.log"
    info = client.boot(shell("env-app", 'echo "X=$GREETING"; pwd', environment={"GREETING": 'hello "w" $HOME'},
                             working_directory=str(work), log_path=str(log)))
    wait_dead(client, info.uuid)
    lines = client.logs(info.uuid)
    assert f'X=hello "w" {os.environ["HOME"]}' in lines  # drunc's export K="V": $-expansion kept
    assert str(work) in lines
    assert log.is_file()


def test_boot_without_a_log_path_answers_running_then_dies_with_exit_code_2_as_drunc(pm_env, stub):
    """drunc 0.10.5 runs `{ chain ; } &> ` with an empty path: bash's syntax error, exit 2, right after RUNNING."""
    _, client, broadcaster = pm_env
    response = raw_boot(stub, "no-log-path", USER, SESSION, log_path="")
    assert response.flag == 0
    booted = unpack(response, pm.ProcessInstance)
    assert booted.status_code == pm.ProcessInstance.RUNNING
    assert booted.process_description.process_logs_path == ""  # no default filled in: drunc has none
    dead = wait_dead(client, booted.uuid.uuid)
    assert dead.return_code == 2 and dead.log_path == ""
    lines = client.logs(dead.uuid)
    assert any("syntax error near unexpected token `newline'" in line for line in lines), lines
    assert not any(line.startswith("SSHPM: Starting process") for line in lines)  # the chain never ran
    assert wait_until(lambda: any(t.endswith("exit code 2") and "no-log-path" in t
                                  for t in texts(broadcaster, broadcast_pb2.SUBPROCESS_STATUS_UPDATE)))
    assert client.restart(dead.uuid).status == "RUNNING"  # the stored request fails the same way again
    assert wait_dead(client, dead.uuid).return_code == 2


@pinned_to_08
def test_virtual_boot_without_a_log_path_dies_with_exit_code_2(serve):
    servicer, address, broadcaster = serve(virtual=True, seed=1)
    client = ProcessManagerClient(address, USER, timeout=5)
    response = raw_boot(pm_grpc.ProcessManagerStub(grpc.insecure_channel(address)), "v-no-log", USER, SESSION,
                        log_path="")
    booted = unpack(response, pm.ProcessInstance)
    assert booted.status_code == pm.ProcessInstance.RUNNING
    [listed] = client.ps(uuids=[booted.uuid.uuid])
    assert (listed.status, listed.return_code) == ("DEAD", 2)
    assert "syntax error near unexpected token `newline'" in client.logs(listed.uuid)[-1]
    assert texts(broadcaster, broadcast_pb2.SUBPROCESS_STATUS_UPDATE)[-1].endswith("exit code 2")


def test_boot_refuses_an_empty_host_list(stub, layout):
    response = stub.boot(make_request(USER, pm.BootRequest(process_description=pm.ProcessDescription(
        metadata=pm.ProcessMetadata(user=USER, session=SESSION, name="x")))), timeout=5)
    assert response.flag == flag(layout, "DRUNC_EXCEPTION_THROWN")
    assert "No allowed host provided" in "\n".join(unpack(response, generic_pb2.Stacktrace).text)


def test_boot_refuses_a_host_that_is_not_this_machine(pm_env):
    _, client, _ = pm_env
    with pytest.raises(DruncFlagError) as caught:
        client.boot(spec("remote", allowed_hosts=("np04-srv-042",)))
    assert caught.value.flag == "DRUNC_EXCEPTION_THROWN"
    assert "No allowed host could be used" in caught.value.text
    assert client.ps() == []


@pytest.mark.parametrize("changes, message", [
    ({"name": ""}, "name must not be empty"),
    ({"name": "a b"}, "must not contain spaces"),
    ({"user": ""}, "user must not be empty"),
    ({"session": " "}, "session must not be empty"),
    ({"executable": ""}, "executable must not be empty"),
    ({"allowed_hosts": ()}, "allowed_hosts"),
    ({"allowed_hosts": ("",)}, "allowed_hosts"),
    ({"environment": {"1BAD": "x"}}, "not a valid shell name"),
    ({"environment": {"OK": "two\nlines"}}, "single-line"),
    ({"tree_id": "5"}, "three dot-separated integers"),
    ({"arguments": "not-a-tuple"}, "sequence of strings"),
    ({"log_path": ""}, "log_path must not be empty: drunc has no default"),
    ({"log_path": "  "}, "log_path must not be empty"),
    ({"log_path": "/tmp/a b.log"}, "log_path .* must not contain spaces"),
])
def test_boot_spec_validation_is_client_side(pm_env, changes, message):
    _, client, broadcaster = pm_env
    before = len(broadcaster.records)
    with pytest.raises(InvalidArguments, match=message):
        client.boot(dataclasses.replace(spec("ok"), **changes))
    assert len(broadcaster.records) == before  # nothing was sent


# -------------------------------------------------------------------------------------------------------- ps


def test_ps_by_uuid_name_regex_user_and_session(pm_env):
    _, client, _ = pm_env
    a = client.boot(spec("ru-01"))
    b = client.boot(spec("trigger-ru-02", session="other", user="bob"))
    c = client.boot(spec("dfo", session="other"))
    uuids = lambda infos: {p.uuid for p in infos}  # noqa: E731
    assert uuids(client.ps(uuids=[a.uuid])) == {a.uuid}
    assert uuids(client.ps(names=["^ru-01$"])) == {a.uuid}
    assert uuids(client.ps(names=["ru"])) == {a.uuid, b.uuid}  # re.search: "ru" hits trigger-ru-02 too
    assert uuids(client.ps(user="bob")) == {b.uuid}
    assert uuids(client.ps(session="other")) == {b.uuid, c.uuid}
    assert uuids(client.ps(uuids=[a.uuid], user="bob")) == {a.uuid, b.uuid}  # OR, not AND
    assert uuids(client.ps()) == {a.uuid, b.uuid, c.uuid}
    assert client.ps(uuids=["no-such-uuid"]) == []


def test_ps_reproduces_the_empty_string_pitfall_and_the_client_avoids_it(pm_env, stub):
    _, client, _ = pm_env
    good = client.boot(spec("good"))
    bare = unpack(raw_boot(stub, "bare", user="", session=None), pm.ProcessInstance)  # booted without a session

    by_uuid = unpack(stub.ps(make_request(USER, query(uuids=[good.uuid])), timeout=5), pm.ProcessInstanceList)
    assert {p.uuid.uuid for p in by_uuid.values} == {good.uuid, bare.uuid.uuid}  # "" matched the bare one

    no_criteria = unpack(stub.ps(make_request(USER, pm.ProcessQuery()), timeout=5), pm.ProcessInstanceList)
    assert [p.uuid.uuid for p in no_criteria.values] == [bare.uuid.uuid]  # only empty user/session match

    assert [p.uuid for p in client.ps(uuids=[good.uuid])] == [good.uuid]  # the client never sends ""
    assert [p.uuid for p in client.kill(uuids=[good.uuid])] == [good.uuid]
    assert [p.uuid for p in client.ps()] == [bare.uuid.uuid]


@pytest.mark.parametrize("rpc", ["ps", "kill", "terminate", "flush", "restart"])
def test_query_rpcs_without_a_query_are_refused(stub, rpc, layout):
    """0.10.x: UNHANDLED_EXCEPTION_THROWN (a NameError); 0.13.2: BAD_REQUEST_FORMAT "Cannot unpack '' to
    'ProcessQuery'", and terminate needs no payload at all there."""
    response = getattr(stub, rpc)(make_request(USER), timeout=5)  # a Request with no data at all
    assert response.name == "process_manager"
    if layout == "0.8":
        assert response.flag == rr.UNHANDLED_EXCEPTION_THROWN
        assert unpack(response, generic_pb2.Stacktrace).text
    elif rpc == "terminate":
        assert response.flag == 0 and unpack(response, pm.ProcessInstanceList).values == []
    else:
        assert response.flag == rr011.NOT_EXECUTED_BAD_REQUEST_FORMAT
        assert unpack(response, generic_pb2.PlainText).text == "Cannot unpack '' to 'ProcessQuery'"


def test_wrong_payload_type_is_refused_as_in_drunc(stub, layout):
    response = stub.ps(make_request(USER, pm.LogRequest()), timeout=5)
    if layout == "0.8":
        assert response.flag == rr.UNHANDLED_EXCEPTION_THROWN
    else:
        assert response.flag == rr011.NOT_EXECUTED_BAD_REQUEST_FORMAT
        assert unpack(response, generic_pb2.PlainText).text == \
            "Cannot unpack 'type.googleapis.com/dunedaq.druncschema.LogRequest' to 'ProcessQuery'"


# ------------------------------------------------------------------------------------------------------ logs


def test_logs_streams_the_lines_an_echo_process_wrote(pm_env, stub):
    _, client, broadcaster = pm_env
    info = client.boot(shell("echoer", "for i in 1 2 3; do echo line-$i; done"))
    wait_dead(client, info.uuid)
    lines = client.logs(info.uuid)
    assert lines[0].startswith("SSHPM: Starting process ") and lines[1:] == ["line-1", "line-2", "line-3"]
    assert client.logs(info.uuid, lines=2) == ["line-2", "line-3"]

    responses = list(stub.logs(make_request(USER, pm.LogRequest(query=query(uuids=[info.uuid]), how_far=2)),
                               timeout=5))
    assert len(responses) == 2  # one Response per line
    assert all(r.flag == rr.EXECUTED_SUCCESSFULLY for r in responses)
    assert [unpack(r, pm.LogLine).uuid.uuid for r in responses] == [info.uuid] * 2
    assert texts(broadcaster, broadcast_pb2.ACK)[-1] == f"User '{USER}' attempting to execute 'logs'"
    assert texts(broadcaster, broadcast_pb2.COMMAND_EXECUTION_SUCCESS)[-1] == \
        f"User '{USER}' successfully executed 'logs'"


def test_logs_how_far_zero_means_100(pm_env, stub):
    _, client, _ = pm_env
    info = client.boot(shell("counter", "seq 1 150"))
    wait_dead(client, info.uuid)
    responses = list(stub.logs(make_request(USER, pm.LogRequest(query=query(uuids=[info.uuid]))), timeout=5))
    assert len(responses) == 100
    assert unpack(responses[-1], pm.LogLine).line == "150"


def test_logs_needs_exactly_one_process(pm_env, stub, layout):
    _, client, broadcaster = pm_env
    client.boot(spec("one"))
    client.boot(spec("two"))
    with pytest.raises(DruncFlagError) as caught:
        client.logs("no-such-uuid")
    assert caught.value.flag == "DRUNC_EXCEPTION_THROWN" and "doesn't exist" in caught.value.text
    several = list(stub.logs(make_request(USER, pm.LogRequest(query=query(names=[".*"]))), timeout=5))
    assert [r.flag for r in several] == [flag(layout, "DRUNC_EXCEPTION_THROWN")]
    assert "more than 1" in "\n".join(unpack(several[0], generic_pb2.Stacktrace).text)
    missing = list(stub.logs(make_request(USER), timeout=5))
    no_payload = "UNHANDLED_EXCEPTION_THROWN" if layout == "0.8" else "NOT_EXECUTED_BAD_REQUEST_FORMAT"
    assert [r.flag for r in missing] == [flag(layout, no_payload)]
    assert texts(broadcaster, broadcast_pb2.COMMAND_EXECUTION_SUCCESS)[-1].endswith("'boot'")  # no success


def test_logs_of_a_missing_file_is_flag_6_not_a_hang(pm_env):
    _, client, _ = pm_env
    info = client.boot(spec("no-log"))
    os.remove(info.log_path)
    started = time.monotonic()
    with pytest.raises(DruncFlagError) as caught:
        client.logs(info.uuid, timeout=2)
    assert time.monotonic() - started < 1.5
    assert caught.value.flag == "DRUNC_EXCEPTION_THROWN"
    assert "does not exist" in caught.value.text
    assert client.describe().name == "process_manager"  # the PM still answers


@pinned_to_08
def test_logs_never_outlive_their_timeout(serve):
    _, address, _ = serve(cls=SlowServicer)
    client = ProcessManagerClient(address, USER)
    info = client.boot(shell("slow-log", "echo hi"))
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as caught:
        client.logs(info.uuid, timeout=0.3)
    assert caught.value.timed_out
    assert time.monotonic() - started < 0.9


# ------------------------------------------------------------------------------------- kill, restart, flush


def test_kill_returns_dead_with_negative_code_and_removes_from_ps(pm_env):
    _, client, broadcaster = pm_env
    victim = client.boot(spec("victim"))
    other = client.boot(spec("bystander"))
    pid = shell_pid(client, victim.uuid)
    [killed] = client.kill(uuids=[victim.uuid])
    assert (killed.uuid, killed.status, killed.return_code) == (victim.uuid, "DEAD", -3)  # SIGQUIT
    assert [p.uuid for p in client.ps()] == [other.uuid]
    assert gone(pid)
    wait_until(lambda: any("'victim'" in t and "exit code -3" in t
                           for t in texts(broadcaster, broadcast_pb2.SUBPROCESS_STATUS_UPDATE)))
    assert client.flush() == []  # nothing left to flush after kill


def test_kill_escalates_to_sigkill_after_kill_timeout(pm_env):
    _, client, _ = pm_env
    # drunc joins `exec args...` unquoted, so this is the chain `trap '' QUIT ; sleep 30`: the shell itself
    # (and the sleep, which inherits the ignored signal) survive SIGQUIT.
    stubborn = client.boot(spec("stubborn", "''", "QUIT", ";", "sleep", "30", executable="trap"))
    pid = shell_pid(client, stubborn.uuid)
    time.sleep(0.1)
    started = time.monotonic()
    [killed] = client.kill(names=["^stubborn$"])
    assert killed.return_code == -9
    assert 0.15 < time.monotonic() - started < 2
    assert gone(pid)


def test_kill_also_ends_what_the_process_left_behind(pm_env, tmp_path):
    _, client, _ = pm_env
    script = tmp_path / "leave-a-child.sh"  # dash: dies of SIGQUIT; its background child ignores SIGQUIT
    script.write_text("sh -c 'echo child=$$; exec sleep 30' &\nwait\n")
    info = client.boot(spec("parent", str(script), executable="sh"))
    child = int(wait_until(lambda: [line for line in client.logs(info.uuid) if line.startswith("child=")])[0][6:])
    assert not gone(child)
    [killed] = client.kill(uuids=[info.uuid])
    assert killed.return_code == -3  # the group leader died of the SIGQUIT ...
    # ... and what was left of its group got the SIGKILL after kill_timeout; a SIGKILLed process still takes a
    # moment to exit (the kernel runs it once more), which a loaded machine stretches
    wait_until(lambda: gone(child), timeout=3)


def test_kill_without_criteria_is_refused_client_side(pm_env):
    _, client, _ = pm_env
    client.boot(spec("safe"))
    with pytest.raises(InvalidArguments):
        client.kill()
    assert len(client.ps()) == 1


def test_restart_keeps_the_uuid(pm_env):
    _, client, broadcaster = pm_env
    info = client.boot(spec("phoenix", tree_id="1.1.1"))
    old_pid = shell_pid(client, info.uuid)
    again = client.restart(info.uuid)
    assert (again.uuid, again.status, again.tree_id, again.name) == (info.uuid, "RUNNING", "1.1.1", "phoenix")
    assert [p.uuid for p in client.ps()] == [info.uuid]
    wait_until(lambda: gone(old_pid))
    new_pid = wait_until(lambda: shell_pid(client, info.uuid) != old_pid and shell_pid(client, info.uuid))
    assert not gone(new_pid)
    wait_until(lambda: any("'phoenix'" in t for t in texts(broadcaster, broadcast_pb2.SUBPROCESS_STATUS_UPDATE)))
    assert [p.status for p in client.ps()] == ["RUNNING"]  # the old process's exit did not mark the new one


def test_restart_of_an_exited_process_runs_it_again(pm_env):
    _, client, _ = pm_env
    info = client.boot(shell("oneshot", "exit 4"))
    assert wait_dead(client, info.uuid).return_code == 4
    again = client.restart(info.uuid)
    assert again.uuid == info.uuid and again.status == "RUNNING" and again.return_code == 0
    assert wait_dead(client, info.uuid).return_code == 4


def test_restart_after_kill_fails_with_flag_7_keyerror(pm_env):
    _, client, _ = pm_env
    info = client.boot(spec("doomed"))
    client.kill(uuids=[info.uuid])
    with pytest.raises(DruncFlagError) as caught:
        client.restart(info.uuid)
    assert caught.value.flag == "UNHANDLED_EXCEPTION_THROWN"
    assert "KeyError" in caught.value.text


def test_restart_needs_exactly_one_process(pm_env, stub, layout):
    _, client, _ = pm_env
    client.boot(spec("r1"))
    client.boot(spec("r2"))
    with pytest.raises(DruncFlagError) as caught:
        client.restart("no-such-uuid")
    assert caught.value.flag == "DRUNC_EXCEPTION_THROWN"
    response = stub.restart(make_request(USER, query(names=["^r"])), timeout=5)
    assert response.flag == flag(layout, "DRUNC_EXCEPTION_THROWN")


def test_flush_removes_only_dead_processes(pm_env):
    _, client, _ = pm_env
    done = client.boot(shell("done", "true"))
    alive = client.boot(spec("alive"))
    assert wait_dead(client, done.uuid).return_code == 0
    [flushed] = client.flush()
    assert (flushed.uuid, flushed.status) == (done.uuid, "DEAD")
    assert [p.uuid for p in client.ps()] == [alive.uuid]
    assert client.flush(uuids=[alive.uuid]) == []


def test_terminate_kills_every_process_whatever_the_query(pm_env):
    _, client, _ = pm_env
    a = client.boot(spec("t-a"))
    b = client.boot(spec("t-b", session="elsewhere", user="bob"))
    killed = client.terminate(names=["^matches-nothing$"])
    assert {(p.uuid, p.status) for p in killed} == {(a.uuid, "DEAD"), (b.uuid, "DEAD")}
    assert client.ps() == []
    assert client.terminate() == []


@pytest.mark.parametrize("schema", ["forced", "auto"])
def test_terminate_sends_a_query_on_08_and_no_payload_on_011(serve, layout, schema):
    """drunc-protocol-0.11.md §3.4: 0.10.x requires the (ignored) query, 0.13.2's driver sends nothing."""
    received = []

    class Recording(SERVICERS[layout]):
        def terminate(self, request, context):
            received.append(request.data.type_url if request.HasField("data") else None)
            return super().terminate(request, context)

    _, address, _ = serve(cls=Recording)
    client = ProcessManagerClient(address, USER, schema=layout if schema == "forced" else "auto")
    client.boot(spec("doomed"))
    assert [p.status for p in client.terminate()] == ["DEAD"]
    assert received == [f"type.googleapis.com/{pm.ProcessQuery.DESCRIPTOR.full_name}" if layout == "0.8" else None]


# ------------------------------------------------------------------------------------------------ broadcasts


def test_an_exited_process_broadcasts_subprocess_status_update(pm_env):
    servicer, client, broadcaster = pm_env
    info = client.boot(shell("quitter", "exit 3"))
    assert wait_dead(client, info.uuid).return_code == 3
    expected = f"Process 'quitter' (session: '{SESSION}', user: '{USER}') process exited with exit code 3"
    wait_until(lambda: expected in texts(broadcaster, broadcast_pb2.SUBPROCESS_STATUS_UPDATE))
    topics = {topic for topic, m in broadcaster.records if m.type == broadcast_pb2.SUBPROCESS_STATUS_UPDATE}
    assert topics == {f"control.{servicer.session}.process_manager"}


def test_ack_and_success_around_every_rpc_and_no_success_on_failure(pm_env):
    servicer, client, broadcaster = pm_env
    assert broadcaster.types() == []  # SERVER_READY is emitted by whoever starts the server (simulator.run)
    client.describe()
    client.ps()
    assert broadcaster.types() == ["ACK", "COMMAND_EXECUTION_SUCCESS", "ACK", "COMMAND_EXECUTION_SUCCESS"]
    assert texts(broadcaster, broadcast_pb2.ACK) == [f"User '{USER}' attempting to execute 'describe'",
                                                     f"User '{USER}' attempting to execute 'ps'"]
    successes = texts(broadcaster, broadcast_pb2.COMMAND_EXECUTION_SUCCESS)
    assert successes[-1] == f"User '{USER}' successfully executed 'ps'"
    with pytest.raises(DruncFlagError):
        client.restart("nope")
    assert broadcaster.types()[-1] == "ACK"  # an exception produces no broadcast beyond the ACK
    assert all(m.emitter.process == "process_manager" and m.emitter.session == servicer.session
               for _, m in broadcaster.records)


# --------------------------------------------------------------------------------------------- virtual mode


@pinned_to_08
def test_virtual_pm_with_10000_processes(serve):
    servicer, address, broadcaster = serve(virtual=True, seed=7)
    uuids = servicer.populate(10_000, sessions=("np04-hd", "np02-vd"), users=("np04daq", "np02daq"))
    assert len(uuids) == len(set(uuids)) == 10_000
    client = ProcessManagerClient(address, USER, timeout=10)
    client.ps(uuids=[uuids[0]])  # warm the channel
    started = time.monotonic()
    everything = client.ps()
    elapsed = time.monotonic() - started
    assert len(everything) == 10_000
    assert elapsed < 1.0, f"ps of 10,000 processes took {elapsed:.2f}s"
    assert {p.session for p in everything} == {"np04-hd", "np02-vd"}
    assert {p.user for p in everything} == {"np04daq", "np02daq"}
    assert all(p.hostname.startswith("np04-srv-0") and p.tree_id.count(".") == 2 for p in everything)
    by_tree = {(p.session, p.tree_id): p.name for p in everything}
    assert by_tree[("np04-hd", "1.0.0")] == "root-controller"
    assert by_tree[("np04-hd", "1.1.0")] == "ru-controller" and by_tree[("np04-hd", "1.1.1")] == "ru-01"
    assert len(client.ps(session="np02-vd")) == 5_000

    booted = client.boot(spec("extra", allowed_hosts=("np04-srv-099",)))
    assert booted.hostname == "np04-srv-099" and booted.status == "RUNNING"
    assert client.logs(booted.uuid)[0].startswith("SSHPM: Starting process")
    [killed] = client.kill(uuids=[booted.uuid])
    assert (killed.status, killed.return_code) == ("DEAD", -3)
    with pytest.raises(DruncFlagError):
        client.restart(booted.uuid)
    assert client.restart(uuids[5]).uuid == uuids[5]
    assert "exit code -3" in texts(broadcaster, broadcast_pb2.SUBPROCESS_STATUS_UPDATE)[-1]


@pinned_to_08
def test_virtual_churn_kills_and_revives_with_a_seed(serve):
    def run(seed):
        servicer, address, broadcaster = serve(virtual=True, seed=seed)  # churn 0: no background thread
        servicer.churn = 0.3  # ticks driven by hand
        servicer.populate(50)
        client = ProcessManagerClient(address, USER)
        servicer.churn_tick()
        first = {p.uuid: (p.status, p.return_code) for p in client.ps()}
        servicer.churn_tick()
        second = {p.uuid: p.status for p in client.ps()}
        return first, second, texts(broadcaster, broadcast_pb2.SUBPROCESS_STATUS_UPDATE)

    first, second, announced = run(seed=3)
    dead = [u for u, (status, _) in first.items() if status == "DEAD"]
    assert 0 < len(dead) < 50
    assert all(first[u][1] != 0 for u in dead)
    assert any(second[u] == "RUNNING" for u in dead)  # some came back, same uuid
    newly_dead = [u for u, status in second.items() if status == "DEAD" and u not in dead]
    assert newly_dead  # others died in the second second
    assert len(announced) == len(dead) + len(newly_dead)  # one SUBPROCESS_STATUS_UPDATE per death
    assert run(seed=3) == (first, second, announced)  # a seed replays the same uuids and the same churn


@pinned_to_08
def test_virtual_churn_thread_ticks_once_per_second(serve):
    servicer, address, _ = serve(virtual=True, churn=0.5, seed=1)
    servicer.populate(10, session="churny")
    client = ProcessManagerClient(address, USER)
    assert {p.session for p in client.ps()} == {"churny"}
    wait_until(lambda: any(p.status == "DEAD" for p in client.ps()), timeout=3)


# ------------------------------------------------------------------------------------- transport failures


def test_closed_port_is_backend_unavailable_naming_the_address():
    client = ProcessManagerClient("grpc://127.0.0.1:1", USER, timeout=2)
    with pytest.raises(BackendUnavailable) as caught:
        client.ps()
    assert caught.value.address == "127.0.0.1:1" and not caught.value.timed_out
    assert "127.0.0.1:1" in str(caught.value)


@pinned_to_08
def test_deadline_exceeded_is_backend_unavailable_timed_out(serve):
    _, address, _ = serve(cls=SlowServicer)
    with pytest.raises(BackendUnavailable) as caught:
        ProcessManagerClient(address, USER, timeout=0.2).describe()
    assert caught.value.timed_out and "not responding" in str(caught.value)


# ------------------------------------------------------------------------------------------------ teardown


@pinned_to_08
def test_close_kills_every_child(serve):
    servicer, address, _ = serve()
    client = ProcessManagerClient(address, USER)
    pids = [shell_pid(client, client.boot(spec(f"child-{i}")).uuid) for i in range(3)]
    restarted = client.ps(names=["^child-0$"])[0].uuid
    client.restart(restarted)
    pids.append(wait_until(lambda: (pid := shell_pid(client, restarted)) not in pids and pid))
    servicer.close()
    assert all(gone(pid) for pid in pids)
