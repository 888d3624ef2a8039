"""The Controller page on a druncschema 0.11 root (the simulator as drunc 0.13.2, with and without its bugs):
include / exclude of a subtree node addressed through the root with a target, the layout shown in the header,
and the expert actions (recompute_status, execute_expert_command) behind controller.expert."""

from __future__ import annotations

import json

import pytest
from dash_calls import _job_handle, body_for, poll_job, post, server_callbacks
from support import csrf_token
from test_controller_control_callbacks import ROOT, SEG, _call, _toasts, ask, go, view

from components import control_panel as cp
from components import controller_ids as ids
from components import controller_session as header_ids
from components import fsm_panel as ui
from drunc_client.controller import ControllerClient

APP = SEG + "/segment-controller-0-app-1"
LAYOUTS = pytest.mark.parametrize("simulator", ["0.11", "0.11-bugs"], indirect=True)


@pytest.fixture
def shifter(sim_app, logged_in):
    return logged_in(sim_app.server.test_client(), "shifter")


def probe(simulator, name="root-controller"):
    return ControllerClient(simulator.controller_addresses[name], "probe")


def seg_row(sim_services):
    return next(n for n in sim_services.controller_feeds.refresh_now().nodes if n["path"] == SEG)


@LAYOUTS
def test_a_segment_is_excluded_and_included_through_the_root_with_its_path_as_target(
        sim_app, shifter, simulator, sim_services):
    assert sim_services.controller_feeds.refresh_now().schema == "0.11"
    go(sim_app, shifter, cp.GO_CONTROL, {"action": "take", "path": ROOT, "n": 1})
    asked = ask(sim_app, shifter, cp.EXCLUDE, SEG)["response"]
    assert asked[cp.CONFIRM]["is_open"] is True
    body = json.dumps(asked[cp.CONFIRM_BODY])
    root_address = simulator.controller_addresses["root-controller"]
    assert f"sent through root-controller at {root_address} with target {SEG}" in body
    assert "segment-controller-0-app-0" in body and "does not go into error" in body
    done = go(sim_app, shifter, cp.GO_INCLUSION, asked[cp.PENDING]["data"])
    assert "Exclude segment-controller-0" in _toasts(done)
    assert seg_row(sim_services)["included"] is False
    assert probe(simulator).status().included is True, "the root itself stays included"
    [event] = sim_services.audit.query(action="controller.exclude")
    assert event.outcome == "ok" and event.target == f"segment-controller-0 through root-controller ({root_address})"
    assert event.arguments["target"] == SEG and event.arguments["through"] == "root-controller"
    assert event.arguments["schema"] == "0.11" and event.arguments["count"] == 3
    shown = view(sim_app, shifter, SEG)
    assert shown[cp.INCLUDE]["disabled"] is False and shown[cp.EXCLUDE]["disabled"] is True
    asked = ask(sim_app, shifter, cp.INCLUDE, SEG)["response"]
    go(sim_app, shifter, cp.GO_INCLUSION, asked[cp.PENDING]["data"])
    assert seg_row(sim_services)["included"] is True


@pytest.mark.parametrize("simulator", ["0.11"], indirect=True)
def test_one_application_can_be_excluded_alone_through_the_root(sim_app, shifter, simulator, sim_services):
    go(sim_app, shifter, cp.GO_CONTROL, {"action": "take", "path": ROOT, "n": 1})
    shown = view(sim_app, shifter, APP)
    assert shown[cp.EXCLUDE]["disabled"] is False and "go through root-controller" in shown[cp.WHY]["children"]
    asked = ask(sim_app, shifter, cp.EXCLUDE, APP)["response"]
    assert f"with target {APP}" in json.dumps(asked[cp.CONFIRM_BODY])
    go(sim_app, shifter, cp.GO_INCLUSION, asked[cp.PENDING]["data"])
    rows = {n["path"]: n for n in sim_services.controller_feeds.refresh_now().nodes}
    assert rows[APP]["included"] is False and rows[SEG + "/segment-controller-0-app-0"]["included"] is True


@pytest.mark.parametrize("simulator", ["0.11"], indirect=True)
def test_a_targeted_exclusion_needs_control_of_every_controller_on_the_way(sim_app, shifter, simulator,
                                                                           sim_services):
    go(sim_app, shifter, cp.GO_CONTROL, {"action": "take", "path": ROOT, "n": 1})
    ControllerClient(simulator.controller_addresses["segment-controller-0"], "alice").take_control()
    sim_services.controller_feeds.refresh_now()
    refused = ask(sim_app, shifter, cp.EXCLUDE, APP)
    assert "alice is in charge of segment-controller-0; take control first." in _toasts(refused)
    forged = go(sim_app, shifter, cp.GO_INCLUSION, {"action": "exclude", "path": APP, "n": 2})
    assert "alice is in charge of segment-controller-0" in _toasts(forged)
    rows = {n["path"]: n for n in sim_services.controller_feeds.refresh_now().nodes}
    assert rows[APP]["included"] is True
    [event] = sim_services.audit.query(action="controller.exclude")
    assert event.outcome == "failed" and event.arguments["target"] == APP


@pytest.mark.parametrize("simulator", ["0.8", "0.11"], indirect=True)
def test_the_header_shows_the_roots_layout(sim_app, shifter, simulator, sim_services, request):
    sim_services.controller_feeds.refresh_now()
    out = _call(sim_app, shifter, header_ids.TICK, {f"{header_ids.TICK}.n_intervals": 1, f"{ids.SESSION}.data": "",
                                                    f"{ids.CHANGED}.data": 0, f"{header_ids.VERSION}.data": None,
                                                    f"{header_ids.REFRESH}.value": "1"},
                f"{header_ids.TICK}.n_intervals")["response"]
    layout = request.node.callspec.params["simulator"]
    assert out[header_ids.STATUS]["children"].endswith(f" · druncschema {layout}")


# ------------------------------------------------------------------------------------ transitions on a subtree


def _by_name(app, name):
    return next((k, s) for k, s in server_callbacks(app).items() if s["callback"].__name__ == name)


def fsm_tick(app, client, target=None):
    key, spec = _by_name(app, "fsm_tick")
    return post(client, key, spec, token=csrf_token(client), values={
        f"{ui.TICK}.n_intervals": 1, f"{ids.SESSION}.data": "", f"{ui.TARGET}.value": target,
        f"{ui.VIEW}.data": None}).json["response"]


def open_dialog(app, client, name, target):
    key, spec = _by_name(app, "open_dialog")
    body = body_for(key, spec, {f"{ids.SESSION}.data": "", f"{ui.TARGET}.value": target})
    body["inputs"][0] = [{"id": {"type": ui.COMMAND, "name": name}, "property": "n_clicks", "value": 1}]
    body["changedPropIds"] = [f'{{"name":"{name}","type":"{ui.COMMAND}"}}.n_clicks']
    return client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": csrf_token(client)})


def run(app, client, name, target, confirmed=True):
    key, spec = _by_name(app, "run_command")
    pending = {"name": name, "fields": [], "disruptive": name in ("stop", "scrap"), "session": "",
               "target": target}
    body = body_for(key, spec, {f"{ui.RUN}.n_clicks": 1, f"{ui.PENDING}.data": pending,
                                f"{ui.CONFIRM}.value": confirmed, f"{ids.SESSION}.data": ""})
    headers = {"X-CSRFToken": csrf_token(client)}
    response = client.post("/_dash-update-component", json=body, headers=headers)
    handle = _job_handle(response)
    assert handle is not None, response.get_data(as_text=True)[:300]
    return poll_job(client, body, headers, handle)


def states(sim_services):
    return {n["path"]: n["state"] for n in sim_services.controller_feeds.refresh_now().nodes}


@LAYOUTS
def test_a_transition_is_addressed_to_a_segment_through_the_root(sim_app, shifter, simulator, sim_services):
    sim_services.drunc.controller("shifter").take_control()
    sim_services.controller_feeds.refresh_now()
    tick = fsm_tick(sim_app, shifter, SEG)
    assert tick[ui.TARGET_WRAP]["style"] == {"display": "flex"}
    assert [o["value"] for o in tick[ui.TARGET]["options"]] == [ROOT, SEG]
    assert tick[ui.TARGET]["value"] == SEG and "with target " + SEG in json.dumps(tick[ui.REASON])
    buttons = json.dumps(tick[ui.BUTTONS])
    assert '"conf"' in buttons and "Start run" not in buttons, "sequences are whole-tree commands"
    dialog = open_dialog(sim_app, shifter, "conf", SEG).json["response"]
    assert "segment-controller-0 through root-controller" in json.dumps(dialog[ui.MODAL_BODY])
    assert "segment-controller-0-app-1" in json.dumps(dialog[ui.MODAL_BODY]), "the nodes reached are listed"
    assert dialog[ui.PENDING]["data"]["target"] == SEG

    response = run(sim_app, shifter, "conf", SEG)
    assert "done" in json.dumps(response.json.get("sideUpdate", {})), response.get_data(as_text=True)[:500]
    after = states(sim_services)
    assert after[SEG] == "configured" and after[ROOT] == "initial", "only the subtree transitioned"
    [event] = sim_services.audit.query(action="controller.transition")
    assert event.outcome == "ok" and event.arguments["target"] == SEG and event.arguments["through"] == ROOT
    assert event.target.startswith("segment-controller-0 through root-controller")
    assert sim_services.runs.current(sim_services.controller_feeds.default_session) is None
    tick = fsm_tick(sim_app, shifter, SEG)
    assert tick[ui.STATE]["children"] == "configured" and '"start"' in json.dumps(tick[ui.BUTTONS])
    root_tick = fsm_tick(sim_app, shifter, ROOT)
    assert root_tick[ui.STATE]["children"] == "initial"


@pytest.mark.parametrize("simulator", ["0.11"], indirect=True)
def test_a_targeted_transition_refuses_an_excluded_segment_and_a_forged_sequence(sim_app, shifter, simulator,
                                                                                 sim_services):
    sim_services.drunc.controller("shifter").take_control()
    sim_services.drunc.controller("shifter").exclude(SEG)
    sim_services.controller_feeds.refresh_now()
    tick = fsm_tick(sim_app, shifter, SEG)
    assert "excluded: include it first" in json.dumps(tick[ui.REASON])
    refused = run(sim_app, shifter, "conf", SEG)
    assert "excluded: include it first" in json.dumps(refused.json.get("sideUpdate", {}))
    sim_services.drunc.controller("shifter").include(SEG)
    sim_services.controller_feeds.refresh_now()
    refused = run(sim_app, shifter, "start_run", SEG)
    assert "whole-tree sequence" in json.dumps(refused.json.get("sideUpdate", {}))
    assert set(states(sim_services).values()) == {"initial"}


@pytest.mark.parametrize("simulator", ["0.8"], indirect=True)
def test_a_08_root_has_no_target_picker_and_refuses_a_forged_target(sim_app, shifter, simulator, sim_services):
    sim_services.drunc.controller("shifter").take_control()
    sim_services.controller_feeds.refresh_now()
    tick = fsm_tick(sim_app, shifter, SEG)
    assert tick[ui.TARGET_WRAP]["style"] == {"display": "none"} and tick[ui.TARGET]["options"] == []
    refused = run(sim_app, shifter, "conf", SEG)
    assert "druncschema 0.8 root" in json.dumps(refused.json.get("sideUpdate", {}))
    assert set(states(sim_services).values()) == {"initial"}


# ------------------------------------------------------------------------------------------- expert actions

from components import expert_panel as xp  # noqa: E402 - the section's own ids


@pytest.fixture
def admin(sim_app, logged_in):
    return logged_in(sim_app.server.test_client(), "admin")


def expert_state(app, client):
    return _call(app, client, xp.TICK, {f"{xp.TICK}.n_intervals": 1, f"{ids.CHANGED}.data": 0,
                                        f"{ids.SESSION}.data": ""}, f"{xp.TICK}.n_intervals")


def ask_expert(app, client, button, raw=""):
    return _call(app, client, button, {f"{button}.n_clicks": 1, f"{xp.JSON}.value": raw,
                                       f"{ids.SESSION}.data": ""}, f"{button}.n_clicks")


def run_expert(app, client, request):
    return _call(app, client, xp.CONFIRM_OK, {f"{xp.CONFIRM_OK}.n_clicks": 1, f"{xp.PENDING}.data": request,
                                              f"{ids.SESSION}.data": ""}, f"{xp.CONFIRM_OK}.n_clicks")


@LAYOUTS
def test_recompute_status_is_an_expert_action_behind_a_warning_and_audited(sim_app, admin, simulator,
                                                                         sim_services):
    sim_services.drunc.controller("admin").take_control()
    sim_services.controller_feeds.refresh_now()
    state = expert_state(sim_app, admin)["response"]
    assert state[xp.RECOMPUTE]["disabled"] is False and state[xp.SEND]["disabled"] is False
    asked = ask_expert(sim_app, admin, xp.RECOMPUTE)["response"]
    assert asked[xp.CONFIRM]["is_open"] is True
    warning = json.dumps(asked[xp.CONFIRM_BODY])
    assert "drunc 0.13.2" in warning and "in error for good" in warning
    assert not sim_services.audit.query(action="controller.recompute_status"), "nothing is sent before Confirm"
    done = run_expert(sim_app, admin, asked[xp.PENDING]["data"])
    assert "Recompute status: root-controller" in _toasts(done)
    [event] = sim_services.audit.query(action="controller.recompute_status")
    assert event.outcome == "ok" and event.username == "admin" and event.arguments["schema"] == "0.11"
    assert event.target.startswith("root-controller (")


@pytest.mark.parametrize("simulator", ["0.11"], indirect=True)
def test_expert_actions_are_refused_and_audited_without_the_permission(sim_app, shifter, simulator, sim_services):
    sim_services.drunc.controller("shifter").take_control()
    sim_services.controller_feeds.refresh_now()
    assert "needs the permission “controller.expert”" in _toasts(ask_expert(sim_app, shifter, xp.RECOMPUTE))
    forged = run_expert(sim_app, shifter, {"action": "recompute", "json": "", "n": 1})
    assert "needs the permission “controller.expert”" in _toasts(forged)
    [event] = sim_services.audit.query(action="controller.recompute_status")
    assert event.outcome == "denied" and event.username == "shifter"
    assert "controller.expert" in sim_services.users.list_roles()[0].permissions  # admin, listed first


@pytest.mark.parametrize("simulator", ["0.11"], indirect=True)
def test_an_expert_command_is_validated_json_and_audited(sim_app, admin, simulator, sim_services):
    sim_services.drunc.controller("admin").take_control()
    sim_services.controller_feeds.refresh_now()
    assert "not valid JSON: Expecting" in _toasts(ask_expert(sim_app, admin, xp.SEND, '{"command": '))
    assert "must be a JSON object" in _toasts(ask_expert(sim_app, admin, xp.SEND, "[1, 2]"))
    asked = ask_expert(sim_app, admin, xp.SEND, '{"command": "dump"}')["response"]
    assert '{\\"command\\": \\"dump\\"}' in json.dumps(asked[xp.CONFIRM_BODY])
    forged = run_expert(sim_app, admin, {"action": "expert", "json": "{oops", "n": 2})
    assert "not valid JSON" in _toasts(forged)
    done = run_expert(sim_app, admin, asked[xp.PENDING]["data"])
    assert "propagated the expert command" in _toasts(done)
    events = sim_services.audit.query(action="controller.expert_command")
    assert [e.outcome for e in events] == ["ok", "failed"]
    assert events[0].arguments["json"] == '{"command": "dump"}'


@pytest.mark.parametrize("simulator", ["0.8"], indirect=True)
def test_expert_actions_are_disabled_with_the_reason_on_a_08_root(sim_app, admin, simulator, sim_services):
    sim_services.drunc.controller("admin").take_control()
    sim_services.controller_feeds.refresh_now()
    state = expert_state(sim_app, admin)["response"]
    assert state[xp.RECOMPUTE]["disabled"] is True and "druncschema 0.8" in state[xp.WHY]["children"]
    forged = run_expert(sim_app, admin, {"action": "recompute", "json": "", "n": 1})
    assert "Not sent: drunc 0.10.x" in _toasts(forged)
    [event] = sim_services.audit.query(action="controller.recompute_status")
    assert event.outcome == "failed"
