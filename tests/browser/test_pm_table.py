"""Process Manager table in headless Chromium against the simulator: kill flow, viewer, backend down, URL state."""

from __future__ import annotations

import json
from urllib.parse import quote

import grpc
import pytest
from dash.testing.wait import until
from dash_calls import body_for, server_callbacks
from helpers import browser_login, forge_callback
from selenium.webdriver.common.by import By

from components import process_table as ids

pytestmark = pytest.mark.browser

ROWS = f"#{ids.GRID} .ag-center-cols-container .ag-row"


def _wait_rows(live, n: int) -> None:
    live.wait_for_text_to_equal(f"#{ids.SHOWN}", f"{n} shown")
    assert len(live.find_elements(ROWS)) == n


def test_shifter_selects_two_rows_kills_them_and_sees_the_toasts(sim_live, sim_services):
    browser_login(sim_live, "shifter", next_path="/process-manager")
    _wait_rows(sim_live, 4)
    sim_live.wait_for_text_to_equal(f"#{ids.COUNT}", "4 processes · 4 running · 0 dead")
    assert "updated" in sim_live.find_element(f"#{ids.STATUS}").text
    kill = sim_live.find_element(f"#{ids.KILL}")
    assert not kill.is_enabled()
    boxes = sim_live.find_elements(f"{ROWS} .ag-selection-checkbox input")
    boxes[0].click()
    boxes[1].click()
    sim_live.wait_for_text_to_equal(f"#{ids.SELECTED}", "2 selected")
    names = [r.find_element(By.CSS_SELECTOR, "[col-id='name']").text for r in sim_live.find_elements(ROWS)[:2]]
    # Another operator kills a third process: its row leaves by a transaction and the selection survives it.
    other = next(p for p in sim_services.drunc.process_manager("t").ps() if p.name not in names)
    sim_services.drunc.process_manager("someone-else").kill(uuids=[other.uuid])
    _wait_rows(sim_live, 3)
    assert sim_live.find_element(f"#{ids.SELECTED}").text == "2 selected"
    kill.click()
    for name in names:
        sim_live.wait_for_contains_text("#pm-confirm-targets", name)
    sim_live.find_element(f"#{ids.CONFIRM_OK}").click()
    sim_live.wait_for_contains_text("#toasts", "killed (exit code")
    _wait_rows(sim_live, 1)  # drunc removes killed processes from ps
    sim_live.wait_for_text_to_equal(f"#{ids.COUNT}", "1 process · 1 running · 0 dead")
    assert len(sim_services.drunc.process_manager("t").ps()) == 1
    assert [e.outcome for e in sim_services.audit.query(action="process.kill")] == ["ok"]
    assert sim_live.get_logs() == []


def test_filters_live_in_the_url(sim_live):
    browser_login(sim_live, "viewer", next_path=quote("/process-manager?name=app-1&refresh=5"))
    _wait_rows(sim_live, 2)
    assert sim_live.find_element(f"#{ids.REFRESH} input[value='5']").is_selected()
    quick = sim_live.find_element(f"#{ids.QUICK}")
    quick.send_keys("nothing-matches")
    _wait_rows(sim_live, 0)
    until(lambda: "q=nothing-matches" in sim_live.driver.current_url, timeout=5)
    assert "name=app-1" in sim_live.driver.current_url
    assert sim_live.get_logs() == []


def test_viewer_sees_the_controls_disabled_and_a_forged_kill_is_refused(sim_live, sim_services):
    browser_login(sim_live, "viewer", next_path="/process-manager")
    _wait_rows(sim_live, 4)
    for button in (ids.KILL, ids.RESTART, ids.FLUSH, ids.TERMINATE):
        assert not sim_live.find_element(f"#{button}").is_enabled(), button
    assert "process.terminate" in sim_live.find_element(f"#{ids.TERMINATE}-guard").get_attribute("title")
    assert not sim_live.find_element(f"{ROWS} .rc-logs-button").is_enabled()

    target = sim_services.drunc.process_manager("t").ps()[0]
    key, spec = next((k, s) for k, s in server_callbacks(sim_live.rc_app).items()
                     if any(i["id"] == ids.CONFIRM_OK for i in s["inputs"]))
    body = body_for(key, spec, values={f"{ids.CONFIRM_OK}.n_clicks": 1,
                                       f"{ids.PENDING}.data": {"action": "kill", "targets": [
                                           {"uuid": target.uuid, "name": target.name}]}},
                    triggered=f"{ids.CONFIRM_OK}.n_clicks")
    result = forge_callback(sim_live, body)
    assert result["status"] == 200 and "Not allowed" in result["text"]
    assert json.loads(result["text"]).get("response", {}) == {}
    assert len(sim_services.drunc.process_manager("t").ps()) == 4
    [denied] = sim_services.audit.query(username="viewer", outcome="denied")
    assert denied.action == "process.kill" and target.uuid[:8] in denied.target


def test_backend_down_shows_a_banner_and_greys_the_table_then_recovers(sim_live, simulator):
    from concurrent import futures

    browser_login(sim_live, "shifter", next_path="/process-manager")
    _wait_rows(sim_live, 4)
    address = simulator.addresses["process_manager"]
    pm_server = simulator.servers[0]
    pm_server.stop(0).wait()
    banner = sim_live.wait_for_element(f"#{ids.BANNER}", timeout=10)
    sim_live.wait_for_contains_text(f"#{ids.BANNER}", f"Process manager {address} is unreachable", timeout=10)
    assert "rc-stale" in sim_live.find_element(f"#{ids.GRID_WRAP}").get_attribute("class")
    assert "last known state" in banner.text
    assert len(sim_live.find_elements(ROWS)) == 4, "the last known rows stay"
    sim_live.wait_for_contains_text(f"#{ids.STATUS}", "update failed")

    restarted = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    simulator.process_manager.add_to_server(restarted)
    restarted.add_insecure_port(address)
    restarted.start()
    simulator.servers[0] = restarted
    sim_live.wait_for_contains_text(f"#{ids.STATUS}", "updated", timeout=15)
    until(lambda: "rc-stale" not in sim_live.find_element(f"#{ids.GRID_WRAP}").get_attribute("class"),
                      timeout=10)
    until(lambda: not sim_live.find_elements(f"#{ids.BANNER}"), timeout=5)  # a closed Alert unmounts
    assert sim_live.get_logs() == []
