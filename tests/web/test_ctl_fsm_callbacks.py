"""The Controller page's FSM part through the Flask test client, against the simulator: the tick, the dialog,
inline validation, and transitions and sequences run as background jobs (the test helper polls the job as the
renderer does), with the control check, the lock, the runs table and the audit trail."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from dash_calls import _job_handle, body_for, poll_job, post, server_callbacks
from support import csrf_token

from components import controller_ids as ids
from components import fsm_panel as ui
from store.models import utcnow

DISRUPTIVE = ("stop", "scrap", "stop_run", "shutdown")


def _by_name(app, name):
    return next((k, s) for k, s in server_callbacks(app).items() if s["callback"].__name__ == name)


def _toasts(response) -> str:
    return json.dumps((response.json or {}).get("sideUpdate", {}).get("toasts", ""), ensure_ascii=False)


@pytest.fixture
def shifter(sim_app, logged_in):
    return logged_in(sim_app.server.test_client(), "shifter")


def _take_control(services, user="shifter"):
    services.drunc.controller(user).take_control()
    services.controller_feeds.refresh_now()


def _start(app, client, name, fields=(), values=(), confirmed=True):
    """Post the Run click: the job starts; returns what polling it needs."""
    key, spec = _by_name(app, "run_command")
    pending = {"name": name, "fields": list(fields), "disruptive": name in DISRUPTIVE, "session": ""}
    body = body_for(key, spec, {f"{ui.RUN}.n_clicks": 1, f"{ui.PENDING}.data": pending,
                                f"{ui.CONFIRM}.value": confirmed, f"{ids.SESSION}.data": ""})
    for index, dep in enumerate(spec["state"]):
        if str(dep["id"]).startswith("{"):  # the argument fields: one entry per field, as the renderer sends
            body["state"][index] = [{"id": {"type": ui.ARG, "name": f}, "property": "value", "value": v}
                                    for f, v in zip(fields, values, strict=True)]
    headers = {"X-CSRFToken": csrf_token(client)}
    response = client.post("/_dash-update-component", json=body, headers=headers)
    handle = _job_handle(response)
    assert handle is not None, response.get_data(as_text=True)[:300]
    return body, headers, handle


def _run(app, client, name, fields=(), values=(), confirmed=True):
    body, headers, handle = _start(app, client, name, fields, values, confirmed)
    return poll_job(client, body, headers, handle)


def _tick(app, client, shown=None):
    key, spec = _by_name(app, "fsm_tick")
    return post(client, key, spec, token=csrf_token(client),
                values={f"{ui.TICK}.n_intervals": 1, f"{ids.SESSION}.data": "", f"{ui.VIEW}.data": shown})


def _root(services):
    return services.controller_feeds.refresh_now().root_node


@pytest.mark.parametrize("simulator", ["0.8", "0.11", "0.11-bugs"], indirect=True)
def test_the_tick_draws_the_fsm_and_the_commands_allowed_now_and_then_sends_nothing(sim_app, sim_services, shifter):
    _take_control(sim_services)
    body = _tick(sim_app, shifter).json["response"]
    assert body[ui.STATE]["children"] == "initial"
    elements = body[ui.DIAGRAM]["elements"]
    states = {e["data"]["label"] for e in elements if "source" not in e["data"]}
    assert {"initial", "configured", "ready", "running"} <= states
    current = [e for e in elements if e.get("classes") == "current"]
    assert [e["data"]["label"] for e in current] == ["initial"]
    allowed = [e["data"]["transition"] for e in elements if "allowed" in e.get("classes", "")]
    assert allowed == ["conf"]
    names = [b["props"]["id"]["name"] for b in body[ui.BUTTONS]["children"]]
    assert names == ["start_run", "conf"]
    assert body[ui.LOCK]["data"] == {"held": False, "text": ""}
    again = _tick(sim_app, shifter, body[ui.VIEW]["data"])
    assert again.status_code == 204  # unchanged: nothing sent


def test_buttons_say_why_they_are_disabled(sim_app, sim_services, logged_in):
    viewer = logged_in(sim_app.server.test_client(), "viewer")
    body = _tick(sim_app, viewer).json["response"]
    assert "viewer" in json.dumps(body[ui.REASON]["children"])
    assert all(b["props"]["disabled"] for b in body[ui.BUTTONS]["children"])
    shifter = logged_in(sim_app.server.test_client(), "shifter")
    _take_control(sim_services, "expert")
    body = _tick(sim_app, shifter).json["response"]
    assert "expert is in charge" in json.dumps(body[ui.REASON]["children"])


def test_the_dialog_is_generated_from_the_arguments_with_the_next_run_number(sim_app, sim_services, shifter):
    _take_control(sim_services)
    sim_services.runs.started("elsewhere", number=41)
    key, spec = _by_name(app=sim_app, name="open_dialog")
    pattern = next(i for i in spec["inputs"] if str(i["id"]).startswith("{"))
    response = post(shifter, key, spec, token=csrf_token(shifter),
                    values={f"{pattern['id']}.n_clicks": 1}, triggered=f"{pattern['id']}.n_clicks")
    # the test helper's concrete id names the command "x": not allowed, refused with a reason
    assert "x is not allowed from initial" in _toasts(response)
    body = body_for(key, spec)
    body["inputs"][0] = [{"id": {"type": ui.COMMAND, "name": "start_run"}, "property": "n_clicks", "value": 1}]
    body["changedPropIds"] = ['{"name":"start_run","type":"ctl-fsm-cmd"}.n_clicks']
    out = shifter.post("/_dash-update-component", json=body,
                       headers={"X-CSRFToken": csrf_token(shifter)}).json["response"]
    assert out[ui.MODAL]["is_open"] is True
    pending = out[ui.PENDING]["data"]
    assert pending["name"] == "start_run" and "run_number" in pending["fields"] and "run_type" in pending["fields"]
    form = json.dumps(out[ui.MODAL_BODY]["children"], ensure_ascii=False)
    assert '"value": 42' in form  # the next run number
    assert '"TEST"' in form and '"PROD"' in form  # choices -> a dropdown
    assert "conf → start → enable_triggers" in form


def test_inline_validation_uses_the_clients_rules(sim_app, sim_services, shifter):
    key, spec = _by_name(sim_app, "validate_form")
    pending = {"name": "start", "fields": ["run_number", "run_type", "trigger_rate"], "disruptive": False,
               "session": ""}
    body = body_for(key, spec, {f"{ui.CONFIRM}.value": True, f"{ui.PENDING}.data": pending})
    body["inputs"][0] = [{"id": {"type": ui.ARG, "name": n}, "property": "value", "value": v}
                         for n, v in zip(pending["fields"], ["twelve", "OTHER", 1e39], strict=True)]
    body["outputs"][0] = [{"id": {"type": ui.ARG_ERROR, "name": n}, "property": "children"}
                          for n in pending["fields"]]
    out = shifter.post("/_dash-update-component", json=body,
                       headers={"X-CSRFToken": csrf_token(shifter)}).json["response"]
    errors = [out[json.dumps({"name": n, "type": ui.ARG_ERROR}, separators=(",", ":"))]["children"]
              for n in pending["fields"]]
    assert "must be an integer" in errors[0]
    assert "must be one of TEST, PROD" in errors[1]
    assert "finite 32-bit float" in errors[2]
    assert out[ui.RUN]["disabled"] is True


@pytest.mark.parametrize("simulator", ["0.8", "0.11", "0.11-bugs"], indirect=True)
def test_start_run_stop_run_and_shutdown_record_the_run_and_audit_every_node(sim_app, sim_services, shifter):
    _take_control(sim_services)
    session = sim_services.controller_feeds.default_session
    response = _run(sim_app, shifter, "start_run", ["run_number", "run_type"], [42, "TEST"])
    assert "done" in _toasts(response), _toasts(response)
    assert _root(sim_services)["state"] == "running"
    run = sim_services.runs.current(session)
    assert run.number == 42 and run.run_type == "TEST" and run.started_by == "shifter"
    assert run.arguments == {"run_number": 42, "run_type": "TEST"}
    [event] = sim_services.audit.query(action="controller.sequence")
    assert event.outcome == "ok" and event.username == "shifter" and event.arguments["command"] == "start_run"
    start = next(s for s in event.arguments["steps"] if s["transition"] == "start")
    assert len(start["nodes"]) == len(_root_nodes(sim_services))
    assert all(n["flag"] == "EXECUTED_SUCCESSFULLY" and n["fsm_flag"] == "FSM_EXECUTED_SUCCESSFULLY"
               for n in start["nodes"])
    last = _tick(sim_app, shifter).json["response"][ui.RESULTS]["children"]
    assert "Start run: done" in json.dumps(last)

    response = _run(sim_app, shifter, "stop_run")
    assert "done" in _toasts(response), _toasts(response)
    assert _root(sim_services)["state"] == "configured"
    assert sim_services.runs.current(session) is None
    assert sim_services.runs.recent(session)[0].stopped_by == "shifter"

    response = _run(sim_app, shifter, "shutdown")
    assert _root(sim_services)["state"] == "initial", _toasts(response)
    assert not sim_services.controller_locks.active()


def _root_nodes(services):
    return services.controller_feeds.snapshot().nodes


def test_a_disruptive_transition_needs_its_confirmation(sim_app, sim_services, shifter):
    _take_control(sim_services)
    _run(sim_app, shifter, "conf")
    response = _run(sim_app, shifter, "scrap", confirmed=False)
    assert "confirm it first" in _toasts(response)
    assert _root(sim_services)["state"] == "configured"
    [event] = sim_services.audit.query(action="controller.transition", outcome="failed")
    assert "confirm" in event.detail


@pytest.mark.parametrize("simulator", ["0.8", "0.11", "0.11-bugs"], indirect=True)
def test_a_command_without_control_is_refused_and_never_takes_control(sim_app, sim_services, shifter):
    _take_control(sim_services, "expert")
    response = _run(sim_app, shifter, "conf")
    assert "expert is in charge" in _toasts(response) and "take control first" in _toasts(response)
    assert _root(sim_services)["state"] == "initial"
    assert sim_services.drunc.controller("shifter").who_is_in_charge() == "expert"
    [event] = sim_services.audit.query(username="shifter", action="controller")
    assert event.outcome == "failed" and "expert is in charge" in event.detail


def test_a_viewers_forged_transition_is_refused_and_audited(sim_app, sim_services, logged_in):
    viewer = logged_in(sim_app.server.test_client(), "viewer")
    _take_control(sim_services, "viewer")  # even in control, the permission decides
    response = _run(sim_app, viewer, "conf")
    assert "Not allowed" in _toasts(response)
    assert response.json.get("response", {}) == {}
    assert _root(sim_services)["state"] == "initial"
    [event] = sim_services.audit.query(username="viewer", outcome="denied")
    assert event.action == "controller.transition" and event.detail == "missing permission controller.command"


def test_a_held_lock_refuses_with_its_text_and_an_expired_one_is_replaced(sim_app, sim_services, shifter):
    _take_control(sim_services)
    root = sim_services.controller_feeds.snapshot().root
    held = sim_services.controller_locks.acquire(root, "start", "alice", ttl=300)
    tick = _tick(sim_app, shifter).json["response"]
    assert tick[ui.LOCK]["data"]["held"] and tick[ui.LOCK]["data"]["text"] == held.text()
    assert all(b["props"]["disabled"] for b in tick[ui.BUTTONS]["children"])
    response = _run(sim_app, shifter, "conf")
    assert "transition in progress: start, by alice since" in _toasts(response)
    assert _root(sim_services)["state"] == "initial"
    sim_services.controller_locks.release(held)
    # a crashed worker's lock: expired, so replaced
    sim_services.controller_locks.acquire(root, "start", "alice", ttl=1, now=utcnow() - timedelta(seconds=10))
    response = _run(sim_app, shifter, "conf")
    assert "done" in _toasts(response), _toasts(response)
    assert _root(sim_services)["state"] == "configured"


def _slow(simulator, seconds):
    for node in simulator.root.walk():
        node.transition_seconds = seconds


def test_a_second_transition_is_refused_while_one_runs_and_a_closed_tab_changes_nothing(
        sim_app, sim_services, simulator, shifter, logged_in):
    _take_control(sim_services)
    _slow(simulator, 2.0)
    _start(sim_app, shifter, "start_run", ["run_number"], [7])  # never polled again: the tab was closed
    other = logged_in(sim_app.server.test_client(), "shifter")
    deadline = time.monotonic() + 10
    while not _tick(sim_app, other).json["response"][ui.LOCK]["data"]["held"]:
        assert time.monotonic() < deadline, "the lock was never taken"
        time.sleep(0.1)
    response = _run(sim_app, other, "conf")
    assert "transition in progress: start_run, by shifter since" in _toasts(response)
    progress = _tick(sim_app, other).json["response"][ui.PROGRESS]["children"]
    assert "start_run by shifter" in json.dumps(progress)
    deadline = time.monotonic() + 30
    while sim_services.controller_locks.active():
        assert time.monotonic() < deadline, "the transition never finished"
        time.sleep(0.2)
    assert _root(sim_services)["state"] == "running"
    assert sim_services.runs.current(sim_services.controller_feeds.default_session).number == 7
    events = sim_services.audit.query(action="controller.sequence")
    assert [e.outcome for e in events] == ["ok"]
