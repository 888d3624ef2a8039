"""Shared fixtures: settings on a fresh database, services, the app, logged-in test clients.

`database_url` runs a test on SQLite and, when the PostgreSQL test server is up (TEST_POSTGRES_URL, set by
`make test`), on PostgreSQL too. With REQUIRE_POSTGRES=1 a missing server is a failure, not a skip.
"""

from __future__ import annotations

import os
import re
import uuid

import pytest
from sqlalchemy import create_engine, text
from support import login, make_services, make_settings


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


@pytest.fixture
def app_settings(tmp_path):
    return make_settings(tmp_path)


@pytest.fixture
def services(app_settings):
    s = make_services(app_settings)
    yield s
    s.close()


@pytest.fixture
def app(app_settings, services):
    from app import create_app

    return create_app(app_settings, services)


@pytest.fixture
def client(app):
    return app.server.test_client()


@pytest.fixture
def simulator(request, tmp_path):
    """An in-process drunc simulator (real gRPC servers on free ports), 4 real processes, no Kafka. Speaks
    druncschema 0.8 unless a test parametrizes it indirectly with "0.11" (or "0.11-bugs": drunc 0.13.2's bugs)."""
    from simulator.run import SimulatorConfig, start_simulator

    layout = getattr(request, "param", "0.8")
    sim = start_simulator(SimulatorConfig(processes=4, segments=1, apps=2, log_dir=tmp_path / "sim-logs",
                                          schema=layout.split("-")[0], bugs=layout.endswith("-bugs")))
    yield sim
    sim.stop(0)


@pytest.fixture
def sim_settings(tmp_path, simulator):
    """Settings pointing at the `simulator` fixture."""
    return make_settings(
        tmp_path,
        process_manager_url=simulator.addresses["process_manager"],
        controller_url=simulator.addresses["controller"],
        session_manager_url=simulator.addresses["session_manager"],
        controller_addresses=tuple(simulator.controller_addresses.items()),
    )


@pytest.fixture
def sim_services(sim_settings):
    s = make_services(sim_settings)
    yield s
    s.close()


@pytest.fixture
def sim_app(sim_settings, sim_services):
    from app import create_app

    return create_app(sim_settings, sim_services)


@pytest.fixture
def logged_in():
    """logged_in(client, user) logs the client in and loads a page so the CSRF cookie is set."""

    def _login(client, username: str):
        response = login(client, username)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        client.get("/")
        return client

    return _login


def pytest_setup_options():
    """Chromium options for dash[testing]: Debian's browser, and no background traffic on a closed network."""
    import shutil

    from selenium.webdriver.chrome.options import Options

    options = Options()
    binary = os.environ.get("DASH_TEST_CHROMEPATH") or shutil.which("chromium")
    if binary:
        options.binary_location = binary
    for arg in (
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--disable-extensions",
        "--window-size=1400,900",
    ):
        options.add_argument(arg)
    return options
