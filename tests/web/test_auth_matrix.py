"""The auth matrix, enumerated from the app itself: every route and every server callback.

A new route or callback is covered the moment it is registered; one that is not guarded fails here.
"""

from __future__ import annotations

import re

import pytest
from dash_calls import post, server_callbacks
from support import USERS, csrf_token

from auth.guard import PUBLIC_PATHS, PUBLIC_PREFIXES
from auth.permissions import DEFAULT_ROLES

SAMPLE_ARGS = {"path": "some/page", "filename": "auth.js", "package_name": "dash", "fingerprinted_path": "x.js"}


def _concrete(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: SAMPLE_ARGS[m.group(1)], rule)


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def test_every_route_is_guarded_for_anonymous_users(app):
    client = app.server.test_client()
    checked = 0
    for rule in app.server.url_map.iter_rules():
        path = _concrete(rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method)
            checked += 1
            if _is_public(path):
                assert response.status_code != 401, (method, path)
                continue
            if path.startswith(("/_dash-", "/_reload-hash")):
                assert response.status_code == 401, (method, path, response.status_code)
                assert response.is_json
            else:
                assert response.status_code == 302, (method, path, response.status_code)
                assert response.headers["Location"].startswith("/login?next=")
    assert checked >= 10


def test_only_the_expected_paths_are_public(app):
    public = {r.rule for r in app.server.url_map.iter_rules() if _is_public(_concrete(r.rule))}
    assert public == {
        "/login",
        "/health",
        "/_favicon.ico",
        "/favicon.ico",  # the icon itself (web/static_cache.py), not Dash's index page
        "/assets/<path:filename>",
        "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
    }


def test_every_server_callback_declares_its_permission(app):
    callbacks = server_callbacks(app)
    assert callbacks
    for key, spec in callbacks.items():
        assert hasattr(spec["callback"], "required_permission"), f"{key} was not registered by guarded_callback"


def test_every_callback_refuses_anonymous_calls(app):
    client = app.server.test_client()
    for key, spec in server_callbacks(app).items():
        assert post(client, key, spec).status_code == 401, key


def test_every_callback_refuses_calls_without_csrf(app, logged_in):
    client = logged_in(app.server.test_client(), "admin")
    for key, spec in server_callbacks(app).items():
        response = post(client, key, spec)  # no X-CSRFToken header
        assert response.status_code == 400, key


def _users_without(permission: str) -> list[str]:
    return [user for user, role in USERS.items() if permission not in DEFAULT_ROLES[role][1]]


def _guarded(app):
    return [
        (key, spec)
        for key, spec in server_callbacks(app).items()
        if spec["callback"].required_permission is not None
    ]


def test_mutating_callbacks_exist_and_viewers_hold_none_of_their_permissions(app):
    mutating = [s for _, s in _guarded(app) if s["callback"].audit_action]
    assert mutating, "no mutating callback registered"
    for spec in mutating:
        assert "viewer" in _users_without(spec["callback"].required_permission)


@pytest.mark.parametrize("username", [u for u in USERS if u != "admin"])
def test_missing_permission_is_refused_audited_and_changes_nothing(app, services, logged_in, username):
    client = logged_in(app.server.test_client(), username)
    token = csrf_token(client)
    for key, spec in _guarded(app):
        permission = spec["callback"].required_permission
        if username not in _users_without(permission):
            continue
        before = len(services.audit.query(username=username, outcome="denied"))
        users_before = services.users.list_users()
        response = post(client, key, spec, token=token)
        assert response.status_code == 200, key
        body = response.json
        assert body.get("response", {}) == {}, f"{key} produced outputs for {username}"
        assert "Not allowed" in str(body["sideUpdate"]["toasts"]), key
        denied = services.audit.query(username=username, outcome="denied")
        assert len(denied) == before + 1, key
        assert denied[0].detail == f"missing permission {permission}"
        assert services.users.list_users() == users_before


def test_permitted_read_callbacks_answer(app, logged_in):
    client = logged_in(app.server.test_client(), "viewer")
    token = csrf_token(client)
    for key, spec in server_callbacks(app).items():
        if spec["callback"].required_permission in (None, "view"):
            response = post(client, key, spec, token=token, values={"url.pathname": "/"})
            assert response.status_code == 200, (key, response.get_data(as_text=True)[:300])
            assert "Server error" not in response.get_data(as_text=True), key
