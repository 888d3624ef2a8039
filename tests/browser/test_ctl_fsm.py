"""The FSM panel in headless Chromium against the simulator: a shifter in control runs start_run with a run
number, sees the root reach running, then stop_run and shutdown (each confirmed), with no console errors."""

from __future__ import annotations

import pytest
from dash.testing.wait import until
from helpers import browser_login
from selenium.webdriver.common.by import By

from components import fsm_panel as ui

pytestmark = pytest.mark.browser


def _command(live, label: str):
    xpath = f"//div[@id='{ui.BUTTONS}']//button[normalize-space(text())='{label}' and not(@disabled)]"
    until(lambda: live.driver.find_elements(By.XPATH, xpath), timeout=20)
    live.driver.find_elements(By.XPATH, xpath)[0].click()


def _run_dialog(live, confirm: bool = False) -> None:
    live.wait_for_element(f"#{ui.RUN}")
    if confirm:
        live.wait_for_element(f"#{ui.CONFIRM}").click()
    # a toast of the previous step may cover the dialog's footer for a few seconds: click through it
    until(lambda: live.find_element(f"#{ui.RUN}").is_enabled(), timeout=10)
    live.driver.execute_script("arguments[0].click()", live.find_element(f"#{ui.RUN}"))


def test_shifter_runs_start_run_stop_run_and_shutdown(sim_live, sim_services):
    sim_services.drunc.controller("shifter").take_control()  # the control part's button does this
    sim_services.controller_feeds.refresh_now()
    browser_login(sim_live, "shifter", next_path="/controller")
    sim_live.wait_for_text_to_equal(f"#{ui.STATE}", "initial")
    sim_live.wait_for_element(f"#{ui.DIAGRAM} canvas")

    _command(sim_live, "Start run")
    sim_live.wait_for_contains_text(f"#{ui.MODAL_BODY}", "conf → start → enable_triggers")
    number = sim_live.find_elements(f"#{ui.MODAL_BODY} input[type=number]")[0]
    number.clear()
    number.send_keys("1001")
    _run_dialog(sim_live)
    sim_live.wait_for_contains_text("#toasts", "Start run: done", timeout=30)
    sim_live.wait_for_text_to_equal(f"#{ui.STATE}", "running", timeout=20)
    run = sim_services.runs.current(sim_services.controller_feeds.default_session)
    assert run.number == 1001 and run.started_by == "shifter"

    _command(sim_live, "Stop run")
    _run_dialog(sim_live, confirm=True)
    sim_live.wait_for_contains_text("#toasts", "Stop run: done", timeout=30)
    sim_live.wait_for_text_to_equal(f"#{ui.STATE}", "configured", timeout=20)

    _command(sim_live, "Shutdown")
    _run_dialog(sim_live, confirm=True)
    sim_live.wait_for_contains_text("#toasts", "Shutdown: done", timeout=30)
    sim_live.wait_for_text_to_equal(f"#{ui.STATE}", "initial", timeout=20)
    logs = sim_live.get_logs()
    assert logs == [], [entry["message"][:1500] for entry in logs]
