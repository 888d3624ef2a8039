"""Contract tests: drunc_client.controller against the simulated controller tree, over real gRPC.

Each test gets a fresh tree (root-controller → segment-controller-N → segment-controller-N-app-M), one gRPC server
per controller on 127.0.0.1, and a RecordingBroadcaster to check what would have gone to Kafka.

The tree is served in both druncschema layouts (`layout`: 0.8 = drunc 0.10.x, 0.11 = drunc 0.13.2 through the
facades of simulator/controller_011.py, the client detecting the layout). Tests of the 0.8 wire itself (raw 0.8
stubs, drunc 0.10.x's bugs) are pinned to 0.8; test_controller_011.py holds the 0.11 wire. Where 0.13.2 behaves
otherwise by design (an excluded child does not put the parent in error, section 9 of drunc-protocol-0.11.md),
the test asserts each layout's behaviour.
"""

from __future__ import annotations

import re
import threading
import time

import pytest

from drunc_client.controller import SEQUENCES, ControllerClient, NodeStatus, encode_arguments
from drunc_client.errors import DruncFlagError, InvalidArguments, NodeInError, NotInControl
from drunc_client.generated.druncschema import broadcast_pb2, generic_pb2, request_response_pb2
from drunc_client.generated.druncschema import controller_pb2 as ctl
from drunc_client.generated.druncschema import controller_pb2_grpc as ctl_grpc
from drunc_client.transport import channel, make_request, pack, unpack
from simulator.broadcast import RecordingBroadcaster
from simulator.controller import build_tree, serve_tree, stop_tree

ROOT = "root-controller"
SEG0, SEG1 = "segment-controller-0", "segment-controller-1"
SESSION = "test-session"
STANDARD_PATH = [
    ("conf", {}, "configured"),
    ("start", {"run_number": 1}, "ready"),
    ("enable_triggers", {}, "running"),
    ("disable_triggers", {}, "ready"),
    ("drain_dataflow", {}, "dataflow_drained"),
    ("stop_trigger_sources", {}, "trigger_sources_stopped"),
    ("stop", {}, "configured"),
    ("scrap", {}, "initial"),
]


class Sim:
    def __init__(self, segments: int, apps: int, layout: str = "0.8", **options):
        self.layout = layout
        self.broadcaster = RecordingBroadcaster()
        self.root = build_tree(segments, apps, session=SESSION, broadcaster=self.broadcaster, **options)
        servicers = None
        if layout == "0.11":
            from simulator.controller_011 import Facade011

            servicers = {f.name: f for f in Facade011(self.root).walk() if f.is_controller}
        self.servers, self.addresses = serve_tree(self.root, "127.0.0.1", 0, servicers=servicers)

    def client(self, user: str = "alice", node: str = ROOT, **options) -> ControllerClient:
        options.setdefault("child_addresses", self.addresses)
        return ControllerClient(self.addresses[node], user, **options)

    def stub(self, node: str = ROOT) -> ctl_grpc.ControllerStub:
        return ctl_grpc.ControllerStub(channel(self.addresses[node]))

    def texts(self, process: str, btype: int) -> list[str]:
        found = []
        for _, message in list(self.broadcaster.records):
            if message.emitter.process == process and message.type == btype:
                text = generic_pb2.PlainText()
                message.data.Unpack(text)
                found.append(text.text)
        return found

    def close(self):
        stop_tree(self.root, self.servers)


pinned_to_08 = pytest.mark.parametrize("layout", ["0.8"])  # the 0.8 wire itself


@pytest.fixture(params=["0.8", "0.11"])
def layout(request) -> str:
    return request.param


@pytest.fixture
def make_sim(layout):
    sims = []

    def make(segments: int = 2, apps: int = 2, **options) -> Sim:
        sim = Sim(segments, apps, layout, **options)
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        sim.close()


@pytest.fixture
def sim(make_sim) -> Sim:
    return make_sim()


@pytest.fixture
def alice(sim) -> ControllerClient:
    client = sim.client("alice")
    client.take_control()
    return client


def states(client: ControllerClient) -> tuple[str, list[str]]:
    return client.status().state, [s.state for s in client.children_status()]


# ---------------------------------------------------------------------------------------------------------------
# reads


def test_describe_with_children(sim):
    description = sim.client().describe()
    assert (description.type, description.name, description.session) == ("controller", ROOT, SESSION)
    if sim.layout == "0.8":
        assert {"execute_fsm_command", "describe_fsm", "take_control", "who_is_in_charge"} <= set(
            description.commands)
    else:  # drunc 0.13.2 leaves commands empty and fills its own endpoint
        assert description.commands == () and description.endpoint == f"grpc://{sim.addresses[ROOT]}"
    assert description.broadcast is None  # no Kafka configured
    assert [c.name for c in description.children] == [SEG0, SEG1]
    assert [c.type for c in description.children] == ["controller", "controller"]
    apps = description.children[0].children
    assert [(a.name, a.type) for a in apps] == [(f"{SEG0}-app-0", "application"), (f"{SEG0}-app-1", "application")]
    assert len(list(description.walk())) == 1 + 2 + 4


def test_describe_reports_kafka_topic_when_broadcasting(make_sim):
    sim = make_sim(1, 0)
    sim.broadcaster.kafka_address = "kafka.example:9092"
    description = sim.client().describe()
    assert description.broadcast == ("kafka.example:9092", f"control.{SESSION}.{ROOT}")
    assert description.children[0].broadcast == ("kafka.example:9092", f"control.{SESSION}.{SEG0}")


def test_ls_status_and_children_status(sim):
    client = sim.client()
    assert client.ls() == [SEG0, SEG1]
    assert client.status() == NodeStatus(ROOT, "initial", "initial", False, True, False)
    assert [s.name for s in client.children_status()] == [SEG0, SEG1]
    apps = sim.client(node=SEG0).children_status()
    assert apps[0] == NodeStatus(f"{SEG0}-app-0", "initial", "idle", False, True, False)


@pinned_to_08
def test_wrong_payload_type_is_unhandled_exception(sim):
    response = sim.stub().describe_fsm(make_request("alice", generic_pb2.Empty()), timeout=5)
    assert response.flag == request_response_pb2.UNHANDLED_EXCEPTION_THROWN == 6  # released 0.8 numbering


# ---------------------------------------------------------------------------------------------------------------
# control


def test_take_control_propagates(sim):
    client = sim.client("alice")
    assert client.who_is_in_charge() == "controller_init_token"
    result = client.take_control()
    assert result.ok and result.text == {"0.8": "alice took control",
                                         "0.11": f"alice took control on {ROOT}"}[sim.layout]
    assert [c.name for c in result.children] == [SEG0, SEG1]
    for node in (ROOT, SEG0, SEG1):
        assert sim.client("viewer", node).who_is_in_charge() == "alice"
    # Taking control always succeeds and silently evicts the previous actor.
    sim.client("bob").take_control()
    assert client.who_is_in_charge() == "bob"


def test_not_in_control_is_refused_and_state_unchanged(sim):
    with pytest.raises(NotInControl) as refused:
        sim.client("alice").execute("conf")  # nobody took control: the init token is the actor
    assert refused.value.flag == "NOT_EXECUTED_NOT_IN_CONTROL"
    assert refused.value.text == "User alice is not in control of Controller"
    sim.client("alice").take_control()
    bob = sim.client("bob")
    for call in (lambda: bob.execute("conf"), bob.exclude, bob.include, bob.surrender_control):
        with pytest.raises(NotInControl):
            call()
    assert states(bob) == ("initial", ["initial", "initial"])
    assert bob.status().included


def test_surrender_clears_actor_without_propagating(sim, alice):
    assert alice.surrender_control() is None  # FAILED on the wire, but who_is_in_charge answers ""
    raw = sim.stub().surrender_control(make_request("alice"), timeout=5)
    assert raw.flag == request_response_pb2.NOT_EXECUTED_NOT_IN_CONTROL  # nobody is in control any more
    assert alice.who_is_in_charge() == ""
    assert sim.client("alice", SEG0).who_is_in_charge() == "alice"  # children keep the old actor
    with pytest.raises(NotInControl):
        alice.execute("conf")


@pinned_to_08
def test_surrender_wire_answer_is_failed(sim, alice):
    raw = sim.stub().surrender_control(make_request("alice"), timeout=5)
    assert raw.flag == request_response_pb2.FAILED
    assert unpack(raw.data, generic_pb2.PlainText).text == "Could not surrender control"
    assert list(raw.children) == []


# ---------------------------------------------------------------------------------------------------------------
# FSM


def test_full_standard_path(sim, alice):
    seg0 = sim.client("alice", SEG0)
    for transition, arguments, expected in STANDARD_PATH:
        result = alice.execute(transition, arguments)
        assert result.ok, (transition, result)
        assert (result.flag, result.fsm_flag) == ("EXECUTED_SUCCESSFULLY", "FSM_EXECUTED_SUCCESSFULLY")
        assert [c.name for c in result.children] == [SEG0, SEG1]
        assert all(len(c.children) == 2 for c in result.children)
        assert states(alice) == (expected, [expected, expected])
        assert {s.state for s in seg0.children_status()} == {expected}
        status = alice.status()
        assert status.sub_state == expected and not status.transitioning and not status.in_error


def test_start_arguments_decoded_by_the_server(sim, alice):
    alice.execute("conf")
    result = alice.execute("start", {"run_number": 42, "disable_data_storage": True, "trigger_rate": 2,
                                     "run_type": "PROD"})
    assert result.ok
    assert alice.status().state == "ready"


@pinned_to_08
def test_start_without_run_number(sim, alice):
    alice.execute("conf")
    with pytest.raises(InvalidArguments, match="run_number.*mandatory"):
        alice.execute("start", {"run_type": "TEST"})
    # Bypassing the client's validation: the server refuses with flag 6 and the state does not move.
    request = make_request("alice", ctl.FSMCommand(command_name="start"))
    response = sim.stub().execute_fsm_command(request, timeout=5)
    assert response.flag == request_response_pb2.DRUNC_EXCEPTION_THROWN
    assert "MissingArgument" in "\n".join(unpack(response.data, generic_pb2.Stacktrace).text)
    assert states(alice) == ("configured", ["configured", "configured"])
    # A wrong wrapper type is flag 6 too.
    command = ctl.FSMCommand(command_name="start")
    command.arguments["run_number"].CopyFrom(pack(generic_pb2.string_msg(value="1")))
    response = sim.stub().execute_fsm_command(make_request("alice", command), timeout=5)
    assert response.flag == request_response_pb2.DRUNC_EXCEPTION_THROWN
    assert alice.status().state == "configured"


@pytest.mark.parametrize("arguments, message", [
    ({"run_number": 1, "run_type": "CALIB"}, "run_type.*one of TEST, PROD"),
    ({"run_number": True}, "run_number.*integer"),
    ({"run_number": "7"}, "run_number.*integer"),
    ({"run_number": 1, "trigger_rate": "fast"}, "trigger_rate.*number"),
    ({"run_number": 1, "disable_data_storage": 1}, "disable_data_storage.*true or false"),
    ({"run_number": 1, "run_type": 5}, "run_type.*string"),
    ({"run_number": 1, "colour": "red"}, "unknown argument.*colour"),
])
def test_client_validation_rejects_before_sending(sim, alice, arguments, message):
    alice.execute("conf")
    before = len(sim.broadcaster.records)
    with pytest.raises(InvalidArguments, match=message):
        alice.execute("start", arguments)
    sent = [m for _, m in sim.broadcaster.records[before:] if m.type == broadcast_pb2.ACK]
    assert all("execute_fsm_command" not in unpack(m.data, generic_pb2.PlainText).text for m in sent)
    assert alice.status().state == "configured"


def test_describe_fsm_offers_valid_transitions_and_argument_specs(sim, alice):
    assert [t.name for t in alice.describe_fsm("")] == ["conf"]
    assert len(alice.all_transitions()) == 8
    assert [t.name for t in alice.describe_fsm("running")] == ["disable_triggers"]
    alice.execute("conf")
    assert sorted(t.name for t in alice.describe_fsm("")) == ["scrap", "start"]
    (start,) = alice.describe_fsm("start")
    assert start.help
    specs = {a.name: a for a in start.arguments}
    assert list(specs) == ["run_number", "disable_data_storage", "trigger_rate", "run_type"]
    run_number = specs["run_number"]
    assert (run_number.type, run_number.mandatory, run_number.default, run_number.choices) == ("INT", True, None, ())
    assert (specs["disable_data_storage"].type, specs["disable_data_storage"].default) == ("BOOL", False)
    assert (specs["trigger_rate"].type, specs["trigger_rate"].default) == ("FLOAT", 0.0)
    run_type = specs["run_type"]
    assert (run_type.type, run_type.mandatory, run_type.default, run_type.choices) == (
        "STRING", False, "TEST", ("TEST", "PROD"))
    assert all(a.help for a in start.arguments)
    assert all(not t.arguments for t in alice.all_transitions() if t.name != "start")
    # Only declared arguments are packed; optional ones left out fall back to the server's default.
    assert set(encode_arguments(start, {"run_number": 3})) == {"run_number"}


def test_invalid_transition(sim, alice):
    result = alice.execute("start", {"run_number": 1})  # from initial
    assert (result.flag, result.fsm_flag, result.ok) == ("EXECUTED_SUCCESSFULLY", "FSM_INVALID_TRANSITION", False)
    assert result.children == ()
    assert states(alice) == ("initial", ["initial", "initial"])
    assert not alice.status().in_error
    with pytest.raises(InvalidArguments, match="unknown transition"):
        alice.execute("warp")


@pinned_to_08
def test_invalid_transition_with_drunc_bugs_is_unhandled_exception(make_sim):
    sim = make_sim(1, 1, drunc_bugs=True)
    client = sim.client("alice")
    client.take_control()
    with pytest.raises(DruncFlagError) as raised:
        client.execute("enable_triggers")
    assert raised.value.flag == "UNHANDLED_EXCEPTION_THROWN"
    assert "AttributeError" in raised.value.text
    assert client.status().state == "initial"


@pinned_to_08
def test_exclude_and_include_node_and_descendants(sim, alice):
    seg0 = sim.client("alice", SEG0)
    result = seg0.exclude()
    assert result.ok and result.text == f"{SEG0} and children excluded"
    assert not seg0.status().included
    assert [s.included for s in seg0.children_status()] == [False, False]
    assert [s.included for s in alice.children_status()] == [False, True]
    assert alice.status().included
    with pytest.raises(DruncFlagError) as twice:
        seg0.exclude()
    assert twice.value.flag == "DRUNC_EXCEPTION_THROWN" and "CannotExclude" in twice.value.text
    result = seg0.include()
    assert result.ok and result.text == f"{SEG0} and children included"
    assert seg0.status().included and all(s.included for s in seg0.children_status())
    assert sim.texts(SEG0, broadcast_pb2.STATUS_UPDATE) == [f"{SEG0} excluded", f"{SEG0} included"]


@pinned_to_08
def test_include_on_an_included_node_raises_cannot_include(sim, alice):
    # Issue 11 point 4: drunc raises CannotInclude (DRUNC_EXCEPTION_THROWN), it is not a no-op.
    with pytest.raises(DruncFlagError) as raised:
        alice.include()
    assert raised.value.flag == "DRUNC_EXCEPTION_THROWN" and "CannotInclude" in raised.value.text
    raw = sim.stub().include(make_request("alice"), timeout=5)
    assert raw.flag == request_response_pb2.DRUNC_EXCEPTION_THROWN == 5  # released 0.8 numbering
    assert list(raw.children) == []  # refused on the node itself: nothing propagated
    # Including the (included) parent does not re-include an excluded segment: include it on its own address.
    seg0 = sim.client("alice", SEG0)
    seg0.exclude()
    with pytest.raises(DruncFlagError, match="CannotInclude|already included"):
        alice.include()
    assert not seg0.status().included
    assert seg0.include().ok and seg0.status().included
    assert sim.texts(ROOT, broadcast_pb2.STATUS_UPDATE) == []


def test_fsm_on_excluded_node(sim, alice):
    seg0 = sim.client("alice", SEG0)
    seg0.exclude()
    result = seg0.execute("conf")
    assert (result.flag, result.fsm_flag, result.ok) == ("EXECUTED_SUCCESSFULLY", "FSM_NOT_EXECUTED_EXCLUDED", False)
    assert not seg0.status().in_error


def test_transition_over_an_excluded_child_puts_the_parent_in_error(sim, alice):
    # Issue 11 point 3, as drunc 0.10.5 does it: the root answers FSM_EXECUTED_SUCCESSFULLY for itself, the
    # excluded child FSM_NOT_EXECUTED_EXCLUDED, and the root goes into error.
    sim.client("alice", SEG0).exclude()
    result = alice.execute("conf")
    assert (result.flag, result.fsm_flag) == ("EXECUTED_SUCCESSFULLY", "FSM_EXECUTED_SUCCESSFULLY")
    if sim.layout == "0.11":
        # drunc 0.13.2 (drunc-protocol-0.11.md §9): the excluded child is not sent the transition, the root alone
        # transitions and is NOT in error
        assert [(c.name, c.fsm_flag) for c in result.children] == [(SEG1, "FSM_EXECUTED_SUCCESSFULLY")]
        assert result.ok and not result.in_error_after and result.summary() == "ok"
        assert states(alice) == ("configured", ["initial", "configured"]) and not alice.status().in_error
        assert alice.execute("scrap").ok
        return
    assert [(c.name, c.fsm_flag) for c in result.children] == [
        (SEG0, "FSM_NOT_EXECUTED_EXCLUDED"), (SEG1, "FSM_EXECUTED_SUCCESSFULLY")]
    assert result.children[0].excluded
    # The client reports the node's real outcome: it read the status again after the transition.
    assert result.status is not None and result.status.in_error and result.in_error_after
    assert not result.ok
    assert [f.name for f in result.failures()] == [SEG0]
    assert result.summary() == f"{SEG0}: FSM_NOT_EXECUTED_EXCLUDED; {ROOT} is in error"
    assert alice.status().in_error
    assert states(alice) == ("configured", ["initial", "configured"])
    assert sim.texts(ROOT, broadcast_pb2.CHILD_COMMAND_EXECUTION_FAILED) == [
        f"Propagating conf to children ({SEG0}) failed: FSM_NOT_EXECUTED_EXCLUDED"]
    # From now on the root refuses, the way it refuses any transition in error.
    with pytest.raises(DruncFlagError) as refused:
        alice.execute("scrap")
    assert refused.value.flag == "DRUNC_EXCEPTION_THROWN" and f"{ROOT} is in error" in refused.value.text


def test_every_transition_reads_the_status_again(sim, alice):
    result = alice.execute("conf")
    assert result.ok and result.status == NodeStatus(ROOT, "configured", "configured", False, True, False)
    assert result.status_error is None


@pinned_to_08
def test_error_injection_has_no_way_back(sim, alice):
    app = f"{SEG0}-app-1"
    sim.root.inject_error(app)
    assert sim.texts(SEG0, broadcast_pb2.STATUS_UPDATE) == [f"{app} is in error: error injected"]
    result = alice.execute("conf")
    assert result.flag == "EXECUTED_SUCCESSFULLY" and result.fsm_flag == "FSM_EXECUTED_SUCCESSFULLY"
    assert not result.ok and not result.in_error_after  # the root is fine; its segment is not
    # Released 0.8 has no FSM_NOT_EXECUTED_IN_ERROR: an in-error node refuses with DRUNC_EXCEPTION_THROWN.
    assert [(f.name, f.flag) for f in result.failures()] == [(app, "DRUNC_EXCEPTION_THROWN")]
    assert f"{app} is in error" in result.failures()[0].text
    seg0 = sim.client("alice", SEG0)
    assert seg0.status().in_error  # the application's parent
    assert seg0.status().state == "configured"  # it still ran the transition on itself
    assert any(t.startswith(f"{SEG0} is in error") for t in sim.texts(SEG0, broadcast_pb2.STATUS_UPDATE))
    # The in-error segment refuses from now on; that puts the root in error on its next transition.
    with pytest.raises(DruncFlagError) as refused:
        seg0.execute("scrap")
    assert refused.value.flag == "DRUNC_EXCEPTION_THROWN" and "NodeInError" in refused.value.text
    result = alice.execute("start", {"run_number": 1})
    assert [(f.name, f.flag) for f in result.failures()] == [(SEG0, "DRUNC_EXCEPTION_THROWN")]
    assert result.in_error_after and alice.status().in_error
    for transition, arguments, _ in STANDARD_PATH:
        with pytest.raises(DruncFlagError, match="DRUNC_EXCEPTION_THROWN"):
            alice.execute(transition, arguments)
    alice.take_control()
    alice.exclude()
    alice.include()
    assert alice.status().in_error and seg0.status().in_error  # nothing clears the error
    with pytest.raises(NodeInError, match=f"{ROOT} is in error"):
        alice.run_sequence("stop_run")


@pinned_to_08
def test_inject_error_on_controller(sim, alice):
    sim.root.inject_error(SEG1)
    assert [s.in_error for s in alice.children_status()] == [False, True]
    raw = sim.stub(SEG1).execute_fsm_command(make_request("alice", ctl.FSMCommand(command_name="conf")), timeout=5)
    assert raw.flag == request_response_pb2.DRUNC_EXCEPTION_THROWN == 5
    assert not raw.data.Is(ctl.FSMCommandResponse.DESCRIPTOR)  # a Stacktrace, no FSM flag
    with pytest.raises(KeyError):
        sim.root.inject_error("nope")


def test_fail_next_shows_failing_child(sim, alice):
    app = f"{SEG1}-app-0"
    sim.root.fail_next(app, "start")
    assert alice.execute("conf").ok
    result = alice.execute("start", {"run_number": 5})
    assert not result.ok and result.self_ok
    assert [(f.name, f.fsm_flag) for f in result.failures()] == [(app, "FSM_FAILED")]
    assert app in result.summary()
    assert sim.client("alice", SEG1).status().in_error
    assert not alice.status().in_error  # SEG1 itself answered successfully
    children = {s.name: s for s in sim.client("alice", SEG1).children_status()}
    assert children[app].state == "configured" and children[f"{SEG1}-app-1"].state == "ready"
    if sim.layout == "0.8":  # the 0.11 facade routes the propagation itself, without these broadcasts
        assert sim.texts(SEG1, broadcast_pb2.CHILD_COMMAND_EXECUTION_FAILED) == [
            f"Propagating start to children ({app}) failed: FSM_FAILED"]


def test_fail_next_on_controller(sim, alice):
    sim.root.fail_next(SEG0, "conf")
    result = alice.execute("conf")
    assert [(f.name, f.fsm_flag) for f in result.failures()] == [(SEG0, "FSM_FAILED")]
    assert alice.status().in_error
    assert states(alice) == ("configured", ["initial", "configured"])


def test_run_sequences(sim, alice):
    seen = []
    steps = alice.run_sequence("start_run", {"run_number": 12, "run_type": "PROD"}, on_step=seen.append)
    assert [s.transition for s in steps] == list(SEQUENCES["start_run"])
    assert seen == steps and all(s.ok and s.result.ok and not s.skipped for s in steps)
    assert states(alice) == ("running", ["running", "running"])
    steps = alice.run_sequence("stop_run")
    assert [s.transition for s in steps] == list(SEQUENCES["stop_run"]) and all(s.ok for s in steps)
    assert alice.status().state == "configured"
    # From configured, shutdown skips the steps that are not offered and scraps.
    steps = alice.run_sequence("shutdown")
    assert [(s.transition, s.skipped) for s in steps] == [
        ("disable_triggers", True), ("drain_dataflow", True), ("stop_trigger_sources", True), ("stop", True),
        ("scrap", False)]
    assert all(s.ok for s in steps)
    assert states(alice) == ("initial", ["initial", "initial"])


def test_run_sequence_validates_up_front(sim, alice):
    with pytest.raises(InvalidArguments, match="run_number.*mandatory"):
        alice.run_sequence("start_run")
    with pytest.raises(InvalidArguments, match="unknown argument"):
        alice.run_sequence("start_run", {"run_number": 1, "colour": "red"})
    with pytest.raises(InvalidArguments, match="unknown sequence"):
        alice.run_sequence("reboot")
    assert alice.status().state == "initial"  # nothing was sent


def test_run_sequence_stops_at_first_failure(sim, alice):
    sim.root.fail_next(f"{SEG0}-app-0", "start")
    seen = []
    steps = alice.run_sequence("start_run", {"run_number": 3}, on_step=seen.append)
    assert [s.transition for s in steps] == ["conf", "start"]  # enable_triggers never sent
    assert steps[0].ok and not steps[1].ok
    assert f"{SEG0}-app-0: FSM_FAILED" in steps[1].error
    assert steps[1].result.failures()[0].name == f"{SEG0}-app-0"
    assert seen == steps
    assert alice.status().state == "ready"


def test_run_sequence_not_in_control_reports_step(sim):
    steps = sim.client("mallory").run_sequence("start_run", {"run_number": 1})
    assert len(steps) == 1 and steps[0].transition == "conf" and "NOT_IN_CONTROL" in steps[0].error


# ---------------------------------------------------------------------------------------------------------------
# sub-states and broadcasts


@pinned_to_08
def test_sub_states_observed_during_transition(make_sim):
    sim = make_sim(0, 1, transition_seconds=0.7)  # 0.1 s per sub-state step
    client = sim.client("alice")
    client.take_control()
    poller = sim.client("viewer")
    seen: list[NodeStatus] = []
    raw_states: list[str] = []
    done = threading.Event()

    def poll():
        stub = sim.stub()
        while not done.is_set():
            raw_states.append(unpack(stub.get_status(make_request("viewer"), timeout=5).data, ctl.Status).state)
            seen.append(poller.status())
            time.sleep(0.01)

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        assert client.execute("conf").ok
    finally:
        done.set()
        thread.join()
    transitioning = [s for s in seen if s.transitioning]
    sub_states = {s.sub_state for s in transitioning}
    assert {"preparing-conf", "propagating-conf", "finalising-conf"} <= sub_states
    assert {s.state for s in transitioning} == {"initial", "configured"}
    for raw in raw_states:
        match = re.fullmatch(r"(\w+) \(([\w-]+)\)", raw)
        assert match or raw in ("initial", "configured"), raw
    assert "initial (preparing-conf)" in raw_states and "configured (finalising-conf)" in raw_states
    assert client.status() == NodeStatus(ROOT, "configured", "configured", False, True, False)


@pinned_to_08
def test_broadcasts_of_a_transition(sim, alice):
    before = len(sim.broadcaster.records)
    alice.execute("conf")
    assert sim.texts(ROOT, broadcast_pb2.FSM_STATUS_UPDATE) == [
        f"Changing operational_state from {a} to {b}" for a, b in [
            ("initial", "preparing-conf"), ("preparing-conf", "conf-ready"), ("conf-ready", "propagating-conf"),
            ("propagating-conf", "conf-propagated"), ("conf-propagated", "executing-conf"),
            ("executing-conf", "conf-terminated"), ("conf-terminated", "finalising-conf"),
            ("finalising-conf", "configured")]]
    assert len(sim.texts(SEG0, broadcast_pb2.FSM_STATUS_UPDATE)) == 8
    assert sim.texts(ROOT, broadcast_pb2.COMMAND_EXECUTION_START) == ["Propagating conf to children"]
    assert len(sim.texts(ROOT, broadcast_pb2.CHILD_COMMAND_EXECUTION_START)) == 2
    assert len(sim.texts(ROOT, broadcast_pb2.CHILD_COMMAND_EXECUTION_SUCCESS)) == 2
    new = sim.broadcaster.records[before:]
    topics = {topic for topic, _ in new}
    assert topics == {f"control.{SESSION}.{n}" for n in (ROOT, SEG0, SEG1)}
    root_types = [m.type for t, m in new if t == f"control.{SESSION}.{ROOT}"]
    assert root_types[0] == broadcast_pb2.ACK and root_types[-1] == broadcast_pb2.COMMAND_EXECUTION_SUCCESS
    assert "SERVER_READY" in sim.broadcaster.types(ROOT)


# ---------------------------------------------------------------------------------------------------------------
# tree walk


def test_tree_walk_of_10_by_10(make_sim):
    sim = make_sim(10, 10)
    tree = sim.client("viewer").tree()
    nodes = list(tree.walk())
    assert len(nodes) == 1 + 10 + 100
    assert tree.kind == "controller" and tree.address == sim.addresses[ROOT]
    assert [c.name for c in tree.children] == [f"segment-controller-{n}" for n in range(10)]
    assert all(c.kind == "controller" and len(c.children) == 10 and c.address for c in tree.children)
    assert sum(n.kind == "application" for n in nodes) == 100
    assert all(n.status is not None and n.status.state == "initial" and n.error is None for n in nodes)


def test_tree_without_child_addresses_and_with_a_dead_child(sim):
    tree = sim.client("viewer", child_addresses={}).tree()
    if sim.layout == "0.8":  # one controller at a time: below a child only with its address
        assert [(c.name, c.kind, c.children) for c in tree.children] == [(SEG0, "controller", ()),
                                                                        (SEG1, "controller", ())]
    else:  # one status from the root answers for the whole tree
        assert [(c.name, c.kind, len(c.children)) for c in tree.children] == [(SEG0, "controller", 2),
                                                                             (SEG1, "controller", 2)]
    sim.root.make_unreachable(SEG1)  # stops its gRPC server; its parent sees drunc's fallback
    tree = sim.client("viewer", timeout=2.0).tree()
    seg1 = tree.children[1]
    # 0.8: the client's own call to it fails; 0.11: the root's answer for it says why
    assert seg1.name == SEG1 and seg1.error
    assert ("unreachable" if sim.layout == "0.8" else "failed to connect") in seg1.error
    assert seg1.status == NodeStatus(SEG1, "unknown", "unknown", True, False, False)  # the parent's view of it
    assert seg1.status.unreachable
    assert len(tree.children[0].children) == 2


@pinned_to_08
def test_unreachable_child_status_is_drunc_fallback(sim, alice):
    # Issue 11 point 6: drunc's fallback status for a child it cannot reach, over the wire.
    sim.root.make_unreachable(SEG1)
    raw = sim.stub().get_children_status(make_request("viewer"), timeout=5)
    statuses = {s.name: s for s in unpack(raw.data, ctl.ChildrenStatus).children_status}
    fallback = statuses[SEG1]
    assert (fallback.state, fallback.sub_state, fallback.in_error, fallback.included) == (
        "unknown", "unknown", True, False)
    assert [s.unreachable for s in alice.children_status()] == [False, True]
    # Not an exclusion: a reachable excluded child is not "unreachable".
    sim.client("alice", SEG0).exclude()
    seg0 = alice.children_status()[0]
    assert not seg0.included and not seg0.unreachable
    # Propagating to it fails on that child, as a failed gRPC call does.
    result = alice.take_control()
    assert [(c.name, c.flag) for c in result.children] == [(SEG0, "EXECUTED_SUCCESSFULLY"),
                                                           (SEG1, "UNHANDLED_EXCEPTION_THROWN")]



def test_an_unreachable_child_is_restored_on_its_old_address(sim):
    sim.root.make_unreachable(SEG1)
    assert sim.client("viewer", timeout=2.0).tree().children[1].status.unreachable
    sim.root.restore(SEG1)
    deadline = time.monotonic() + 10  # the client's channel reconnects after gRPC's backoff (about a second)
    while (seg1 := sim.client("viewer", timeout=2.0).tree().children[1]).error and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not seg1.error and seg1.status.state == "initial" and not seg1.status.unreachable


def test_exclude_and_include_on_0_11_address_a_subtree_and_are_idempotent(make_sim):
    """drunc 0.13.2 (drunc-protocol-0.11.md §9): include/exclude addressed from the root to a child; excluding an
    excluded node or including an included one is not an error there (0.10.x: CannotExclude / CannotInclude)."""
    sim = make_sim(2, 1)
    if sim.layout == "0.8":
        pytest.skip("0.8 behaviour: test_exclude_and_include_node_and_descendants")
    alice = sim.client("alice")
    alice.take_control()
    assert alice.exclude(target=SEG0).ok and alice.exclude(target=SEG0).ok
    assert [s.included for s in alice.children_status()] == [False, True]
    assert alice.include().ok and alice.include(target=SEG0).ok
    assert all(s.included for s in alice.children_status())
