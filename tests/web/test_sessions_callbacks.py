"""Sessions page callbacks against the simulator (with its connectivity service): save a configuration, boot a
session from it, terminate one session leaving the other's processes, take control of a root, refusals."""

from __future__ import annotations

import json
import time

import pytest
from dash_calls import post, server_callbacks
from support import csrf_token, make_services, make_settings

from components import boot_configs as cfg
from components import sessions_page as ui

SESSION = "booted"
PLAN = {"processes": [
    {"name": "s2-a", "session": "s2", "executable": "sleep", "arguments": ["600"], "tree_id": "1.1.1"},
    {"name": "s2-b", "session": "s2", "executable": "sleep", "arguments": ["600"], "environment": {"X": "1"}},
]}


@pytest.fixture
def env(tmp_path, logged_in):
    from app import create_app
    from simulator.run import SimulatorConfig, start_simulator

    sim = start_simulator(SimulatorConfig(processes=2, segments=1, apps=1, session=SESSION, connectivity_port=0,
                                          log_dir=tmp_path / "sim-logs"))
    settings = make_settings(tmp_path, process_manager_url=sim.addresses["process_manager"],
                             session_manager_url=sim.addresses["session_manager"],
                             csc_url=f"http://{sim.addresses['connectivity']}", csc_session=SESSION)
    services = make_services(settings)
    app = create_app(settings, services)
    yield app, services, lambda user: logged_in(app.server.test_client(), user)
    services.close()
    sim.stop(0)


def call(app, client, input_id, values, prop="n_clicks"):
    key, spec = next((k, s) for k, s in server_callbacks(app).items() if any(i["id"] == input_id and
                                                                              i["property"] == prop
                                                                              for i in s["inputs"]))
    response = post(client, key, spec, token=csrf_token(client), values={f"{input_id}.{prop}": 1, **values},
                    triggered=f"{input_id}.{prop}")
    assert response.status_code in (200, 204), response.get_data(as_text=True)[:500]
    return response.json if response.status_code == 200 else {}


def toasts(body) -> str:
    return json.dumps((body or {}).get("sideUpdate", {}).get("toasts", ""))


def sessions_of(services) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in services.drunc.process_manager("t").ps():
        out.setdefault(p.session, []).append(p.uuid)
    return out


def save(app, client, name="two", plan=PLAN):
    return call(app, client, cfg.SAVE, {f"{cfg.EDIT_NAME}.value": name, f"{cfg.EDIT_TEXT}.value": json.dumps(plan),
                                        f"{cfg.EDIT_COMMENT}.value": "first"})


def boot(app, client, name="two", session="s2"):
    body = call(app, client, ui.BOOT_CONFIG, {f"{ui.BOOT_CONFIG}.value": name,
                                              f"{ui.BOOT_SESSION}.value": session}, prop="value")
    plan = body["response"][ui.BOOT_PLAN]["data"]
    assert body["response"][ui.BOOT_GO]["disabled"] is False
    return call(app, client, ui.BOOT_GO, {f"{ui.BOOT_PLAN}.data": plan})


def test_boot_a_session_from_a_configuration_then_terminate_it_alone(env):
    app, services, login = env
    expert = login("expert")
    assert "Saved two" in toasts(save(app, expert))
    assert services.boot_configs.get("two").created_by == "expert"
    body = boot(app, expert)
    assert "Booted s2-a" in toasts(body) and "Booted s2-b" in toasts(body)
    before = sessions_of(services)
    assert len(before["s2"]) == 2 and len(before[SESSION]) == 2
    [event] = services.audit.query(action="session.boot")
    assert (event.outcome, event.target, event.arguments["configuration"]) == ("ok", "s2", "two")

    wrong = call(app, expert, ui.TERM_GO, {f"{ui.TERM_TYPED}.value": "s", f"{ui.PICK}.value": "s2"})
    assert "Type the session's name" in toasts(wrong) and sessions_of(services)["s2"] == before["s2"]
    done = call(app, expert, ui.TERM_GO, {f"{ui.TERM_TYPED}.value": "s2", f"{ui.PICK}.value": "s2"})
    assert "Terminated s2" in toasts(done)
    after = sessions_of(services)
    assert "s2" not in after and sorted(after[SESSION]) == sorted(before[SESSION])
    outcomes = [(e.outcome, e.target) for e in services.audit.query(action="session.terminate")]
    assert sorted(outcomes) == [("failed", "s2"), ("ok", "s2")]


def test_the_table_lists_sessions_from_the_pollers_and_an_unchanged_tick_sends_nothing(env):
    app, services, login = env
    viewer = login("viewer")
    services.controller_feeds.refresh_now(SESSION)
    services.process_feed.refresh_now()
    body = call(app, viewer, ui.TICK, {f"{ui.PICK}.value": SESSION}, prop="n_intervals")
    table = json.dumps(body["response"][ui.TABLE]["children"])
    assert SESSION in table and "/controller?session=booted" in table and "2 running" in table
    shown = body["response"][ui.SHOWN]["data"]
    deadline = time.monotonic() + 10
    while True:  # the first sweeps settle (who is in charge, hosts); then nothing changes
        again = call(app, viewer, ui.TICK, {f"{ui.PICK}.value": SESSION, f"{ui.SHOWN}.data": shown},
                     prop="n_intervals")
        if not again or ui.SHOWN not in (again.get("response") or {}):
            break
        shown = again["response"][ui.SHOWN]["data"]
        assert time.monotonic() < deadline
        time.sleep(0.3)
    # a run opened elsewhere is in the tick's mark: the next tick answers with the run, then nothing again
    services.runs.started(SESSION, number=77)
    body = call(app, viewer, ui.TICK, {f"{ui.PICK}.value": SESSION, f"{ui.SHOWN}.data": shown}, prop="n_intervals")
    assert "run 77" in json.dumps(body["response"][ui.TABLE]["children"])
    shown = body["response"][ui.SHOWN]["data"]
    again = call(app, viewer, ui.TICK, {f"{ui.PICK}.value": SESSION, f"{ui.SHOWN}.data": shown}, prop="n_intervals")
    assert not again or ui.SHOWN not in (again.get("response") or {})


def test_take_control_of_the_root(env):
    app, services, login = env
    expert = login("expert")
    services.controller_feeds.refresh_now(SESSION)
    body = call(app, expert, ui.TAKE_GO, {f"{ui.PICK}.value": SESSION})
    assert "You are in charge" in toasts(body)
    assert services.drunc.controller("x", session=SESSION).who_is_in_charge() == "expert"
    [event] = services.audit.query(action="controller.take_control")
    assert event.outcome == "ok" and event.arguments["session"] == SESSION


def test_a_viewer_is_refused_and_audited(env):
    app, services, login = env
    expert, viewer = login("expert"), login("viewer")
    save(app, expert)
    before = sessions_of(services)
    for input_id, values in ((ui.TERM_GO, {f"{ui.TERM_TYPED}.value": SESSION, f"{ui.PICK}.value": SESSION}),
                             (ui.TAKE_GO, {f"{ui.PICK}.value": SESSION}),
                             (ui.BOOT_GO, {f"{ui.BOOT_PLAN}.data": {"name": "two", "version": 1, "session": "s3"}}),
                             (cfg.DELETE_GO, {f"{cfg.NAME}.value": "two"})):
        body = call(app, viewer, input_id, values)
        assert "needs the permission" in toasts(body).lower() or "permission" in toasts(body)
    assert sessions_of(services) == before and services.boot_configs.get("two") is not None
    denied = {e.action for e in services.audit.query(username="viewer", outcome="denied")}
    assert {"session.terminate", "controller.take_control", "session.boot",
            "session.configuration.delete"} <= denied


def test_only_the_author_or_an_administrator_edits_and_versions_diff(env):
    app, services, login = env
    expert, shifter_like, admin = login("expert"), None, login("admin")
    save(app, expert)
    changed = {"processes": [{**PLAN["processes"][0], "arguments": ["700"]}]}
    assert "Saved two" in toasts(save(app, admin, plan=changed))
    assert services.boot_configs.get("two").version == 2
    diff = call(app, admin, cfg.DIFF_B, {f"{cfg.DIFF_A}.value": 1, f"{cfg.DIFF_B}.value": 2,
                                         f"{cfg.NAME}.value": "two"}, prop="value")
    text = json.dumps(diff["response"][cfg.DIFF]["children"])
    assert "s2-b: removed" in text and "s2-a.arguments" in text
    services.users.create_user("other", "test-password", ["expert"])
    other = login("other")
    refused = save(app, other, plan=PLAN)
    assert "only its author or an administrator" in toasts(refused) and shifter_like is None
    assert services.boot_configs.get("two").version == 2
    gone = call(app, admin, cfg.DELETE_GO, {f"{cfg.NAME}.value": "two"})
    assert "Deleted two" in toasts(gone) and services.boot_configs.get("two") is None


def test_save_a_running_session_as_a_configuration(env):
    app, services, login = env
    expert = login("expert")
    body = call(app, expert, ui.SAVE_AS_GO, {f"{ui.SAVE_AS_NAME}.value": "copy", f"{ui.PICK}.value": SESSION})
    assert "Saved copy" in toasts(body)
    saved = services.boot_configs.get("copy")
    assert len(saved.processes) == 2 and {p["session"] for p in saved.processes} == {SESSION}


def test_the_overview_shows_every_backend_and_an_unchanged_tick_sends_nothing(env):
    from pages import home

    app, services, login = env
    viewer = login("viewer")
    services.controller_feeds.refresh_now(SESSION)
    services.process_feed.refresh_now()
    body = call(app, viewer, home.TICK, {}, prop="n_intervals")
    cards, health = (json.dumps(body["response"][k]["children"]) for k in (home.SESSIONS, home.HEALTH))
    assert f'"data-session": "{SESSION}"' in cards
    for backend in ("process manager", f"root controller {SESSION}", "connectivity service", "message consumer",
                    "database"):
        assert backend in health
    shown = body["response"][home.SHOWN]["data"]
    deadline = time.monotonic() + 10
    while True:  # the first sweeps and the health probe settle; then nothing changes
        again = call(app, viewer, home.TICK, {f"{home.SHOWN}.data": shown}, prop="n_intervals")
        if not again or home.SHOWN not in (again.get("response") or {}):
            break
        shown = again["response"][home.SHOWN]["data"]
        assert time.monotonic() < deadline
        time.sleep(0.3)
