"""Controller page control panel in headless Chromium against the simulator: who is in charge and the refusal
for a second user; a segment excluded then a transition puts the root in error, shown with its recovery; the
state timeline's plotly.js comes from this server, and the Process Manager page never loads it."""

from __future__ import annotations

import pytest
from dash.testing.wait import until
from helpers import browser_login, click

from components import control_panel as cp
from components import state_timeline as tl
from drunc_client.controller import ControllerClient

pytestmark = pytest.mark.browser

WHO = "#ctl-ctrl-who-table"


def _client(simulator, user, name="root-controller"):
    return ControllerClient(simulator.controller_addresses[name], user, child_addresses=simulator.controller_addresses)


def _plotly_urls(live) -> list[str]:
    return live.driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name).filter(n => /plotly/i.test(n));")


def test_a_second_user_sees_who_is_in_charge_and_is_refused(sim_live, simulator):
    _client(simulator, "alice").take_control()
    browser_login(sim_live, "shifter", next_path="/controller")
    sim_live.wait_for_contains_text(WHO, "alice")
    sim_live.wait_for_contains_text("#ctl-run-in-charge", "alice is in charge")
    sim_live.wait_for_contains_text(f"#{cp.WHY}", "alice is in charge")
    click(sim_live, f"#{cp.EXCLUDE}")
    sim_live.wait_for_contains_text("#toasts", "alice is in charge of root-controller; take control first.")
    assert not sim_live.find_elements(f"#{cp.CONFIRM}.show")
    assert _client(simulator, "probe").status().included is True
    assert sim_live.get_logs() == []


def test_an_excluded_segment_then_a_transition_shows_the_root_in_error_with_the_recovery(sim_live, simulator,
                                                                                          sim_services):
    browser_login(sim_live, "shifter", next_path="/controller")
    sim_live.wait_for_contains_text(WHO, "nobody")
    click(sim_live, f"#{cp.TAKE}")  # nobody to evict: no confirmation
    sim_live.wait_for_contains_text("#toasts", "You are in charge of root-controller")
    sim_live.wait_for_contains_text(f"#{cp.WHY}", "You are in charge")
    # the toasts stack at the top right: bring the dropdown to the middle of the window, clear of them
    sim_live.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})",
                                   sim_live.find_element(f"#{cp.NODE}"))
    # the "you are in charge" toast sits over the node picker for a few seconds: look past it
    sim_live.driver.execute_script("document.getElementById('toasts').style.visibility = 'hidden';")
    sim_live.select_dcc_dropdown(f"#{cp.NODE}", index=1)  # the options are in tree order: the segment is second
    sim_live.driver.execute_script("document.getElementById('toasts').style.visibility = '';")
    sim_live.wait_for_contains_text(f"#{cp.SELECTED}", "segment-controller-0")
    until(lambda: sim_live.find_element(f"#{cp.EXCLUDE}").is_enabled(), 10)
    click(sim_live, f"#{cp.EXCLUDE}")
    sim_live.wait_for_contains_text("#ctl-ctrl-confirm-targets", "segment-controller-0-app-1")
    click(sim_live, f"#{cp.CONFIRM_OK}")
    sim_live.wait_for_contains_text("#toasts", "Exclude segment-controller-0")
    assert _client(simulator, "probe", "segment-controller-0").status().included is False
    _client(simulator, "shifter").execute("conf")  # the transition, from drunc's shell as the same operator
    sim_live.wait_for_contains_text("#ctl-errors-alert", "root-controller")
    alert = sim_live.find_element("#ctl-errors-alert")
    assert "No drunc 0.10.x command clears an error" in alert.text
    link = alert.find_element("css selector", "a")
    assert link.get_attribute("href").endswith("/process-manager?q=root-controller")
    sim_live.wait_for_contains_text("#ctl-run-state", "in error")
    assert [e.outcome for e in sim_services.audit.query(action="controller.exclude")] == ["ok"]
    # the timeline's plotly.js is served by this app (no CDN)
    sim_live.wait_for_element(f"#{tl.GRAPH} .main-svg")
    urls = _plotly_urls(sim_live)
    assert urls and all(u.startswith(sim_live.server.url) for u in urls), urls
    assert sim_live.get_logs() == []


def test_the_process_manager_page_does_not_load_plotly(sim_live):
    browser_login(sim_live, "viewer", next_path="/process-manager")
    sim_live.wait_for_element("#pm-grid")
    sim_live.wait_for_contains_text("#pm-status", "updated")
    assert _plotly_urls(sim_live) == []
    assert sim_live.get_logs() == []
