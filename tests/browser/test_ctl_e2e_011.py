"""The Controller page's flow on a druncschema 0.11 root, in headless Chromium: the simulator as real drunc 0.13.2
behaved, its bugs included (named-key describe_fsm fails, so the FSM is derived). An administrator sees
"druncschema 0.11" in the header, the target picker and the expert section; takes control, runs start_run with a
run number, stop_run and shutdown; the runs table and the tree follow; no console errors."""

from __future__ import annotations

import pytest
from dash.testing.wait import until
from helpers import browser_login, click
from test_ctl_e2e import FAST, _command, _root_state, _run_dialog, _text

from components import control_panel as cp
from components import controller_session as header
from components import expert_panel as xp
from components import fsm_panel as ui

pytestmark = pytest.mark.browser


@pytest.fixture
def simulator(tmp_path):
    from simulator.run import SimulatorConfig, start_simulator

    sim = start_simulator(SimulatorConfig(processes=0, segments=1, apps=2, transition_seconds=FAST,
                                          log_dir=tmp_path / "sim-logs", schema="0.11", bugs=True))
    yield sim
    sim.stop(0)


def _shown(live, element_id: str) -> bool:
    return live.driver.execute_script("const e = document.getElementById(arguments[0]);"
                                      "return !!e && e.offsetParent !== null;", element_id)


def test_a_shift_on_a_druncschema_011_root(sim_live, simulator, sim_services):
    live = sim_live
    browser_login(live, "admin", next_path="/controller")
    until(lambda: "druncschema 0.11" in _text(live, f"#{header.STATUS}"), timeout=30)
    until(lambda: _shown(live, ui.TARGET_WRAP), timeout=20)

    live.wait_for_contains_text(f"#{cp.WHO}", "nobody")
    click(live, f"#{cp.TAKE}")
    live.wait_for_contains_text("#toasts", "You are in charge of root-controller")
    until(lambda: live.find_element(f"#{xp.RECOMPUTE}").is_enabled(), timeout=20)  # offered, never clicked

    _command(live, "Start run")
    live.wait_for_contains_text(f"#{ui.MODAL_BODY}", "conf → start → enable_triggers")
    number = live.find_elements(f"#{ui.MODAL_BODY} input[type=number]")[0]
    number.clear()
    number.send_keys("1100")
    _run_dialog(live)
    live.wait_for_contains_text("#toasts", "Start run: done", timeout=40)
    _root_state(live, "running", timeout=30)
    live.wait_for_contains_text("#ctl-run-number", "run 1100")
    run = sim_services.runs.current(sim_services.controller_feeds.default_session)
    assert run.number == 1100 and run.started_by == "admin"

    _command(live, "Stop run")
    _run_dialog(live, confirm=True)
    live.wait_for_contains_text("#toasts", "Stop run: done", timeout=40)
    _root_state(live, "configured", timeout=30)
    _command(live, "Shutdown")
    _run_dialog(live, confirm=True)
    live.wait_for_contains_text("#toasts", "Shutdown: done", timeout=40)
    _root_state(live, "initial", timeout=30)
    live.wait_for_contains_text("#ctl-run-history-table", "1100")
    assert simulator.root.state == "initial" and not simulator.root.in_error
    assert [e.outcome for e in sim_services.audit.query(action="controller.sequence")] == ["ok"] * 3
    assert not sim_services.audit.query(action="controller.recompute_status"), "never called by itself"
    logs = live.get_logs()
    assert logs == [], [entry["message"][:500] for entry in logs]
