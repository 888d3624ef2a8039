"""Browser tests in headless Chromium: login, logout, every page, disabled controls, forged calls."""

from __future__ import annotations

import json

import pytest
from dash_calls import body_for, server_callbacks
from helpers import SHELL_READY, browser_login, forge_callback, open_page
from selenium.webdriver.common.by import By

from pages import PAGES, admin_users

pytestmark = pytest.mark.browser


def test_login_then_logout(live, services):
    browser_login(live, "admin")
    live.wait_for_element(SHELL_READY)
    live.wait_for_text_to_equal("h1", "Overview")
    live.find_element("#user-menu-dropdown button").click()
    live.wait_for_element("#logout-button").click()
    live.wait_for_element(".alert-info")
    assert "/login" in live.driver.current_url
    assert "logged out" in live.find_element(".alert-info").text
    actions = [(e.action, e.outcome) for e in services.audit.query(username="admin")]
    assert actions[:2] == [("logout", "ok"), ("login", "ok")]
    # after logout the app is closed again
    live.driver.get(f"{live.server.url}/audit")
    live.wait_for_element("#login-submit")


def test_wrong_password_shows_a_message(live):
    browser_login(live, "admin", "not-the-password")
    assert "didn't match" in live.wait_for_element("#login-error").text


@pytest.mark.parametrize("username", ["admin", "shifter", "viewer"])
def test_every_page_loads_without_console_errors(live, username):
    browser_login(live, username)
    live.wait_for_element(SHELL_READY)
    for page in PAGES:
        open_page(live, page.path)
        live.wait_for_text_to_equal("#page-content h1", page.title)
        live.wait_for_text_to_equal("#user-menu-dropdown button", username)
        assert live.driver.title.startswith(page.title)
        assert live.get_logs() == [], (username, page.path)


def test_viewer_sees_admin_controls_disabled_and_a_forged_call_is_refused(live, services, app_settings):
    browser_login(live, "viewer", next_path="/users")
    live.wait_for_text_to_equal("#page-content h1", "Users & roles")
    button = live.wait_for_element(f"#{admin_users.CREATE}")
    assert not button.is_enabled()
    wrap = live.find_element(f"#{admin_users.CREATE}-guard")
    assert "users.admin" in wrap.get_attribute("title")

    # Forge the callback the disabled button would trigger, from the logged-in page itself.
    key, spec = next(
        (k, s) for k, s in server_callbacks(live.rc_app).items()
        if any(i["id"] == admin_users.CREATE for i in s["inputs"])
    )
    body = body_for(key, spec, values={f"{admin_users.NEW_NAME}.value": "mallory",
                                       f"{admin_users.NEW_PASSWORD}.value": "pw-mallory",
                                       f"{admin_users.CREATE}.n_clicks": 1},
                    triggered=f"{admin_users.CREATE}.n_clicks")
    result = forge_callback(live, body)
    assert result["status"] == 200
    assert "Not allowed" in result["text"]
    assert json.loads(result["text"]).get("response", {}) == {}
    assert services.users.get("mallory") is None
    [denied] = services.audit.query(username="viewer", outcome="denied")
    assert denied.action == "user.change" and denied.target == "mallory"


def test_expired_session_lands_on_the_login_page(live):
    browser_login(live, "shifter")
    live.wait_for_element(SHELL_READY)
    live.driver.delete_cookie("runcontrol_session")
    live.find_element("#nav-audit").click()  # client-side navigation: the routing callback now gets a 401
    live.wait_for_element("#login-submit")
    assert "next=%2Faudit" in live.driver.current_url or "next=/audit" in live.driver.current_url


def test_dark_mode_persists_across_reloads(live):
    browser_login(live, "viewer")
    live.wait_for_element(SHELL_READY)
    live.find_element("#theme-switch").click()
    live.wait_for_element("html[data-bs-theme='dark']")
    live.driver.refresh()
    live.wait_for_element(SHELL_READY)
    assert live.driver.find_element(By.TAG_NAME, "html").get_attribute("data-bs-theme") == "dark"
