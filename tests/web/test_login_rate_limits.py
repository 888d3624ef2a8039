"""Login throttling per (user, address), per address and per user from anywhere: wrong passwords typed elsewhere
must not lock the real shifter out of the control room."""

from __future__ import annotations

import pytest
from support import PASSWORD, login, make_services, make_settings


@pytest.fixture
def make_app(tmp_path):
    built = []

    def _make(**overrides):
        from app import create_app

        settings = make_settings(tmp_path, **overrides)
        services = make_services(settings)
        built.append(services)
        return create_app(settings, services), services

    yield _make
    for services in built:
        services.close()


def _from(app, address: str):
    client = app.server.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_a_lockout_from_one_address_does_not_refuse_another(make_app):
    app, services = make_app()
    elsewhere, control_room = _from(app, "10.0.0.2"), _from(app, "10.0.0.3")
    for _ in range(5):
        assert login(elsewhere, "shifter", "wrong").status_code == 401
    blocked = login(elsewhere, "shifter", PASSWORD)  # the sixth attempt, even with the right password
    assert blocked.status_code == 429
    assert "for this user from your address" in blocked.get_data(as_text=True)
    assert login(control_room, "shifter", PASSWORD).status_code == 302
    assert login(elsewhere, "viewer", PASSWORD).status_code == 302, "other users from that address are fine"
    [denied] = services.audit.query(action="login", outcome="denied")
    assert (denied.username, denied.address, denied.detail) == ("shifter", "10.0.0.2", "rate limited")


def test_refused_attempts_do_not_extend_the_lockout(make_app):
    app, services = make_app()
    client = _from(app, "10.0.0.2")
    for _ in range(5):
        login(client, "shifter", "wrong")
    for _ in range(3):
        assert login(client, "shifter", "wrong").status_code == 429
    assert services.audit.count("login", outcome="failed", username="shifter") == 5


def test_one_address_trying_many_names_is_refused(make_app):
    app, _ = make_app()
    scanner, other = _from(app, "10.0.0.2"), _from(app, "10.0.0.3")
    for i in range(20):
        assert login(scanner, f"someone{i}", "wrong").status_code == 401
    blocked = login(scanner, "admin", PASSWORD)
    assert blocked.status_code == 429
    assert "from your address" in blocked.get_data(as_text=True)
    assert login(other, "admin", PASSWORD).status_code == 302


def test_a_user_has_a_ceiling_across_all_addresses(make_app):
    app, _ = make_app(login_max_failures_per_user=8)
    for address in ("10.0.1.1", "10.0.1.2"):
        client = _from(app, address)
        for _ in range(4):  # under the per-address limit of 5 at each
            assert login(client, "shifter", "wrong").status_code == 401
    fresh = _from(app, "10.0.1.3")
    blocked = login(fresh, "shifter", PASSWORD)
    assert blocked.status_code == 429
    assert "Too many failed attempts for this user." in blocked.get_data(as_text=True)
    assert login(fresh, "viewer", PASSWORD).status_code == 302


def test_the_default_ceilings(make_app):
    app, _ = make_app()
    limits = app.server.extensions["runcontrol.login_limits"]
    assert (limits.per_user_and_address, limits.per_address, limits.per_user) == (5, 20, 100)


def test_the_limits_are_read_from_the_environment():
    from settings import SettingsError, from_env

    env = {"SECRET_KEY": "x" * 32, "LOGIN_MAX_FAILURES": "3", "LOGIN_MAX_FAILURES_PER_ADDRESS": "30",
           "LOGIN_MAX_FAILURES_PER_USER": "300", "SESSION_IDLE_MINUTES": "15"}
    s = from_env(env)
    assert (s.login_max_failures, s.login_max_failures_per_address, s.login_max_failures_per_user) == (3, 30, 300)
    assert s.session_idle_minutes == 15
    for var in ("LOGIN_MAX_FAILURES_PER_USER", "SESSION_IDLE_MINUTES"):
        with pytest.raises(SettingsError, match=f"{var} must be at least 1"):
            from_env({**env, var: "0"})
