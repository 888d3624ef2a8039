"""A session cookie copied before logout, a password change, disabling or "end sessions" is refused at once
(401 on Dash requests, the login page otherwise); an idle one too. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dash_calls import post, server_callbacks
from sqlalchemy import select, update
from support import PASSWORD, csrf_token, login, make_services, make_settings

from pages import admin_users as page
from store.models import LoginSession, utcnow

COOKIE = "runcontrol_session"


@pytest.fixture
def web(tmp_path, database_url):
    from app import create_app

    settings = make_settings(tmp_path, database_url=database_url)
    services = make_services(settings)
    app = create_app(settings, services)
    yield app, services
    services.close()


def _logged_in(app, username: str):
    client = app.server.test_client()
    assert login(client, username).status_code == 302
    assert client.get("/").status_code == 200  # sets the CSRF cookie
    return client


def _copy(app, client):
    """Another browser holding the same session cookie (a stolen or left-behind copy)."""
    thief = app.server.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def _accepted(client) -> bool:
    return client.get("/_dash-layout").status_code == 200 and client.get("/process-manager").status_code == 200


def _refused(client) -> bool:
    layout = client.get("/_dash-layout")
    page_load = client.get("/process-manager")
    return (
        layout.status_code == 401
        and layout.is_json
        and page_load.status_code == 302
        and page_load.headers["Location"].startswith("/login")
    )


def _admin_change(app, admin, button, **states):
    key, spec = next((k, s) for k, s in server_callbacks(app).items()
                     if any(i["id"] == page.CREATE for i in s["inputs"]))
    values = {f"{button}.n_clicks": 1, f"{page.CHANGED}.data": 0}
    values.update({f"{component}.value": value for component, value in states.items()})
    response = post(admin, key, spec, token=csrf_token(admin), values=values, triggered=f"{button}.n_clicks")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def test_a_cookie_copied_before_logout_is_refused(web):
    app, services = web
    shifter = _logged_in(app, "shifter")
    copy = _copy(app, shifter)
    assert _accepted(copy)
    assert shifter.post("/logout", data={"csrf_token": csrf_token(shifter)}).status_code == 302
    assert _refused(copy)
    assert _refused(shifter)
    assert _accepted(_logged_in(app, "shifter")), "a fresh login works afterwards"


def test_logout_ends_only_that_session(web):
    app, _ = web
    desk, laptop = _logged_in(app, "shifter"), _logged_in(app, "shifter")
    desk.post("/logout", data={"csrf_token": csrf_token(desk)})
    assert _accepted(laptop)


def test_the_login_page_says_the_session_ended(web):
    app, _ = web
    shifter = _logged_in(app, "shifter")
    copy = _copy(app, shifter)
    shifter.post("/logout", data={"csrf_token": csrf_token(shifter)})
    response = copy.get("/process-manager")
    assert "ended=1" in response.headers["Location"]
    assert "Your session has ended" in copy.get(response.headers["Location"]).get_data(as_text=True)


def test_a_password_change_by_an_administrator_ends_the_sessions(web):
    app, services = web
    copy = _copy(app, _logged_in(app, "shifter"))
    admin = _logged_in(app, "admin")
    body = _admin_change(app, admin, page.SET_PASSWORD, **{page.SELECTED: "shifter", page.PASSWORD: "new-pw-1"})
    assert "open sessions were ended" in str(body["sideUpdate"]["toasts"])
    assert _refused(copy)
    assert _accepted(admin), "the administrator's own session is untouched"
    assert login(app.server.test_client(), "shifter", "new-pw-1").status_code == 302


def test_a_password_change_in_the_store_ends_the_sessions(web):
    app, services = web
    copy = _copy(app, _logged_in(app, "shifter"))
    services.users.set_password("shifter", "new-pw-2")  # what manage.py users set-password does
    assert _refused(copy)


def test_disabling_ends_the_sessions_and_enabling_does_not_revive_them(web):
    app, services = web
    copy = _copy(app, _logged_in(app, "shifter"))
    admin = _logged_in(app, "admin")
    _admin_change(app, admin, page.DISABLE, **{page.SELECTED: "shifter"})
    assert _refused(copy)
    _admin_change(app, admin, page.ENABLE, **{page.SELECTED: "shifter"})
    assert _refused(copy)
    assert _accepted(_logged_in(app, "shifter"))


def test_an_administrator_ends_a_users_sessions(web):
    app, services = web
    shifter_tabs = [_logged_in(app, "shifter") for _ in range(2)]
    viewer = _logged_in(app, "viewer")
    admin = _logged_in(app, "admin")
    shifter_id = services.users.get("shifter").id
    assert services.login_sessions.active_counts()[shifter_id] == 2
    body = _admin_change(app, admin, page.END_SESSIONS, **{page.SELECTED: "shifter"})
    assert "2 open sessions ended" in str(body["sideUpdate"]["toasts"])
    assert all(_refused(tab) for tab in shifter_tabs)
    assert _accepted(viewer) and _accepted(admin)
    [event] = services.audit.query(action="user.end_sessions")
    assert (event.username, event.target, event.outcome, event.arguments) == ("admin", "shifter", "ok",
                                                                              {"sessions": 2})


def test_only_an_administrator_may_end_sessions(web):
    app, services = web
    victim = _logged_in(app, "viewer")
    shifter = _logged_in(app, "shifter")
    key, spec = next((k, s) for k, s in server_callbacks(app).items()
                     if any(i["id"] == page.CREATE for i in s["inputs"]))
    values = {f"{page.END_SESSIONS}.n_clicks": 1, f"{page.SELECTED}.value": "viewer"}
    response = post(shifter, key, spec, token=csrf_token(shifter), values=values,
                    triggered=f"{page.END_SESSIONS}.n_clicks")
    assert response.status_code == 200 and "Not allowed" in str(response.json["sideUpdate"]["toasts"])
    assert _accepted(victim)
    [event] = services.audit.query(action="user.change", outcome="denied")
    assert (event.username, event.target) == ("shifter", "viewer")


def test_the_roster_counts_open_sessions(web):
    app, services = web
    _logged_in(app, "shifter")
    admin = _logged_in(app, "admin")
    key, spec = next((k, s) for k, s in server_callbacks(app).items()
                     if any(o == f"{page.GRID}.rowData" for o in k.strip(".").split("...")))
    response = post(admin, key, spec, token=csrf_token(admin), values={f"{page.CHANGED}.data": 1})
    rows = {r["username"]: r["sessions"] for r in response.json["response"][page.GRID]["rowData"]}
    assert rows == {"admin": 1, "expert": 0, "shifter": 1, "viewer": 0}


def test_an_idle_session_is_refused_and_a_fresh_login_works(web):
    app, services = web
    shifter = _logged_in(app, "shifter")
    idle = services.settings.session_idle_minutes
    with services.db.session() as s:
        s.execute(update(LoginSession).values(last_seen=utcnow() - timedelta(minutes=idle + 1)))
    assert _refused(shifter)
    assert _accepted(_logged_in(app, "shifter"))


def test_polling_does_not_write_on_every_request(web):
    app, services = web
    shifter = _logged_in(app, "shifter")
    with services.db.session() as s:
        before = s.scalar(select(LoginSession.last_seen))
    for _ in range(10):
        assert shifter.get("/_dash-layout").status_code == 200
    with services.db.session() as s:
        assert s.scalar(select(LoginSession.last_seen)) == before


@pytest.mark.parametrize("forged", ["1", "1:", "x:y", "1:not-a-token", ""])
def test_a_cookie_without_a_live_session_is_refused(web, forged):
    app, _ = web
    client = app.server.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = forged  # what a cookie signed before this change (user id only) holds
        session["_fresh"] = True
    assert _refused(client)


def test_the_right_password_still_works_after_all_this(web):
    app, services = web
    services.users.end_sessions("shifter")
    assert login(app.server.test_client(), "shifter", PASSWORD).status_code == 302


def test_a_new_worker_seeding_the_demo_users_ends_no_session(tmp_path, database_url):
    """Every gunicorn worker seeds the demo users when it starts: that must not log the shift out."""
    from app import create_app
    from services import Services

    settings = make_settings(tmp_path, database_url=database_url, demo=True, demo_password=PASSWORD)
    first = Services.from_settings(settings)
    app = create_app(settings, first)
    client = _logged_in(app, "shifter")
    second = Services.from_settings(settings)  # the next worker starting
    second.prepare()
    try:
        assert _accepted(client)
    finally:
        second.close()
        first.close()
