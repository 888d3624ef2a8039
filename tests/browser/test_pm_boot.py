"""Boot from the Process Manager page in headless Chromium, against the simulator."""

from __future__ import annotations

import json

import pytest
from helpers import browser_login
from selenium.webdriver.common.by import By

from components import boot_form as ui

pytestmark = pytest.mark.browser


def _type(live, field: str, text: str) -> None:
    element = live.find_element(f"#{ui.FIELD_IDS[field]}")
    element.clear()
    element.send_keys(text)


def test_an_invalid_tree_id_is_shown_inline_and_boots_nothing_then_the_fixed_form_boots(sim_live, sim_services):
    pm = sim_services.drunc.process_manager("t")
    before = sorted(p.name for p in pm.ps())
    browser_login(sim_live, "expert", next_path="/process-manager")
    sim_live.wait_for_element(f"#{ui.OPEN}:not([disabled])").click()
    sim_live.wait_for_element(f"#{ui.MODAL} #{ui.FIELD_IDS['name']}")
    # the configured DAQ account (BOOT_DEFAULT_USER), not the web user's name, which is no Unix account there
    assert sim_live.find_element(f"#{ui.FIELD_IDS['user']}").get_attribute("value") == "daq"
    assert "Unix account on the DAQ host" in sim_live.find_element(f"#{ui.MODAL}").text
    assert sim_live.find_element(f"#{ui.FIELD_IDS['log_path']}").get_attribute("value") == ""
    assert sim_live.find_element(f"#{ui.FIELD_IDS['allowed_hosts']}").get_attribute("value") == "localhost"
    _type(sim_live, "name", "browser-boot")
    _type(sim_live, "session", "test")
    _type(sim_live, "executable", "sleep")
    _type(sim_live, "arguments", "30")
    _type(sim_live, "tree_id", "x")
    sim_live.find_element(f"#{ui.SUBMIT}").click()

    sim_live.wait_for_element(f"#{ui.FIELD_IDS['tree_id']}.is-invalid")
    sim_live.wait_for_contains_text(f"#{ui.FEEDBACK_IDS['tree_id']}", "is not a tree id")
    assert sim_live.find_element(f"#{ui.FEEDBACK_IDS['tree_id']}").is_displayed()
    assert not sim_live.find_element(f"#{ui.FEEDBACK_IDS['name']}").is_displayed()
    sim_live.wait_for_contains_text(f"#{ui.FORM_ERROR}", "Nothing was booted")
    assert sorted(p.name for p in pm.ps()) == before
    [event] = sim_services.audit.query(action="process.boot")
    assert event.outcome == "failed"

    _type(sim_live, "tree_id", "1.4.2")
    sim_live.find_element(f"#{ui.SUBMIT}").click()
    sim_live.wait_for_contains_text("#toasts", "Booted browser-boot")
    sim_live.wait_for_no_elements(f"#{ui.MODAL}.show")  # the modal closes
    [booted] = [p for p in pm.ps() if p.name == "browser-boot"]
    assert (booted.tree_id, booted.user, booted.status) == ("1.4.2", "daq", "RUNNING")
    assert booted.log_path.startswith(sim_services.settings.boot_log_dir + "/log_daq_test_browser-boot_")
    assert booted.uuid in sim_live.find_element("#toasts").text
    assert [e.outcome for e in sim_services.audit.query(action="process.boot")] == ["ok", "failed"]
    assert sim_live.get_logs() == []


def test_a_json_file_is_previewed_before_booting(sim_live, sim_services, tmp_path):
    path = tmp_path / "procs.json"
    path.write_text(json.dumps([
        {"name": "file-one", "session": "test", "executable": "sleep", "arguments": ["30"]},
        {"name": "file-two", "session": "test", "executable": "sleep", "arguments": "30", "tree_id": "1.5.1"},
    ]))
    browser_login(sim_live, "expert", next_path="/process-manager")
    sim_live.wait_for_element(f"#{ui.OPEN}:not([disabled])").click()
    sim_live.wait_for_element(f"#{ui.TABS} .nav-link:not(.active)").click()  # the "From a JSON file" tab
    sim_live.wait_for_element(f"#{ui.UPLOAD}")
    sim_live.driver.find_element(By.CSS_SELECTOR, f"#{ui.UPLOAD} input[type=file]").send_keys(str(path))
    sim_live.wait_for_contains_text(f"#{ui.PREVIEW}", "file-two")
    sim_live.wait_for_contains_text(f"#{ui.PREVIEW}", "/log_daq_test_file-two_")  # the derived log path
    sim_live.wait_for_text_to_equal(f"#{ui.FILE_SUBMIT}", "Boot 2 processes")
    assert not {"file-one", "file-two"} & {p.name for p in sim_services.drunc.process_manager("t").ps()}
    sim_live.wait_for_element(f"#{ui.FILE_SUBMIT}:not([disabled])").click()
    sim_live.wait_for_contains_text("#toasts", "Booted file-two")
    sim_live.wait_for_no_elements(f"#{ui.MODAL}.show")
    assert {"file-one", "file-two"} <= {p.name for p in sim_services.drunc.process_manager("t").ps()}
    assert sim_live.get_logs() == []
