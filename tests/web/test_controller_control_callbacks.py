"""The Controller page's control, include/exclude, errors and run-banner callbacks through the Flask test client,
against the simulator (root-controller → segment-controller-0 → 2 applications)."""

from __future__ import annotations

import json

import pytest
from dash_calls import post, server_callbacks
from support import csrf_token

from components import control_panel as cp
from components import controller_ids as ids
from components import run_panel as rp
from drunc_client.controller import ControllerClient

ROOT = "root-controller"
SEG = "root-controller/segment-controller-0"

# Every test on both druncschema layouts; drunc 0.13.2's bugs too where they touch control (the surrender text)
both = pytest.mark.parametrize("simulator", ["0.8", "0.11"], indirect=True)
with_bugs = pytest.mark.parametrize("simulator", ["0.8", "0.11", "0.11-bugs"], indirect=True)


def _callback(app, input_id):
    return next((k, s) for k, s in server_callbacks(app).items() if any(i["id"] == input_id for i in s["inputs"]))


def _call(app, client, input_id, values, triggered):
    key, spec = _callback(app, input_id)
    response = post(client, key, spec, token=csrf_token(client), values=values, triggered=triggered)
    assert response.status_code in (200, 204), response.get_data(as_text=True)[:500]
    assert "Server error" not in response.get_data(as_text=True)
    return response.json if response.status_code == 200 else {}


def _toasts(body) -> str:
    return json.dumps(body.get("sideUpdate", {}).get("toasts", ""), ensure_ascii=False)


def ask(app, client, button, path):
    return _call(app, client, button, {f"{button}.n_clicks": 1, f"{cp.NODE}.value": path,
                                       f"{ids.SESSION}.data": ""}, f"{button}.n_clicks")


def go(app, client, store, request):
    return _call(app, client, store, {f"{store}.data": request, f"{ids.SESSION}.data": ""}, f"{store}.data")


def view(app, client, path=ROOT):
    return _call(app, client, cp.TICK, {f"{cp.TICK}.n_intervals": 1, f"{ids.CHANGED}.data": 0,
                                         f"{ids.SESSION}.data": "", f"{cp.NODE}.value": path,
                                         f"{cp.SHOWN}.data": None}, f"{cp.TICK}.n_intervals")["response"]


def banner(app, client):
    return _call(app, client, rp.TICK, {f"{rp.TICK}.n_intervals": 1, f"{ids.CHANGED}.data": 0,
                                         f"{ids.SESSION}.data": "", f"{rp.SHOWN}.data": None},
                 f"{rp.TICK}.n_intervals")["response"]


@pytest.fixture
def shifter(sim_app, logged_in):
    return logged_in(sim_app.server.test_client(), "shifter")


@pytest.fixture
def as_user(simulator):
    """A drunc client of a controller (root by default) for another user, as drunc's shell would be."""
    def make(user, name="root-controller"):
        return ControllerClient(simulator.controller_addresses[name], user,
                                child_addresses=simulator.controller_addresses)
    return make


def actor(simulator, name="root-controller"):
    return ControllerClient(simulator.controller_addresses[name], "probe").who_is_in_charge()


@both
def test_take_control_when_nobody_is_in_charge_needs_no_confirmation(sim_app, shifter, simulator, sim_services):
    asked = ask(sim_app, shifter, cp.TAKE, ROOT)["response"]
    assert asked[cp.CONFIRM]["is_open"] is False
    request = asked[cp.GO_CONTROL]["data"]
    assert request["action"] == "take" and request["path"] == ROOT
    done = go(sim_app, shifter, cp.GO_CONTROL, request)
    assert "You are in charge of root-controller" in _toasts(done)
    assert actor(simulator) == "shifter" and actor(simulator, "segment-controller-0") == "shifter"
    [event] = sim_services.audit.query(action="controller.take_control")
    assert event.outcome == "ok" and event.arguments["path"] == ROOT
    assert event.arguments["address"] == simulator.controller_addresses["root-controller"]
    shown = view(sim_app, shifter)
    assert "shifter" in json.dumps(shown[cp.WHO]) and shown[cp.SURRENDER]["disabled"] is False
    assert shown[cp.TAKE]["disabled"] is True and "You are in charge" in shown[cp.WHY]["children"]


@both
def test_taking_control_from_someone_else_asks_naming_them(sim_app, shifter, simulator, sim_services, as_user):
    as_user("alice").take_control()
    sim_services.controller_feeds.refresh_now()
    asked = ask(sim_app, shifter, cp.TAKE, ROOT)["response"]
    assert asked[cp.CONFIRM]["is_open"] is True
    assert "alice is in charge of root-controller" in json.dumps(asked[cp.CONFIRM_BODY])
    assert actor(simulator) == "alice", "nothing happens before the confirmation"
    go(sim_app, shifter, cp.GO_CONTROL, asked[cp.PENDING]["data"])
    assert actor(simulator) == "shifter"
    [event] = sim_services.audit.query(action="controller.take_control")
    assert event.arguments["previous"] == "alice" and "from alice" in event.detail


@with_bugs
def test_surrender_clears_the_actor_of_that_controller_only(sim_app, shifter, simulator, sim_services):
    go(sim_app, shifter, cp.GO_CONTROL, {"action": "take", "path": ROOT, "n": 1})
    asked = ask(sim_app, shifter, cp.SURRENDER, ROOT)["response"]
    done = go(sim_app, shifter, cp.GO_CONTROL, asked[cp.GO_CONTROL]["data"])
    assert "does not pass a surrender down" in _toasts(done)
    assert actor(simulator) == "" and actor(simulator, "segment-controller-0") == "shifter"
    assert sim_services.audit.query(action="controller.surrender_control")[0].outcome == "ok"


@pytest.mark.parametrize("simulator", ["0.8"], indirect=True)  # 0.11: through the root (test_controller_011_*)
def test_exclude_then_include_a_segment_on_its_own_address(sim_app, shifter, simulator, sim_services):
    go(sim_app, shifter, cp.GO_CONTROL, {"action": "take", "path": ROOT, "n": 1})
    asked = ask(sim_app, shifter, cp.EXCLUDE, SEG)["response"]
    assert asked[cp.CONFIRM]["is_open"] is True
    listing = json.dumps(asked[cp.CONFIRM_BODY])
    assert "segment-controller-0-app-0" in listing and "segment-controller-0-app-1" in listing
    assert simulator.controller_addresses["segment-controller-0"] in listing
    done = go(sim_app, shifter, cp.GO_INCLUSION, asked[cp.PENDING]["data"])
    assert "Exclude segment-controller-0" in _toasts(done)
    seg = ControllerClient(simulator.controller_addresses["segment-controller-0"], "probe")
    assert seg.status().included is False
    root = ControllerClient(simulator.controller_addresses["root-controller"], "probe")
    assert root.status().included is True, "the exclusion went to the segment's address, not the root's"
    [event] = sim_services.audit.query(action="controller.exclude")
    assert event.outcome == "ok" and event.arguments["count"] == 3 and SEG in event.arguments["nodes"]
    shown = view(sim_app, shifter, SEG)
    assert shown[cp.INCLUDE]["disabled"] is False and shown[cp.EXCLUDE]["disabled"] is True
    asked = ask(sim_app, shifter, cp.INCLUDE, SEG)["response"]
    go(sim_app, shifter, cp.GO_INCLUSION, asked[cp.PENDING]["data"])
    assert seg.status().included is True


@both
def test_a_command_without_control_is_refused_saying_who_is_in_charge(sim_app, shifter, simulator, sim_services,
                                                                      as_user):
    as_user("alice").take_control()
    sim_services.controller_feeds.refresh_now()
    refused = ask(sim_app, shifter, cp.EXCLUDE, SEG)
    # 0.8 asks the segment itself; 0.11 goes through the root and names the first controller on the way
    first = "segment-controller-0" if simulator.config.schema == "0.8" else "root-controller"
    assert f"alice is in charge of {first}; take control first." in _toasts(refused)
    assert "response" not in refused or refused["response"].get(cp.CONFIRM, {}).get("is_open") is not True
    forged = go(sim_app, shifter, cp.GO_INCLUSION, {"action": "exclude", "path": SEG, "n": 2})
    assert "alice is in charge" in _toasts(forged)
    seg = ControllerClient(simulator.controller_addresses["segment-controller-0"], "probe")
    assert seg.status().included is True
    [event] = sim_services.audit.query(action="controller.exclude")
    assert event.outcome == "failed" and "take control first" in event.detail


@pytest.mark.parametrize("simulator", ["0.8"], indirect=True)  # 0.11 can: test_controller_011_callbacks
def test_an_application_is_not_excluded_alone(sim_app, shifter, sim_services):
    go(sim_app, shifter, cp.GO_CONTROL, {"action": "take", "path": ROOT, "n": 1})
    refused = ask(sim_app, shifter, cp.EXCLUDE, SEG + "/segment-controller-0-app-1")
    assert "cannot exclude one application" in _toasts(refused)


@both
def test_a_viewers_forged_take_control_is_refused_and_audited(sim_app, logged_in, simulator, sim_services):
    viewer = logged_in(sim_app.server.test_client(), "viewer")
    forged = go(sim_app, viewer, cp.GO_CONTROL, {"action": "take", "path": ROOT, "n": 1})
    assert "Not allowed" in _toasts(forged)
    assert actor(simulator) == "controller_init_token"
    [event] = sim_services.audit.query(action="controller.take_control")
    assert event.username == "viewer" and event.outcome == "denied" and event.target == ROOT
    shown = view(sim_app, viewer)
    assert all(shown[b]["disabled"] is True for b in (cp.TAKE, cp.SURRENDER, cp.INCLUDE, cp.EXCLUDE))


@both
def test_buttons_are_disabled_with_the_text_of_a_transition_in_progress(sim_app, shifter, simulator, sim_services):
    lock = sim_services.controller_locks.acquire(simulator.addresses["controller"], "start", "bob")
    assert lock is not None
    shown = view(sim_app, shifter)
    assert all(shown[b]["disabled"] is True for b in (cp.TAKE, cp.SURRENDER, cp.INCLUDE, cp.EXCLUDE))
    assert shown[cp.WHY]["children"].startswith("transition in progress: start, by bob since ")
    refused = go(sim_app, shifter, cp.GO_CONTROL, {"action": "take", "path": ROOT, "n": 1})
    assert "transition in progress" in _toasts(refused)
    assert actor(simulator) == "controller_init_token"


@both
def test_an_excluded_segment_then_a_transition_puts_the_root_in_error_with_the_recovery(
        sim_app, shifter, simulator, sim_services, as_user):
    alice = as_user("alice")
    alice.take_control()
    as_user("alice", "segment-controller-0").exclude()
    result = alice.execute("conf")
    sim_services.controller_feeds.refresh_now()
    shown = view(sim_app, shifter)
    errors = json.dumps(shown[cp.ERRORS_BODY])
    if simulator.config.schema == "0.11":
        # drunc 0.13.2 (drunc-protocol-0.11.md §9): the root alone transitions and is not in error
        assert result.ok and not alice.status().in_error and alice.status().state == "configured"
        assert "root-controller" not in errors
        return
    assert "root-controller" in errors and "No drunc 0.10.x command clears an error" in errors
    assert "/process-manager?q=root-controller" in errors


@both
def test_a_run_started_and_stopped_outside_is_recorded_from_the_state_change(sim_app, shifter, sim_services,
                                                                             as_user):
    alice = as_user("alice")
    alice.take_control()
    assert all(s.ok for s in alice.run_sequence("start_run", {"run_number": 42}))
    sim_services.controller_feeds.refresh_now()
    shown = banner(sim_app, shifter)
    text = json.dumps(shown)
    assert "started outside this UI" in text and "running since" in text and "alice is in charge" in text
    run = sim_services.runs.current(sim_services.controller_feeds.default_session)
    assert run is not None and run.source == "outside" and run.number is None
    banner(sim_app, shifter)  # idempotent: a second tick records nothing more
    assert len(sim_services.runs.recent()) == 1
    assert all(s.ok for s in alice.run_sequence("stop_run"))
    sim_services.controller_feeds.refresh_now()
    text = json.dumps(banner(sim_app, shifter))
    assert "no run" in text
    [closed] = sim_services.runs.recent()
    assert closed.stopped_at is not None and "stopped outside this UI" in closed.detail


@both
def test_no_outside_run_is_recorded_while_this_uis_transition_holds_the_lock(sim_app, shifter, simulator,
                                                                           sim_services, as_user):
    alice = as_user("alice")
    alice.take_control()
    sim_services.controller_locks.acquire(simulator.addresses["controller"], "start_run", "alice")
    alice.run_sequence("start_run", {"run_number": 43})
    sim_services.controller_feeds.refresh_now()
    assert "transition in progress" in json.dumps(banner(sim_app, shifter))
    assert sim_services.runs.recent() == []
