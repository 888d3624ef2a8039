"""The Sessions page and the overview in headless Chromium against the simulator: they load without console
errors, show the simulator's session live, and a session terminated by typing its name leaves the other alone."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from helpers import browser_login, click, open_page
from support import make_services, make_settings

from components import sessions_page as ui
from drunc_client.process_manager import BootSpec

SESSION = "booted"


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
                             csc_url=f"http://{sim.addresses['connectivity']}", csc_session=SESSION)
    services = make_services(settings)
    dash_duo.start_server(create_app(settings, services), navigate=False)
    dash_duo.wait_timeout = 20
    dash_duo.rc_services = services
    yield dash_duo
    services.close()
    sim.stop(0)


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
    open_page(live, "/sessions")
    live.wait_for_contains_text(f"#{ui.TABLE}", SESSION)
    live.wait_for_contains_text(f"#{ui.TABLE}", "2 running")
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
