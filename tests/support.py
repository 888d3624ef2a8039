"""Helpers shared by the tests: settings on a fresh database, seeded services, logging in."""

from __future__ import annotations

import re
import secrets

import settings as settings_module
from services import Services

PASSWORD = "test-password"
USERS = {"admin": "admin", "expert": "expert", "shifter": "shifter", "viewer": "viewer"}


def make_settings(tmp_path, **overrides) -> settings_module.Settings:
    base = settings_module.Settings(
        demo=False,
        secret_key=secrets.token_hex(16),
        database_url=f"sqlite:///{tmp_path / 'app.sqlite3'}",
        data_dir=tmp_path,
        log_level="WARNING",
        boot_log_dir=str(tmp_path / "boot-logs"),  # derived log paths of booted processes stay in the test's dir
        boot_default_user="daq",  # the DAQ account processes run as, unlike any web user's name
    )
    return base.with_overrides(**overrides)


def make_services(settings) -> Services:
    services = Services.from_settings(settings)
    services.prepare()
    for name, role in USERS.items():
        services.users.create_user(name, PASSWORD, [role])
    return services


def login_form_token(client, path: str = "/login") -> str:
    page = client.get(path)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def login(client, username: str, password: str = PASSWORD):
    """Log in through the real form (CSRF token included); returns the response."""
    token = login_form_token(client)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def csrf_token(client) -> str:
    cookie = client.get_cookie("_csrf_token")
    assert cookie is not None, "no CSRF cookie: log in and load a page first"
    return cookie.value
