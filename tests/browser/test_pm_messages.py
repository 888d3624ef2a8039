"""The process-manager message panel in headless Chromium: messages stored by hand (no simulator, no Kafka)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from dash.testing.wait import until
from helpers import browser_login
from selenium.webdriver.common.by import By

from components.message_panel import panel_ids
from store.messages import NewMessage

pytestmark = pytest.mark.browser

IDS = panel_ids("pm-msg")
ROWS = f"#{IDS.grid} .ag-center-cols-container .ag-row"
_offsets = itertools.count()


def insert(services, severity: str, text: str, source: str = "process_manager") -> None:
    services.messages.insert_batch([NewMessage(
        topic=f"control.s1.{source}", partition=0, offset=next(_offsets), time=datetime.now(UTC),
        kind="broadcast", severity=severity, session="s1", source=source,
        broadcast_type="ACK" if severity == "DEBUG" else "SERVER_READY", text=text,
    )])


def grid_cells(dash_duo, column: str, attribute: str = "textContent") -> list[str]:
    """One column's cells, top row first, read in one go (the grid re-renders rows while it updates)."""
    return dash_duo.driver.execute_script(
        """
        const [selector, column, attribute] = arguments;
        const rows = [...document.querySelectorAll(selector)];
        rows.sort((a, b) => Number(a.getAttribute('row-index')) - Number(b.getAttribute('row-index')));
        return rows.map(r => { const c = r.querySelector(`[col-id="${column}"]`); return c ? c[attribute] : ''; });
        """,
        ROWS, column, attribute,
    )


def grid_texts(dash_duo) -> list[str]:
    return grid_cells(dash_duo, "text")


def test_panel_shows_follows_filters_and_collapses(live, services):
    insert(services, "INFO", "booted alpha")
    insert(services, "DEBUG", "ack ps")
    insert(services, "WARNING", "low disk")
    insert(services, "ERROR", "controller trouble", source="root-controller")
    browser_login(live, "viewer", next_path="/process-manager")

    until(lambda: grid_texts(live) == ["low disk", "booted alpha"], 20, msg=lambda: grid_texts(live))
    live.wait_for_text_to_equal(f"#{IDS.count}", "2")
    live.wait_for_contains_text(f"#{IDS.status}", "no consumer has run yet")
    assert "rc-sev-warning" in grid_cells(live, "severity", "className")[0]

    # a new message appears on top by itself
    insert(services, "ERROR", "beta died")
    until(lambda: grid_texts(live)[:1] == ["beta died"], 10, msg=lambda: grid_texts(live))
    live.wait_for_text_to_equal(f"#{IDS.count}", "3")

    # untick Warning: its rows go
    live.driver.find_element(By.XPATH, f"//div[@id='{IDS.severity}']//label[text()='Warning']").click()
    until(lambda: grid_texts(live) == ["beta died", "booted alpha"], 10, msg=lambda: grid_texts(live))

    # collapse and expand
    grid = live.find_element(f"#{IDS.grid}")
    live.find_element(f"#{IDS.toggle}").click()
    until(lambda: not grid.is_displayed(), 5)
    live.find_element(f"#{IDS.toggle}").click()
    until(lambda: grid.is_displayed(), 5)
    assert live.get_logs() == []
