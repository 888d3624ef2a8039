"""Login, logout, the guard and CSRF through the Flask test client."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import PASSWORD, csrf_token, login, login_form_token

ROOT = Path(__file__).resolve().parents[2]


def test_login_page_is_public_and_has_a_csrf_field(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert re.search(r'name="csrf_token" type="hidden" value="[^"]+"', page.get_data(as_text=True))


@pytest.mark.parametrize("path", ["/", "/process-manager", "/audit", "/users", "/help", "/no-such-page"])
def test_anonymous_page_loads_redirect_to_login_with_next(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={path}"


@pytest.mark.parametrize(
    "method,path", [("GET", "/_dash-layout"), ("GET", "/_dash-dependencies"), ("POST", "/_dash-update-component")]
)
def test_anonymous_dash_requests_get_401_json(client, method, path):
    response = client.open(path, method=method, json={} if method == "POST" else None)
    assert response.status_code == 401
    assert response.is_json and response.json["error"] == "login required"


def test_health_is_public_json(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["checks"]["database"]["status"] == "ok"


def test_assets_are_public(client):
    assert client.get("/assets/lib/bootstrap.min.css").status_code == 200
    assert client.get("/assets/auth.js").status_code == 200


def test_wrong_password_does_not_log_in_and_is_audited(client, services):
    response = login(client, "admin", "wrong")
    assert response.status_code == 401
    assert "didn&#39;t match" in response.get_data(as_text=True) or "didn't match" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    [event] = services.audit.query(action="login")
    assert (event.username, event.outcome) == ("admin", "failed")


def test_unknown_user_fails_like_a_wrong_password(client, services):
    assert login(client, "nobody", "whatever").status_code == 401
    assert services.audit.query(action="login")[0].username == "nobody"


def test_right_password_logs_in_redirects_to_next_and_is_audited(client, services):
    token = login_form_token(client, "/login?next=/audit")
    response = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token,
                                           "next": "/audit"})
    assert response.status_code == 302 and response.headers["Location"] == "/audit"
    assert client.get("/audit").status_code == 200
    [event] = services.audit.query(action="login")
    assert (event.username, event.outcome) == ("admin", "ok")


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil", "/_dash-layout"])
def test_next_never_leaves_the_site(client, target):
    token = login_form_token(client, "/login")
    response = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token,
                                           "next": target})
    assert response.headers["Location"] == "/"


def test_login_without_csrf_token_is_refused(client):
    response = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 302 and "expired=1" in response.headers["Location"]
    assert client.get("/").status_code == 302


def test_empty_form_gets_a_clear_message(client):
    token = login_form_token(client, "/login")
    response = client.post("/login", data={"username": "", "password": "", "csrf_token": token})
    assert response.status_code == 400
    assert "Enter your user name." in response.get_data(as_text=True)


def test_logout_is_a_csrf_protected_post_and_is_audited(client, services, logged_in):
    logged_in(client, "shifter")
    client.get("/logout")  # a GET (a link, a prefetch) never logs out
    assert client.get("/_dash-layout").status_code == 200
    refused = client.post("/logout")  # no token
    assert refused.status_code == 302
    assert client.get("/").status_code == 200, "a logout without the token must not log out"
    response = client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/").status_code == 302
    assert [e.outcome for e in services.audit.query(action="logout", username="shifter")] == ["ok"]


def test_callback_post_without_csrf_header_is_refused(client, logged_in):
    logged_in(client, "admin")
    response = client.post("/_dash-update-component", json={"output": "x.children"})
    assert response.status_code == 400
    assert "CSRF" in response.json["error"]


def test_malformed_callback_body_gets_400_not_500(client, logged_in):
    logged_in(client, "admin")
    token = csrf_token(client)
    for body in ({}, {"output": "nope.children", "inputs": [], "changedPropIds": []}):
        response = client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": token})
        assert response.status_code == 400 and response.is_json
    response = client.post("/_dash-update-component", data="not json", content_type="application/json",
                           headers={"X-CSRFToken": token})
    assert response.status_code == 400 and response.is_json


def test_login_is_rate_limited_per_user(client, services):
    for _ in range(5):
        assert login(client, "viewer", "wrong").status_code == 401
    blocked = login(client, "viewer", PASSWORD)
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert services.audit.query(action="login", outcome="denied")[0].detail == "rate limited"
    # other users are not affected by this user's failures
    assert login(client, "shifter").status_code == 302


def test_login_is_rate_limited_per_address(client):
    for i in range(20):
        login(client, f"someone{i}", "wrong")
    assert login(client, "admin").status_code == 429


def test_session_cookie_flags(client):
    response = login(client, "admin")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("runcontrol_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_session_cookie_is_secure_behind_https_proxy(tmp_path):
    from support import make_services, make_settings

    from app import create_app

    settings = make_settings(tmp_path, trusted_proxies=1)
    client = create_app(settings, make_services(settings)).server.test_client()
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.9"}
    page = client.get("/login", headers=headers)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token},
                           headers={**headers, "Referer": "https://localhost/login"})
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith("runcontrol_session=") and "Secure" in c for c in cookies), cookies


def test_disabled_account_loses_its_session(client, services, logged_in):
    logged_in(client, "shifter")
    services.users.set_active("shifter", False)
    assert client.get("/").status_code == 302
    assert client.get("/_dash-layout").status_code == 401


def test_production_start_without_secret_key_is_a_clear_error(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", "import app; app.server"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert "SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_gunicorn_without_secret_key_stops_with_a_clear_error(tmp_path):
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "DATA_DIR": str(tmp_path), "HOME": str(tmp_path)}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "gunicorn"), "app:server", "-b", "127.0.0.1:0", "--no-control-socket"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "error: SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr
