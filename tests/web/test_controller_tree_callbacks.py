"""The Controller page's tree and session callbacks through the Flask test client, against the simulator."""

from __future__ import annotations

import json

import pytest
from dash_calls import post, server_callbacks
from support import csrf_token, make_services, make_settings

from components import controller_ids as shared
from components import controller_session as ids
from components import controller_tree as tree_ids


def _callback(app, input_id):
    return next((k, s) for k, s in server_callbacks(app).items() if any(i["id"] == input_id for i in s["inputs"]))


def _tick(app, client, session, shown=None, refresh="1"):
    key, spec = _callback(app, ids.TICK)
    response = post(client, key, spec, token=csrf_token(client),
                    values={f"{ids.TICK}.n_intervals": 1, f"{shared.SESSION}.data": session,
                            f"{ids.VERSION}.data": shown, f"{ids.REFRESH}.value": refresh},
                    triggered=f"{ids.TICK}.n_intervals")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response


@pytest.fixture
def viewer(sim_app, logged_in):
    return logged_in(sim_app.server.test_client(), "viewer")


def test_first_tick_sends_the_tree_then_an_unchanged_one_only_the_time(sim_app, sim_services, viewer):
    session = sim_services.drunc.csc_session
    body = _tick(sim_app, viewer, session).json["response"]
    rows = body[tree_ids.GRID]["rowData"]
    assert [r["name"] for r in rows][:2] == ["root-controller", "segment-controller-0"] and len(rows) == 4
    assert rows[0]["badge"] and rows[0]["state"] == "initial"
    assert body[tree_ids.COUNT]["children"] == "4 nodes · 0 running · 0 in error"
    assert body[ids.NOT_REGISTERED]["is_open"] is False and body[ids.BANNER]["is_open"] is False
    shown = body[ids.VERSION]["data"]
    response = _tick(sim_app, viewer, session, shown)
    assert list(response.json["response"]) == [ids.STATUS]
    assert len(response.get_data()) <= 200, response.get_data()


def test_a_transition_arrives_as_a_delta(sim_app, sim_services, viewer):
    session = sim_services.drunc.csc_session
    shown = _tick(sim_app, viewer, session).json["response"][ids.VERSION]["data"]
    client = sim_services.drunc.controller("tester", session=session)
    client.take_control()
    client.execute("conf")
    sim_services.controller_feeds.refresh_now(session)
    body = _tick(sim_app, viewer, session, shown).json["response"]
    transaction = body[tree_ids.GRID]["rowTransaction"]
    assert {r["state"] for r in transaction["update"]} == {"configured"} and len(transaction["update"]) == 4
    assert body[ids.VERSION]["data"]["v"] == shown["v"] + 1


def test_an_unreachable_root_greys_the_last_tree_with_a_banner(sim_app, sim_services, simulator, viewer):
    session = sim_services.drunc.csc_session
    shown = _tick(sim_app, viewer, session).json["response"][ids.VERSION]["data"]
    simulator.servers[1].stop(0).wait()
    sim_services.controller_feeds.refresh_now(session)
    body = _tick(sim_app, viewer, session, shown).json["response"]
    assert body[ids.BANNER]["is_open"] is True and "unreachable" in json.dumps(body[ids.BANNER]["children"])
    assert "rc-stale" in body[tree_ids.GRID_WRAP]["className"] and "rc-live-failed" in body[ids.LIVE]["className"]
    assert body[ids.STATUS]["children"].startswith("update failed")


def test_choosing_a_session_writes_the_store_and_the_url(sim_app, viewer):
    key, spec = _callback(sim_app, ids.SESSION_INPUT)
    body = post(viewer, key, spec, token=csrf_token(viewer),
                values={f"{ids.SESSION_INPUT}.value": " np04 ", f"{ids.REFRESH}.value": "5",
                        f"{shared.SESSION}.data": "local-1x1-config"},
                triggered=f"{ids.SESSION_INPUT}.value").json
    assert body["response"][shared.SESSION]["data"] == "np04"
    assert body["response"][ids.URL_SYNC]["data"] == {"session": "np04", "refresh": "5"}

    bad = post(viewer, key, spec, token=csrf_token(viewer),
               values={f"{ids.SESSION_INPUT}.value": "no such; name", f"{ids.REFRESH}.value": "1"},
               triggered=f"{ids.SESSION_INPUT}.value")
    assert bad.status_code == 200 and "is not a session name" in bad.get_data(as_text=True)


def test_the_picker_offers_the_process_managers_sessions(sim_app, sim_services, viewer):
    sim_services.process_feed.refresh_now()
    key, spec = next((k, s) for k, s in server_callbacks(sim_app).items() if ids.SESSION_LIST in k)
    body = post(viewer, key, spec, token=csrf_token(viewer), values={f"{shared.SESSION}.data": "x"}).json
    offered = {o["props"]["value"] for o in body["response"][ids.SESSION_LIST]["children"]}
    assert offered == {"demo-session", "local-1x1-config", "x"}


@pytest.fixture
def csc_app(tmp_path, logged_in):
    from app import create_app
    from simulator.run import SimulatorConfig, start_simulator

    sim = start_simulator(SimulatorConfig(segments=1, apps=1, session="booted", connectivity_port=0,
                                          log_dir=tmp_path / "sim-logs"))
    settings = make_settings(tmp_path, csc_url=f"http://{sim.addresses['connectivity']}", csc_session="booted")
    services = make_services(settings)
    app = create_app(settings, services)
    yield app, logged_in(app.server.test_client(), "viewer")
    services.close()
    sim.stop(0)


def test_a_session_not_registered_says_so(csc_app):
    app, viewer = csc_app
    body = _tick(app, viewer, "never-booted").json["response"]
    assert body[ids.NOT_REGISTERED]["is_open"] is True
    assert "not registered in the connectivity service" in json.dumps(body[ids.NOT_REGISTERED]["children"])
    assert body[ids.BANNER]["is_open"] is False and body[tree_ids.GRID]["rowData"] == []
    booted = _tick(app, viewer, "booted", body[ids.VERSION]["data"]).json["response"]
    assert len(booted[tree_ids.GRID]["rowData"]) == 3 and booted[ids.NOT_REGISTERED]["is_open"] is False
