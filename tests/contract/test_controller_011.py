"""The 0.11 simulator against drunc 0.13.2's observed behaviour (drunc-protocol-0.11.md section 9), through raw
0.11 stubs and through the typed client (which detects the layout)."""

from __future__ import annotations

import grpc
import pytest

from drunc_client.backends import DruncBackends
from drunc_client.errors import DruncFlagError, SessionManagerNotUsable, UnsupportedByLayout
from drunc_client.generated.druncschema import generic_pb2
from drunc_client.generated_011.druncschema import controller_pb2 as ctl
from drunc_client.generated_011.druncschema import controller_pb2_grpc as ctl_grpc
from drunc_client.generated_011.druncschema import request_response_pb2 as rr
from simulator.run import SimulatorConfig, start_simulator


@pytest.fixture(params=[False, True], ids=["intended", "bugs"])
def sim(request, tmp_path):
    s = start_simulator(SimulatorConfig(segments=2, apps=1, schema="0.11", bugs=request.param,
                                        log_dir=tmp_path / "logs"))
    yield s
    s.stop(0)


def backends(sim, schema="auto"):
    return DruncBackends(sim.addresses["process_manager"], sim.addresses["controller"],
                         sim.addresses["session_manager"], schema=schema)


def raw(sim, rpc, data=None):
    stub = ctl_grpc.ControllerStub(grpc.insecure_channel(sim.addresses["controller"]))
    request = rr.Request()
    request.token.user_name, request.token.token = "al", "al-token"
    if data is not None:
        request.data.Pack(data)
    return getattr(stub, rpc)(request, timeout=5)


def test_status_answers_for_the_tree_and_a_bare_payload_is_flag_8(sim):
    response = raw(sim, "status")  # no data: self and the whole tree
    assert response.flag == 0 and len(response.children) == 2 and all(len(c.children) == 1 for c in response.children)
    bad = raw(sim, "describe_fsm", generic_pb2.PlainText(text=""))  # 0.8 style
    assert bad.flag == rr.NOT_EXECUTED_BAD_REQUEST_FORMAT == 8
    unknown = raw(sim, "status", ctl.AddressedCommand(command_name="status", target="x"))
    assert unknown.flag == rr.FAILED and b"is not matching" in unknown.data.value
    gone = grpc.insecure_channel(sim.addresses["controller"]).unary_unary(
        "/dunedaq.druncschema.Controller/get_status", request_serializer=lambda b: b,
        response_deserializer=lambda b: b)
    with pytest.raises(grpc.RpcError) as info:
        gone(b"", timeout=5)  # gone in 0.11: the method path does not exist
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_typed_client_detects_0_11_and_an_excluded_child_does_not_put_the_root_in_error(sim):
    b = backends(sim)
    client = b.controller("alice")
    assert client.layout == "0.11" and b.layouts.snapshot() == {sim.addresses["controller"]: "0.11"}
    assert [n.name for n in client.tree().walk()][:2] == ["root-controller", "segment-controller-0"]
    client.take_control()
    assert client.exclude(target="segment-controller-1").ok
    assert client.status("segment-controller-1").included is False
    result = client.execute("conf")
    assert result.ok and result.status.state == "configured" and not result.status.in_error
    assert client.status("segment-controller-1").state == "initial"
    invalid = client.execute("stop")  # flag 0 + FSM_INVALID_TRANSITION, tree unchanged
    assert invalid.fsm_flag == "FSM_INVALID_TRANSITION" and client.status().state == "configured"
    assert client.include(target="root-controller/segment-controller-1").ok
    targeted = client.execute("conf", target="segment-controller-1")
    assert targeted.ok and targeted.status.state == "configured" and targeted.status.name == "segment-controller-1"


def test_the_0_13_2_bugs_only_with_the_switch(sim):
    bugs = sim.config.bugs
    client = backends(sim).controller("alice")
    client.take_control()
    assert [s.name for s in client.describe_fsm("")] == ["conf"]
    if bugs:
        with pytest.raises(DruncFlagError, match="UNHANDLED_EXCEPTION_THROWN"):
            client.describe_fsm("initial")
    else:
        assert [s.name for s in client.describe_fsm("initial")] == ["conf"]
    assert client.recompute_status().in_error is False
    client.surrender_control()
    assert client.who_is_in_charge() == ""
    sm = backends(sim).session_manager("alice")
    if bugs:
        with pytest.raises(SessionManagerNotUsable, match="session manager not usable"):
            sm.sessions()
    else:
        assert [s.name for s in sm.sessions()] == ["np04-coldbox"]
        assert {c.name for c in sm.configurations()} == {"local-1x1-config", "np04-daq-config"}


def test_forcing_0_8_on_a_0_11_server_fails_plainly_and_0_8_cannot_address_subtrees(sim, simulator):
    with pytest.raises(Exception, match="UNIMPLEMENTED"):
        backends(sim, "0.8").controller("alice").status()
    old = DruncBackends(simulator.addresses["process_manager"], simulator.addresses["controller"],
                        simulator.addresses["session_manager"])
    client = old.controller("alice")
    assert client.layout == "0.8"
    with pytest.raises(UnsupportedByLayout, match="needs druncschema 0.11"):
        client.exclude(target="segment-controller-0")


@pytest.mark.parametrize("bugs", [False, True])
def test_recompute_status_on_a_controller_without_children(tmp_path, bugs):
    sim = start_simulator(SimulatorConfig(segments=0, apps=0, schema="0.11", bugs=bugs, log_dir=tmp_path / "l"))
    try:
        client = backends(sim).controller("alice")
        client.take_control()
        if bugs:  # 0.13.2: KeyError, and the root stays in error
            with pytest.raises(DruncFlagError, match="UNHANDLED_EXCEPTION_THROWN"):
                client.recompute_status()
            assert client.status().in_error
        else:
            assert client.recompute_status().in_error is False
    finally:
        sim.stop(0)


def test_python_m_simulator_serves_0_11(tmp_path):
    import signal
    import subprocess
    import sys
    from pathlib import Path

    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--kafka", "none", "--pm-port", "0", "--controller-port", "0",
         "--session-manager-port", "0", "--transition-seconds", "0", "--schema", "0.11", "--drunc-bugs",
         "--log-dir", str(tmp_path)],
        cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        ready = next(line for line in proc.stdout if line.startswith("READY "))
        addresses = dict(part.split("=", 1) for part in ready.split()[1:])
        assert addresses["schema"] == "0.11"
        client = DruncBackends("", addresses["controller"], addresses["session_manager"]).controller("alice")
        assert client.layout == "0.11" and client.status().state == "initial"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0


@pytest.mark.parametrize("layout", ["0.8", "0.11"])
def test_tree_reuses_its_describe_until_a_node_it_did_not_name_appears(tmp_path, layout):
    """`describe` is relayed through the whole tree (half a sweep at 1,000 nodes on 0.11) and names only kinds and
    endpoints: `tree()` reuses it, and asks again as soon as the tree shows a node it did not name."""
    from drunc_client.controller import ControllerClient
    from drunc_client.layouts import LayoutCache
    from simulator.controller import ApplicationNode

    s = start_simulator(SimulatorConfig(segments=1, apps=1, schema=layout, log_dir=tmp_path / "logs"))
    try:
        cache, calls = LayoutCache(), []

        def client():
            c = ControllerClient(s.addresses["controller"], "probe", child_addresses=s.controller_addresses,
                                 layouts=cache)
            original = c.describe
            c.describe = lambda: calls.append(1) or original()
            return c

        client().tree()
        client().tree()
        assert len(calls) == 1
        if layout == "0.11":  # the 0.11 facades fix the tree at start; the rule is the same code on both layouts
            return
        segment = s.root.find("segment-controller-0")
        segment.add_child(ApplicationNode("segment-controller-0-app-new", session=segment.session))
        assert "segment-controller-0-app-new" in [n.name for n in client().tree().walk()]
        assert len(calls) == 1  # the new node is shown at once, as an application; the next sweep asks again
        kinds = {n.name: n.kind for n in client().tree().walk()}
        assert len(calls) == 2 and kinds["segment-controller-0-app-new"] == "application"
    finally:
        s.stop(0)
