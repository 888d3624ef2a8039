"""The Sessions page and the overview in headless Chromium against the simulator: they load without console
errors, show the simulator's session live, a session booted from a saved configuration appears everywhere and is
terminated by typing its name, leaving the other alone."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from helpers import browser_login, click, open_page
from support import make_services, make_settings

from components import sessions_page as ui
from drunc_client.process_manager import BootSpec

SESSION = "booted"
PLAN = {"processes": [
    {"name": "e2e-a", "session": "e2e", "executable": "sleep", "arguments": ["600"], "tree_id": "1.1.1"},
    {"name": "e2e-b", "session": "e2e", "executable": "sleep", "arguments": ["600"], "tree_id": "1.1.2"},
]}


def until(check, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.fixture
def live(dash_duo, tmp_path):
    from app import create_app
    from simulator.run import SimulatorConfig, start_simulator

    sim = start_simulator(SimulatorConfig(processes=2, segments=1, apps=1, session=SESSION, connectivity_port=0,
                                          log_dir=tmp_path / "sim-logs"))
    settings = make_settings(tmp_path, process_manager_url=sim.addresses["process_manager"],
                             session_manager_url=sim.addresses["session_manager"],
                             csc_url=f"http://{sim.addresses['connectivity']}", csc_session=SESSION)
    services = make_services(settings)
    dash_duo.start_server(create_app(settings, services), navigate=False)
    dash_duo.wait_timeout = 20
    dash_duo.rc_services = services
    yield dash_duo
    services.close()
    sim.stop(0)


def pick_option(dash_duo, selector: str, starting: str) -> bool:
    """Open a dcc.Dropdown and choose the option whose label starts with `starting`, through the DOM: near the
    bottom of the page its menu opens below the window, where a native click is refused."""
    click(dash_duo, selector)
    for option in dash_duo.driver.find_elements("css selector", ".dash-dropdown-option"):
        if option.text.startswith(starting):
            dash_duo.driver.execute_script("arguments[0].click();", option)
            return True
    return False


def _sessions(services) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in services.drunc.process_manager("t").ps():
        out[p.session] = out.get(p.session, 0) + 1
    return out


def test_overview_and_sessions_show_the_simulator_session(live):
    browser_login(live, "viewer")
    live.wait_for_contains_text("#ov-sessions", SESSION)
    live.wait_for_contains_text("#ov-health-list", "process manager")
    live.wait_for_contains_text("#ov-health-list", "database")
    live.wait_for_contains_text('#ov-health-list [data-backend="session manager"]', "druncschema 0.8")
    open_page(live, "/sessions")
    live.wait_for_contains_text(f"#{ui.TABLE}", SESSION)
    live.wait_for_contains_text(f"#{ui.TABLE}", "2 running")
    # the session manager's panel is filled on load: its layout, state, sessions and configurations
    live.wait_for_contains_text("#ses-sm-badge", "answers")
    live.wait_for_contains_text("#ses-sm-layout", "druncschema 0.8")
    live.wait_for_contains_text("#ses-sm-sessions", "np04-coldbox")
    live.wait_for_contains_text("#ses-sm-configurations", "local-1x1-config")
    assert live.get_logs() == []


def test_start_and_stop_a_session_through_the_session_manager(live):
    services = live.rc_services
    browser_login(live, "expert", next_path=quote("/sessions"))
    live.wait_for_contains_text("#ses-sm-configurations", "np04-daq-config")
    picker = live.find_element(f"#{ui.SM_START_CONFIG}")
    until(lambda: pick_option(live, f"#{ui.SM_START_CONFIG}", "np04-daq-config") and "np04-daq-config" in picker.text,
          15)
    live.find_element(f"#{ui.SM_START_NAME}").send_keys("web-started")
    click(live, f"#{ui.SM_START_OPEN}")
    live.wait_for_contains_text("#ses-sm-start-targets", "Session: web-started")
    live.wait_for_contains_text("#ses-sm-start-targets", "Configuration: np04-daq-config")
    click(live, f"#{ui.SM_START_GO}")
    live.wait_for_contains_text("#toasts", "Started session web-started")
    live.wait_for_contains_text("#ses-sm-sessions", "web-started")
    assert "web-started" in {s.name for s in services.drunc.session_manager("t").sessions()}

    stopper = live.find_element(f"#{ui.SM_STOP_SESSION}")
    until(lambda: pick_option(live, f"#{ui.SM_STOP_SESSION}", "web-started") and "web-started" in stopper.text, 15)
    click(live, f"#{ui.SM_STOP_OPEN}")
    live.wait_for_contains_text("#ses-sm-stop-targets", "Actor: expert")
    click(live, f"#{ui.SM_STOP_GO}")
    live.wait_for_contains_text("#toasts", "Stopped session web-started")
    until(lambda: "web-started" not in live.find_element("#ses-sm-sessions").text, 15)
    assert [e.outcome for e in services.audit.query(action="session.start")] == ["ok"]
    assert [e.outcome for e in services.audit.query(action="session.stop")] == ["ok"]
    assert live.get_logs() == []


def test_terminate_a_session_by_typing_its_name_leaves_the_other(live):
    services = live.rc_services
    pm = services.drunc.process_manager("t")
    for name in ("x-a", "x-b"):
        pm.boot(BootSpec(name=name, user="daq", session="other", executable="sleep", arguments=("600",),
                         log_path=str(services.settings.boot_log_dir) + f"/{name}.log"))
    browser_login(live, "expert", next_path=quote("/sessions?session=other"))
    live.wait_for_contains_text(f"#{ui.TABLE}", "other")
    live.wait_for_contains_text(f"#{ui.DETAIL}", "x-a")
    click(live, f"#{ui.TERM_OPEN}")
    live.wait_for_contains_text(f"#{ui.TERM_BODY}", "x-b")
    live.find_element(f"#{ui.TERM_TYPED}").send_keys("other")
    click(live, f"#{ui.TERM_GO}")
    until(lambda: "other" not in _sessions(services), 15)
    assert _sessions(services)[SESSION] == 2
    until(lambda: "x-a" not in live.find_element(f"#{ui.TABLE}").text + live.find_element(f"#{ui.DETAIL}").text
          and "other" not in live.find_element(f"#{ui.TABLE}").text, 15)
    assert live.get_logs() == []


def test_boot_from_a_configuration_see_it_everywhere_open_its_controller_and_terminate_it(live):
    services = live.rc_services
    services.boot_configs.create("e2e-plan", PLAN, "expert", "for the browser test")
    untouched = {p.uuid for p in services.drunc.process_manager("t").ps() if p.session == SESSION}
    browser_login(live, "expert", next_path=quote("/sessions"))
    live.wait_for_contains_text(f"#{ui.TABLE}", SESSION)

    # boot: pick the configuration, read the preview, boot, a result per process
    picker = live.find_element(f"#{ui.BOOT_CONFIG}")
    live.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", picker)
    until(lambda: live.select_dcc_dropdown(f"#{ui.BOOT_CONFIG}", value="e2e-plan") is None
          and "2 processes into session e2e" in live.find_element(f"#{ui.BOOT_PREVIEW}").text, 15)
    until(lambda: live.find_element(f"#{ui.BOOT_GO}").is_enabled(), 10)
    live.wait_for_contains_text(f"#{ui.BOOT_GO}", "Boot 2 processes into e2e")
    click(live, f"#{ui.BOOT_GO}")
    live.wait_for_contains_text("#ses-boot-results", "e2e-a: booted")
    live.wait_for_contains_text("#ses-boot-results", "e2e-b: booted")
    assert _sessions(services) == {SESSION: 2, "e2e": 2}

    # the overview has a card for it, next to the other session's
    open_page(live, "/")
    live.wait_for_element('#ov-sessions [data-session="e2e"]')
    live.wait_for_contains_text('#ov-sessions [data-session="e2e"]', "2 running")
    live.wait_for_element(f'#ov-sessions [data-session="{SESSION}"]')

    # the Sessions page lists it; its detail leads to its controller
    open_page(live, "/sessions?session=e2e")
    live.wait_for_contains_text(f"#{ui.TABLE}", "e2e")
    live.wait_for_contains_text(f"#{ui.DETAIL}", "e2e-b")
    link = live.find_element("#ses-detail-links a[href='/controller?session=e2e']")
    live.driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", link)
    # its processes are plain sleeps: the Controller page opens on it and says no root is registered
    live.wait_for_contains_text("#ctl-not-registered", "Session e2e is not registered")
    assert live.find_element("#ctl-session-input").get_attribute("value") == "e2e"

    # terminate it by typing its name: the other session keeps every process
    open_page(live, "/sessions?session=e2e")
    live.wait_for_contains_text(f"#{ui.DETAIL}", "e2e-a")
    click(live, f"#{ui.TERM_OPEN}")
    live.wait_for_contains_text(f"#{ui.TERM_BODY}", "e2e-b")
    live.find_element(f"#{ui.TERM_TYPED}").send_keys("e2e")
    click(live, f"#{ui.TERM_GO}")
    live.wait_for_contains_text("#toasts", "Terminated e2e")
    until(lambda: "e2e" not in _sessions(services), 15)
    assert {p.uuid for p in services.drunc.process_manager("t").ps() if p.session == SESSION} == untouched
    until(lambda: "e2e" not in live.find_element(f"#{ui.TABLE}").text, 15)
    assert SESSION in live.find_element(f"#{ui.TABLE}").text
    assert live.get_logs() == []
