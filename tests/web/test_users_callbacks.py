"""The Users & roles callbacks through the Flask test client, as an administrator."""

from __future__ import annotations

import pytest
from dash_calls import post, server_callbacks
from support import csrf_token

from pages import admin_users as page


@pytest.fixture
def admin_client(app, logged_in):
    return logged_in(app.server.test_client(), "admin")


def _change(app, client, button, **fields):
    key, spec = next((k, s) for k, s in server_callbacks(app).items()
                     if any(i["id"] == page.CREATE for i in s["inputs"]))
    values = {f"{button}.n_clicks": 1, f"{page.CHANGED}.data": 0}
    names = {"new_name": page.NEW_NAME, "new_password": page.NEW_PASSWORD, "selected": page.SELECTED,
             "role": page.ROLE, "password": page.PASSWORD}
    for name, value in fields.items():
        values[f"{page.NEW_ROLES}.value" if name == "new_roles" else f"{names[name]}.value"] = value
    response = post(client, key, spec, token=csrf_token(client), values=values, triggered=f"{button}.n_clicks")
    assert response.status_code == 200
    return response.json


def _toast(body) -> str:
    return str(body.get("sideUpdate", {}).get("toasts", ""))


def test_create_user_then_log_in_as_them(app, admin_client, services):
    body = _change(app, admin_client, page.CREATE, new_name="carol", new_password="pw-carol", new_roles=["shifter"])
    assert "User created" in _toast(body)
    assert body["response"][page.NEW_PASSWORD] == {"value": ""}, "the password field is cleared"
    assert services.users.verify("carol", "pw-carol").roles == ("shifter",)
    [event] = services.audit.query(action="user.create")
    assert (event.username, event.target, event.outcome, event.arguments) == ("admin", "carol", "ok",
                                                                              {"roles": ["shifter"]})
    assert "pw-carol" not in repr(services.audit.query())


def test_bad_input_is_a_toast_and_a_failed_audit_event(app, admin_client, services):
    body = _change(app, admin_client, page.CREATE, new_name="bad name!", new_password="pw-x", new_roles=[])
    assert "Not done" in _toast(body) and "user names are" in _toast(body)
    assert services.audit.query(action="user.create")[0].outcome == "failed"


def test_grant_revoke_and_set_password(app, admin_client, services):
    assert "Granted expert to viewer" in _toast(_change(app, admin_client, page.GRANT, selected="viewer",
                                                        role="expert"))
    assert "expert" in services.users.get("viewer").roles
    _change(app, admin_client, page.REVOKE, selected="viewer", role="expert")
    assert services.users.get("viewer").roles == ("viewer",)
    body = _change(app, admin_client, page.SET_PASSWORD, selected="viewer", password="new-pass")
    assert body["response"][page.PASSWORD] == {"value": ""}
    assert services.users.verify("viewer", "new-pass") is not None
    actions = [e.action for e in services.audit.query(username="admin") if e.action.startswith("user.")]
    assert actions == ["user.set_password", "user.revoke", "user.grant"]


def test_missing_selection_is_explained(app, admin_client):
    assert "Choose a user first." in _toast(_change(app, admin_client, page.GRANT, role="expert"))
    assert "Choose a role first." in _toast(_change(app, admin_client, page.GRANT, selected="viewer"))


def test_the_last_administrator_cannot_be_removed(app, admin_client, services):
    assert "You cannot disable your own account." in _toast(_change(app, admin_client, page.DISABLE,
                                                                    selected="admin"))
    assert "last active administrator" in _toast(_change(app, admin_client, page.REVOKE, selected="admin",
                                                         role="admin"))
    assert "users.admin" in services.users.get("admin").permissions


def test_disable_and_enable_an_account(app, admin_client, services):
    _change(app, admin_client, page.DISABLE, selected="shifter")
    assert services.users.get("shifter").active is False
    _change(app, admin_client, page.ENABLE, selected="shifter")
    assert services.users.get("shifter").active is True
