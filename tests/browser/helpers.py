"""Driving the real app in headless Chromium: log in through the form, wait for Dash to render."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from support import PASSWORD

SHELL_READY = "#user-menu-dropdown"


def browser_login(dash_duo, username: str, password: str = PASSWORD, next_path: str = "/") -> None:
    driver = dash_duo.driver
    driver.get(f"{dash_duo.server.url}/login?next={next_path}")
    dash_duo.wait_for_element("#username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()


def open_page(dash_duo, path: str) -> None:
    dash_duo.driver.get(f"{dash_duo.server.url}{path}")
    dash_duo.wait_for_element(SHELL_READY)
