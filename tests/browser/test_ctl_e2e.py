"""The Controller page end to end, where its three parts meet, in headless Chromium against the simulator.

One shift: a shifter takes control in the page (control panel), runs start_run with a run number in the FSM
dialog, sees the tree reach running and the banner show the run; while the job runs every part's buttons say the
same "transition in progress" text; a second user (the Flask client) sees who is in charge, since when, and is
refused; stop_run and shutdown; the root controller's process stopped mid-transition shows the outage banner,
and the page recovers by itself when it is back; a viewer's forged transition is refused and audited; no console
errors anywhere.
"""

from __future__ import annotations

import json

import pytest
from dash.testing.wait import until
from dash_calls import body_for, post, server_callbacks
from helpers import browser_login, click, forge_callback
from selenium.webdriver.common.by import By
from support import csrf_token, login

from components import control_panel as cp
from components import controller_ids as ids
from components import controller_session as header
from components import controller_tree as tree_ids
from components import fsm_panel as ui

pytestmark = pytest.mark.browser

ROOT_ROW = f"#{tree_ids.GRID} .ag-row[row-id='root-controller']"
FAST, SLOW = 0.3, 3.0  # seconds per simulated transition and node: quick steps, then one to stop in the middle


@pytest.fixture
def simulator(tmp_path):
    """The conftest's simulator, with transitions that take a little time (so progress and locks are seen)."""
    from simulator.run import SimulatorConfig, start_simulator

    sim = start_simulator(SimulatorConfig(processes=0, segments=1, apps=2, transition_seconds=FAST,
                                          log_dir=tmp_path / "sim-logs"))
    yield sim
    sim.stop(0)


def _pace(simulator, seconds: float) -> None:
    for node in simulator.root.walk():
        node.transition_seconds = seconds


def _command(live, label: str) -> None:
    xpath = f"//div[@id='{ui.BUTTONS}']//button[normalize-space(text())='{label}' and not(@disabled)]"
    until(lambda: live.driver.find_elements(By.XPATH, xpath), timeout=20)
    live.driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();",
                               live.driver.find_elements(By.XPATH, xpath)[0])


def _run_dialog(live, confirm: bool = False) -> None:
    live.wait_for_element(f"#{ui.RUN}")
    if confirm:
        click(live, f"#{ui.CONFIRM}")
    until(lambda: live.find_element(f"#{ui.RUN}").is_enabled(), timeout=10)
    click(live, f"#{ui.RUN}")


def _root_state(live, state: str, timeout: float = 20) -> None:
    until(lambda: any(b.text == state for b in live.find_elements(f"{ROOT_ROW} .badge")), timeout)


def _text(live, selector: str) -> str:
    return live.driver.execute_script("return arguments[0].textContent", live.find_element(selector))


def _all_locked(live, lock: str) -> bool:
    """Every command button of every part disabled, each part saying why with the lock's text (read in one
    script: the parts redraw their buttons on their own ticks)."""
    return live.driver.execute_script(
        """
        const [lock, fsmButtons, control, reasons] = arguments;
        const fsm = Array.from(document.querySelectorAll('#' + fsmButtons + ' button'));
        const ctl = control.map(id => document.getElementById(id));
        return fsm.length > 0 && fsm.every(b => b.disabled && (b.title || '').includes(lock))
            && ctl.every(b => b && b.disabled)
            && reasons.every(id => (document.getElementById(id) || {}).textContent.includes(lock));
        """,
        lock, ui.BUTTONS, [cp.TAKE, cp.SURRENDER, cp.INCLUDE, cp.EXCLUDE], [ui.REASON, cp.WHY])


def _banner(live) -> str:
    """The outage banner's text while it is open, "" when it is not shown (read from the DOM: it sits at the top
    of the page, scrolled out of view by then)."""
    return live.driver.execute_script("const b = document.getElementById(arguments[0]);"
                                      "return b && b.classList.contains('show') ? b.textContent : '';", header.BANNER)


def _call(app, client, name: str, values: dict, triggered: str):
    key, spec = next((k, s) for k, s in server_callbacks(app).items() if s["callback"].__name__ == name)
    return post(client, key, spec, csrf_token(client), values, triggered)


def _second_user(live, simulator):
    """expert, in another session (the Flask client): sees the shifter in charge since the take, and a command
    is refused naming them, on every part."""
    client = live.rc_app.server.test_client()
    login(client, "expert")
    client.get("/controller")
    tick = _call(live.rc_app, client, "fsm_tick", {f"{ui.TICK}.n_intervals": 1, f"{ids.SESSION}.data": ""},
                 f"{ui.TICK}.n_intervals").json["response"]
    reason = json.dumps(tick[ui.REASON]["children"])
    assert "shifter is in charge since" in reason and "UTC; take control first" in reason, reason
    shown = _call(live.rc_app, client, "refresh_control", {f"{cp.TICK}.n_intervals": 1, f"{ids.SESSION}.data": ""},
                  f"{cp.TICK}.n_intervals").json["response"]
    assert "shifter" in json.dumps(shown[cp.WHO]["children"])
    assert "shifter is in charge since" in json.dumps(shown[cp.SELECTED]["children"])
    refused = _call(live.rc_app, client, "ask", {f"{cp.EXCLUDE}.n_clicks": 1, f"{cp.NODE}.value": "root-controller",
                                                 f"{ids.SESSION}.data": ""}, f"{cp.EXCLUDE}.n_clicks")
    assert "shifter is in charge of root-controller since" in refused.get_data(as_text=True)
    pending = {"name": "stop_run", "fields": [], "disruptive": True, "session": ""}
    sent = _call(live.rc_app, client, "run_command", {f"{ui.RUN}.n_clicks": 1, f"{ui.PENDING}.data": pending,
                                                      f"{ui.CONFIRM}.value": True, f"{ids.SESSION}.data": ""},
                 f"{ui.RUN}.n_clicks")
    assert "shifter is in charge since" in sent.get_data(as_text=True)
    assert simulator.root.actor.user_name == "shifter" and simulator.root.state == "running"


def test_a_shift_on_the_controller_page(sim_live, simulator, sim_services):
    live = sim_live
    browser_login(live, "shifter", next_path="/controller")

    # take control in the page
    live.wait_for_contains_text(f"#{cp.WHO}", "nobody")
    click(live, f"#{cp.TAKE}")
    live.wait_for_contains_text("#toasts", "You are in charge of root-controller")
    live.wait_for_contains_text(f"#{cp.WHY}", "You are in charge")

    # start_run with a run number; while it runs, every part says the same "transition in progress"
    _command(live, "Start run")
    live.wait_for_contains_text(f"#{ui.MODAL_BODY}", "conf → start → enable_triggers")
    number = live.find_elements(f"#{ui.MODAL_BODY} input[type=number]")[0]
    number.clear()
    number.send_keys("4242")
    _pace(simulator, 2.0)  # long enough for every part's tick to show the lock
    _run_dialog(live)
    lock = "transition in progress: start_run, by shifter since"
    until(lambda: _all_locked(live, lock), timeout=15)
    _pace(simulator, FAST)
    live.wait_for_contains_text("#toasts", "Start run: done", timeout=30)
    _root_state(live, "running")
    live.wait_for_contains_text("#ctl-run-number", "run 4242")
    live.wait_for_contains_text("#ctl-run-since", "running since")
    live.wait_for_contains_text("#ctl-run-in-charge", "shifter is in charge")
    run = sim_services.runs.current(sim_services.controller_feeds.default_session)
    assert run.number == 4242 and run.started_by == "shifter"

    # a second user sees who is in charge, since when, and is refused
    _second_user(live, simulator)

    # stop_run and shutdown, each confirmed
    _command(live, "Stop run")
    _run_dialog(live, confirm=True)
    live.wait_for_contains_text("#toasts", "Stop run: done", timeout=30)
    _root_state(live, "configured")
    _command(live, "Shutdown")
    _run_dialog(live, confirm=True)
    live.wait_for_contains_text("#toasts", "Shutdown: done", timeout=30)
    _root_state(live, "initial")
    live.wait_for_contains_text("#ctl-run-history-table", "4242")

    # the root controller's process stops mid-transition: the outage banner, then recovery when it is back
    _pace(simulator, SLOW)
    _command(live, "conf")
    _run_dialog(live)
    until(lambda: simulator.root.sub_state is not None, timeout=10)
    simulator.stop_controller("root-controller")
    until(lambda: "Root controller of session" in _banner(live), timeout=10)
    assert "unreachable" in _banner(live) and "last known state" in _banner(live)
    until(lambda: "update failed" in _text(live, f"#{header.STATUS}"), timeout=10)
    live.wait_for_contains_text("#toasts", "conf: failed", timeout=20)
    simulator.restart_controller("root-controller")
    until(lambda: _banner(live) == "", timeout=15)
    until(lambda: _text(live, f"#{header.STATUS}").startswith("updated"), timeout=10)
    _root_state(live, "configured", timeout=20)  # the transition carried on inside the controller
    until(lambda: _text(live, f"#{ui.STATE}") == "configured", timeout=20)
    assert sim_services.controller_locks.current(simulator.addresses["controller"]) is None
    logs = live.get_logs()
    assert logs == [], [entry["message"][:500] for entry in logs]

    # a viewer's forged transition is refused and audited
    live.driver.delete_all_cookies()
    browser_login(live, "viewer", next_path="/controller")
    live.wait_for_contains_text(f"#{ui.REASON}", "viewer")
    key, spec = next((k, s) for k, s in server_callbacks(live.rc_app).items()
                     if s["callback"].__name__ == "run_command")
    body = body_for(key, spec, {f"{ui.RUN}.n_clicks": 1, f"{ids.SESSION}.data": "", f"{ui.CONFIRM}.value": True,
                                f"{ui.PENDING}.data": {"name": "scrap", "fields": [], "disruptive": True,
                                                       "session": ""}}, f"{ui.RUN}.n_clicks")
    result = forge_callback(live, body)
    assert "Not allowed" in result["text"], result
    assert simulator.root.state == "configured"
    [denied] = sim_services.audit.query(username="viewer", outcome="denied")
    assert denied.action == "controller.transition" and "controller.command" in denied.detail
    logs = live.get_logs()
    assert logs == [], [entry["message"][:500] for entry in logs]
