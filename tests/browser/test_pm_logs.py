"""The log panel in headless Chromium against the simulator: open from the row, follow, search."""

from __future__ import annotations

import re

import pytest
from dash.testing.wait import until
from helpers import SHELL_READY, browser_login

from components import log_viewer as ids

pytestmark = pytest.mark.browser


def _lines(dash_duo) -> list[str]:
    return [line for line in dash_duo.find_element(f"#{ids.PRE}").text.splitlines() if line.strip()]


def test_logs_open_from_the_row_follow_and_search(sim_live, sim_services):
    dash_duo = sim_live
    process = sorted(sim_services.drunc.process_manager("t").ps(), key=lambda p: p.name)[0]
    browser_login(dash_duo, "shifter", next_path="/process-manager")
    dash_duo.wait_for_element(SHELL_READY)
    dash_duo.wait_for_element(f'div.ag-row[row-id="{process.uuid}"] div[col-id="logs"] button').click()

    dash_duo.wait_for_element(f"#{ids.PANEL}.show:not(.showing)")  # slid in: nothing moves any more
    dash_duo.wait_for_text_to_equal(f"#{ids.TITLE}", f"{process.name} · {process.uuid[:8]}")
    dash_duo.wait_for_contains_text(f"#{ids.PRE}", "heartbeat")
    dash_duo.wait_for_contains_text(f"#{ids.STATUS}", "UTC")

    # Follow: the process echoes a heartbeat every 2 s, and the panel appends it without being asked.
    last = _lines(dash_duo)[-1]
    until(lambda: _lines(dash_duo)[-1] != last, timeout=10, msg="no new heartbeat line was appended")
    lines = _lines(dash_duo)
    assert len(lines) == len(set(lines)), "a line was shown twice"
    assert dash_duo.driver.execute_script(
        f"var p = document.getElementById('{ids.PRE}'); return p.scrollHeight - p.scrollTop - p.clientHeight;"
    ) <= 24, "following keeps the end of the log in view"

    # Search: matches are counted and highlighted without touching the text.
    dash_duo.find_element(f"#{ids.SEARCH}").send_keys("HEARTBEAT")
    until(lambda: re.fullmatch(r"[\d,]+ matches", dash_duo.find_element(f"#{ids.MATCHES}").text), timeout=5,
          msg="no match count")
    count = int(dash_duo.find_element(f"#{ids.MATCHES}").text.split()[0].replace(",", ""))
    beats = sum("heartbeat" in line for line in lines)
    assert count >= beats > 1
    highlighted = dash_duo.driver.execute_script(
        "return window.CSS && CSS.highlights && CSS.highlights.has('rc-log-match') ? "
        "CSS.highlights.get('rc-log-match').size : -1;")
    assert highlighted in (-1, count) or highlighted >= beats
    assert dash_duo.find_elements(f"#{ids.PRE} mark") == [], "no DOM rewriting"
    assert dash_duo.get_logs() == []
