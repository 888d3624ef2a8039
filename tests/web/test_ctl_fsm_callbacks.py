"""The Controller page's FSM part through the Flask test client, against the simulator: the tick, the dialog,
inline validation, and transitions and sequences run as background jobs (the test helper polls the job as the
renderer does), with the lock, the runs table and the audit trail."""

from __future__ import annotations

import json

import pytest
from dash_calls import post, server_callbacks
from support import csrf_token

from components import controller_ids as ids
from components import fsm_panel as ui


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


def _run(app, client, name, fields=(), values=(), confirmed=True, session=""):
    key, spec = _by_name(app, "run_command")
    pending = {"name": name, "fields": list(fields), "disruptive": name in ("stop", "scrap", "stop_run", "shutdown"),
               "session": session}
    state_values = {f"{ui.RUN}.n_clicks": 1, f"{ui.PENDING}.data": pending,
                    f"{ui.CONFIRM}.value": confirmed, f"{ids.SESSION}.data": session}
    # the ALL state: the body carries one entry per field
    from dash_calls import body_for

    body = body_for(key, spec, state_values)
    for dep_index, dep in enumerate(body["state"]):
        if str(dep["id"]).startswith("{"):
            body["state"][dep_index] = [{"id": {"type": ui.ARG, "name": f}, "property": "value", "value": v}
                                        for f, v in zip(fields, values, strict=True)]
    from dash_calls import _job_handle, poll_job

    headers = {"X-CSRFToken": csrf_token(client)}
    response = client.post("/_dash-update-component", json=body, headers=headers)
    handle = _job_handle(response)
    assert handle is not None, response.get_data(as_text=True)[:300]
    return poll_job(client, body, headers, handle)


def _root_state(services):
    return services.controller_feeds.refresh_now().root_node["state"]


def test_start_run_then_stop_run_through_background_jobs(sim_app, sim_services, shifter):
    _take_control(sim_services)
    response = _run(sim_app, shifter, "start_run", ["run_number", "run_type"], [42, "TEST"])
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert "done" in _toasts(response), _toasts(response)
    assert _root_state(sim_services) == "running"
    run = sim_services.runs.current(sim_services.controller_feeds.default_session)
    assert run is not None and run.number == 42 and run.run_type == "TEST" and run.started_by == "shifter"
    [event] = sim_services.audit.query(action="controller.sequence")
    assert event.outcome == "ok" and event.username == "shifter"
    nodes = event.arguments["steps"][1]["nodes"]
    assert nodes and all(n["flag"] == "EXECUTED_SUCCESSFULLY" for n in nodes)

    response = _run(sim_app, shifter, "stop_run")
    assert "done" in _toasts(response), _toasts(response)
    assert _root_state(sim_services) == "configured"
    assert sim_services.runs.current(sim_services.controller_feeds.default_session) is None
