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


# ------------------------------------------------------------------------------------ the session manager panel

@pytest.fixture
def sm(sim_app, sim_services, logged_in):
    return sim_app, sim_services, lambda user: logged_in(sim_app.server.test_client(), user)


def read_panel(app, client):
    body = call(app, client, ui.SM_LOAD, {})
    response = body["response"]
    return (json.dumps(response[ui.SM_LIST]["children"]), response[ui.SM_START_CONFIG]["options"],
            response[ui.SM_STOP_SESSION]["options"], response[ui.SM_ACTIONS]["style"])


@pytest.mark.parametrize("simulator", ["0.8", "0.11", "0.11-bugs"], indirect=True)
def test_the_panel_shows_layout_state_sessions_and_configurations(simulator, sm):
    app, services, login = sm
    listing, configs, sessions, style = read_panel(app, login("viewer"))
    if services.drunc.session_manager("t").layout == "0.8":
        assert "druncschema 0.8" in listing and "answers" in listing
        assert "np04-coldbox" in listing and "daq" in listing and "not reported (druncschema 0.8)" in listing
        assert "local-1x1-config" in listing and style == {}
    elif "not usable" not in listing:
        assert "druncschema 0.11" in listing and "answers" in listing
        assert "np04-daq-config (np04-daq.data.xml)" in listing and "example-configs.data.xml" in listing
        assert style == {}
    else:
        assert "session manager not usable (drunc 0.13.x)" in listing and "gRPC UNKNOWN" in listing
        assert "list_all_configs is not implemented" in listing
        assert style == {"display": "none"} and configs == [] and sessions == []
        return
    assert {o["value"] for o in configs} == {"local-1x1-config", "np04-daq-config"}
    assert [o["value"] for o in sessions] == ["np04-coldbox"]


@pytest.mark.parametrize("simulator", ["0.8", "0.11"], indirect=True)
def test_start_then_stop_a_session_confirmed_audited_and_listed(simulator, sm):
    app, services, login = sm
    expert = login("expert")
    read_panel(app, expert)
    bad = call(app, expert, ui.SM_START_OPEN, {f"{ui.SM_START_CONFIG}.value": "local-1x1-config",
                                               f"{ui.SM_START_NAME}.value": "no spaces"})
    assert "A session name is letters" in toasts(bad)
    taken = call(app, expert, ui.SM_START_OPEN, {f"{ui.SM_START_CONFIG}.value": "local-1x1-config",
                                                 f"{ui.SM_START_NAME}.value": "np04-coldbox"})
    assert "already runs a session named np04-coldbox" in toasts(taken)
    asked = call(app, expert, ui.SM_START_OPEN, {f"{ui.SM_START_CONFIG}.value": "local-1x1-config",
                                                 f"{ui.SM_START_NAME}.value": " sm-new "})
    response = asked["response"]
    assert response[ui.SM_START_MODAL]["is_open"] is True
    body = json.dumps(response[ui.SM_START_BODY]["children"])
    assert "Session: sm-new" in body and "Configuration: local-1x1-config" in body and "Actor: expert" in body
    plan = response[ui.SM_START_PLAN]["data"]
    assert plan == {"name": "sm-new", "configuration": "local-1x1-config"}
    done = call(app, expert, ui.SM_START_GO, {f"{ui.SM_START_PLAN}.data": plan})
    assert "Started session sm-new" in toasts(done)
    assert {s.name: s.actor for s in services.drunc.session_manager("t").sessions()}["sm-new"] == "expert"
    [event] = services.audit.query(action="session.start")
    assert (event.outcome, event.target, event.arguments["configuration"]) == ("ok", "sm-new", "local-1x1-config")
    # the panel lists it (the job bumped SM_CHANGED: the next read is fresh)
    listing, _c, sessions, _s = read_panel(app, expert)
    assert "sm-new" in listing and "sm-new" in [o["value"] for o in sessions]
    # a second start of the same name is refused before anything is sent
    again = call(app, expert, ui.SM_START_GO, {f"{ui.SM_START_PLAN}.data": plan})
    assert "already runs a session named sm-new" in toasts(again)

    asked = call(app, expert, ui.SM_STOP_OPEN, {f"{ui.SM_STOP_SESSION}.value": "sm-new"})
    body = json.dumps(asked["response"][ui.SM_STOP_BODY]["children"])
    assert "Session: sm-new" in body and "Actor: expert" in body
    stop_plan = asked["response"][ui.SM_STOP_PLAN]["data"]
    done = call(app, expert, ui.SM_STOP_GO, {f"{ui.SM_STOP_PLAN}.data": stop_plan})
    assert "Stopped session sm-new" in toasts(done)
    assert "sm-new" not in {s.name for s in services.drunc.session_manager("t").sessions()}
    outcomes = [(e.action, e.outcome, e.target) for e in services.audit.query(action="session.stop")]
    assert outcomes == [("session.stop", "ok", "sm-new")]


@pytest.mark.parametrize("simulator", ["0.11"], indirect=True)
def test_a_viewer_cannot_start_or_stop_and_is_audited(simulator, sm):
    app, services, login = sm
    viewer = login("viewer")
    started = call(app, viewer, ui.SM_START_GO, {f"{ui.SM_START_PLAN}.data": {"name": "v1",
                                                                            "configuration": "local-1x1-config"}})
    stopped = call(app, viewer, ui.SM_STOP_GO, {f"{ui.SM_STOP_PLAN}.data": {"session": "np04-coldbox"}})
    assert "session.manage" in toasts(started) and "session.manage" in toasts(stopped)
    assert {s.name for s in services.drunc.session_manager("t").sessions()} == {"np04-coldbox"}
    denied = {(e.action, e.target) for e in services.audit.query(username="viewer", outcome="denied")}
    assert {("session.start", "v1"), ("session.stop", "np04-coldbox")} <= denied


@pytest.mark.parametrize("simulator", ["0.11-bugs"], indirect=True)
def test_drunc_0_13_session_manager_refuses_start_and_stop_with_a_plain_reason(simulator, sm):
    app, services, login = sm
    expert = login("expert")
    asked = call(app, expert, ui.SM_START_OPEN, {f"{ui.SM_START_CONFIG}.value": "local-1x1-config",
                                                 f"{ui.SM_START_NAME}.value": "x1"})
    assert "does not answer as it should" in toasts(asked)
    # a forged plan reaches the job: it reads the session manager again and sends nothing
    forged = call(app, expert, ui.SM_STOP_GO, {f"{ui.SM_STOP_PLAN}.data": {"session": "np04-coldbox"}})
    assert "Nothing was stopped" in toasts(forged)
    [event] = services.audit.query(action="session.stop")
    assert event.outcome == "failed"


def test_no_session_manager_configured_says_so(tmp_path, logged_in):
    from app import create_app

    settings = make_settings(tmp_path, session_manager_url="")
    services = make_services(settings)
    try:
        app = create_app(settings, services)
        listing, configs, sessions, style = read_panel(app, logged_in(app.server.test_client(), "viewer"))
        assert "not configured" in listing and "drunc 0.10.x ships none" in listing
        assert style == {"display": "none"} and configs == sessions == []
    finally:
        services.close()


@pytest.mark.parametrize("simulator", ["0.8", "0.11", "0.11-bugs"], indirect=True)
def test_the_overview_shows_each_endpoints_druncschema_layout(simulator, sm):
    from pages import home

    app, services, login = sm
    layout = "0.8" if services.drunc.session_manager("t").layout == "0.8" else "0.11"
    services.controller_feeds.refresh_now(services.settings.csc_session)
    services.process_feed.refresh_now()
    body = call(app, login("viewer"), home.TICK, {}, prop="n_intervals")
    items = {i["props"]["data-backend"]: json.dumps(i) for i in body["response"][home.HEALTH]["children"]["props"]
             ["children"]}
    root = items[f"root controller {services.settings.csc_session}"]
    assert f"druncschema {layout}" in root and f"druncschema {layout}" in items["session manager"]
    assert f"druncschema {layout}" in items["process manager"]
    if getattr(simulator.session_manager, "bugs", False):
        assert "session manager not usable (drunc 0.13.x)" in items["session manager"]
