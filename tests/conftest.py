"""Shared fixtures: settings on a fresh database, services, the app, logged-in test clients.

`database_url` runs a test on SQLite and, when the PostgreSQL test server is up (TEST_POSTGRES_URL, set by
`make test`), on PostgreSQL too. With REQUIRE_POSTGRES=1 a missing server is a failure, not a skip.
"""

from __future__ import annotations

import os
import re
import secrets
import uuid

import pytest
from sqlalchemy import create_engine, text

import settings as settings_module
from services import Services

PASSWORD = "test-password"
USERS = {"admin": "admin", "expert": "expert", "shifter": "shifter", "viewer": "viewer"}


def _postgres_admin_url() -> str | None:
    return os.environ.get("TEST_POSTGRES_URL") or None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    admin_url = _postgres_admin_url()
    if not admin_url:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but TEST_POSTGRES_URL is not set: the PostgreSQL test server is not up")
        pytest.skip("no PostgreSQL test server (make test starts one)")
    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = re.sub(r"/[^/]*$", f"/{name}", admin_url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def make_settings(tmp_path, **overrides) -> settings_module.Settings:
    base = settings_module.Settings(
        demo=False,
        secret_key=secrets.token_hex(16),
        database_url=f"sqlite:///{tmp_path / 'app.sqlite3'}",
        data_dir=tmp_path,
        log_level="WARNING",
    )
    return base.with_overrides(**overrides)


def make_services(settings) -> Services:
    services = Services.from_settings(settings)
    services.prepare()
    for name, role in USERS.items():
        services.users.create_user(name, PASSWORD, [role])
    return services


@pytest.fixture
def app_settings(tmp_path):
    return make_settings(tmp_path)


@pytest.fixture
def services(app_settings):
    s = make_services(app_settings)
    yield s
    s.db.dispose()


@pytest.fixture
def app(app_settings, services):
    from app import create_app

    return create_app(app_settings, services)


@pytest.fixture
def client(app):
    return app.server.test_client()


def login(client, username: str, password: str = PASSWORD):
    """Log in through the real form (CSRF token included); returns the response."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def csrf_token(client) -> str:
    cookie = client.get_cookie("_csrf_token")
    assert cookie is not None, "no CSRF cookie: log in and load a page first"
    return cookie.value


@pytest.fixture
def logged_in():
    """logged_in(client, user) logs the client in and loads a page so the CSRF cookie is set."""

    def _login(client, username: str):
        response = login(client, username)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        client.get("/")
        return client

    return _login
