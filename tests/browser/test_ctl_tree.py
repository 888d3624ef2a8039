"""Controller page tree in headless Chromium against the simulator: the tree with states, collapse, the session
and refresh in the URL, a session not registered in the connectivity service; no console errors."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from dash.testing.wait import until
from helpers import browser_login
from selenium.webdriver.common.keys import Keys
from support import make_services, make_settings

from components import controller_session as ids
from components import controller_tree as tree_ids

pytestmark = pytest.mark.browser

ROWS = f"#{tree_ids.GRID} .ag-center-cols-container .ag-row"


def test_the_tree_shows_the_sessions_nodes_with_states_and_collapses(sim_live):
    browser_login(sim_live, "viewer", next_path="/controller")
    sim_live.wait_for_text_to_equal(f"#{tree_ids.COUNT}", "4 nodes · 0 running · 0 in error")
    until(lambda: len(sim_live.find_elements(ROWS)) == 4, 10)
    assert "root-controller" in sim_live.find_element(ROWS).text
    badges = [b.text for b in sim_live.find_elements(f"{ROWS} .badge")]
    assert badges.count("initial") == 4
    assert "updated" in sim_live.find_element(f"#{ids.STATUS}").text
    assert "rc-live-ok" in sim_live.find_element(f"#{ids.LIVE}").get_attribute("class")

    toggles = sim_live.find_elements(f"{ROWS} .rc-ctl-toggle")
    toggles[1].click()  # segment-controller-0: its two applications hide
    until(lambda: len(sim_live.find_elements(ROWS)) == 2, 5)
    sim_live.find_element(f"#{tree_ids.EXPAND_ALL}").click()
    until(lambda: len(sim_live.find_elements(ROWS)) == 4, 5)

    next(label for label in sim_live.find_elements(f"#{ids.REFRESH} label") if label.text == "5 s").click()
    until(lambda: "refresh=5" in sim_live.driver.current_url, 5)
    field = sim_live.find_element(f"#{ids.SESSION_INPUT}")
    field.clear()
    field.send_keys("np04", Keys.ENTER)
    until(lambda: "session=np04" in sim_live.driver.current_url, 5)
    assert sim_live.get_logs() == []


def test_session_from_the_url(sim_live):
    browser_login(sim_live, "viewer", next_path=quote("/controller?session=other-one&refresh=0"))
    until(lambda: sim_live.find_element(f"#{ids.SESSION_INPUT}").get_attribute("value") == "other-one", 10)
    assert sim_live.find_element(f"#{ids.REFRESH} input[value='0']").is_selected()
    # CONTROLLER_URL answers for any session when there is no connectivity service: the tree shows
    until(lambda: len(sim_live.find_elements(ROWS)) == 4, 10)
    assert "rc-live-paused" in sim_live.find_element(f"#{ids.LIVE}").get_attribute("class")
    assert sim_live.get_logs() == []


@pytest.fixture
def csc_live(dash_duo, tmp_path):
    from app import create_app
    from simulator.run import SimulatorConfig, start_simulator

    sim = start_simulator(SimulatorConfig(segments=1, apps=1, session="booted", connectivity_port=0,
                                          log_dir=tmp_path / "sim-logs"))
    settings = make_settings(tmp_path, csc_url=f"http://{sim.addresses['connectivity']}", csc_session="booted")
    services = make_services(settings)
    dash_duo.start_server(create_app(settings, services), navigate=False)
    dash_duo.wait_timeout = 20
    yield dash_duo
    services.close()
    sim.stop(0)


def test_a_session_not_registered_says_so(csc_live):
    browser_login(csc_live, "viewer", next_path=quote("/controller?session=never-booted"))
    csc_live.wait_for_contains_text(f"#{ids.NOT_REGISTERED}", "not registered in the connectivity service")
    assert csc_live.find_elements(ROWS) == []
    field = csc_live.find_element(f"#{ids.SESSION_INPUT}")
    field.clear()
    field.send_keys("booted", Keys.ENTER)
    until(lambda: len(csc_live.find_elements(ROWS)) == 3, 10)
    until(lambda: not csc_live.find_elements(f"#{ids.NOT_REGISTERED}.show"), 5)
    until(lambda: "session=" not in csc_live.driver.current_url, 5)  # the configured session: a plain link
    assert csc_live.get_logs() == []
