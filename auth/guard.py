"""Login guard and CSRF for every route, Dash's included.

Order matters: the guard is registered before CSRFProtect, so an anonymous request is answered 401 (or sent
to the login page) before its CSRF token is even looked at.
"""

from __future__ import annotations

from datetime import timedelta

from flask import g, jsonify, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, current_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf, validate_csrf
from wtforms.validators import ValidationError

from auth.user import Anonymous, LoginUser

PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/")
PUBLIC_PATHS = ("/login", "/health", "/_favicon.ico", "/favicon.ico")
DASH_PREFIXES = ("/_dash-", "/_reload-hash", "/_alive_")
CSRF_COOKIE = "_csrf_token"


def is_dash_request(path: str) -> bool:
    return path.startswith(DASH_PREFIXES)


class _SessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the request came over https (directly or via the proxy)."""

    def get_cookie_secure(self, app) -> bool:
        from flask import has_request_context

        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)


def _valid_csrf_cookie() -> bool:
    token = request.cookies.get(CSRF_COOKIE)
    if not token:
        return False
    try:
        validate_csrf(token)
    except ValidationError:
        return False
    return True


def init_auth(server, services) -> None:
    settings = services.settings
    server.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        SESSION_COOKIE_NAME="runcontrol_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        # The token lives as long as the session: a shifter's tab stays usable for the whole shift.
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=True,
        # The server ends sessions (idle timeout, lifetime, revocation: store/login_sessions.py), so the cookie
        # need not be re-sent with every answer: 100 tabs polling every second save ~0.5 KB per answer.
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    server.session_interface = _SessionInterface()

    manager = LoginManager()
    manager.anonymous_user = Anonymous
    manager.session_protection = "basic"
    manager.init_app(server)

    @manager.user_loader
    def load_user(session_id: str):
        # "user id:token". A revoked, idle or too old session, or a disabled account, is refused at once.
        user_id, _, token = (session_id or "").partition(":")
        try:
            info = services.login_sessions.load(int(user_id), token)
        except (TypeError, ValueError):
            info = None
        if info is None:
            g.login_session_ended = True
            return None
        return LoginUser(info, token)

    @server.before_request
    def require_login():
        path = request.path
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return None
        if current_user.is_authenticated:
            return None
        ended = g.pop("login_session_ended", False)
        if ended:
            logout_user()  # forget the dead session, so the next request does not look it up again
        if is_dash_request(path):
            return jsonify(error="login required", login="/login"), 401
        extra = {"ended": 1} if ended else {}
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?"), **extra))

    @server.before_request
    def make_session_permanent():
        if not session.permanent:  # assigning marks the session modified, which would re-send the cookie
            session.permanent = True

    csrf = CSRFProtect()
    csrf.init_app(server)

    @server.errorhandler(CSRFError)
    def csrf_refused(error):
        if is_dash_request(request.path):
            return jsonify(error="CSRF token missing or invalid: reload the page"), 400
        if request.path == "/logout":
            return redirect(url_for("auth.login"))
        return redirect(url_for("auth.login", expired=1))

    @server.after_request
    def csrf_cookie(response):
        # Dash's renderer copies this cookie into the X-CSRFToken header of every callback request. It is sent
        # when the browser has none valid for this session, not with every poll.
        if (current_user.is_authenticated and not request.path.startswith(PUBLIC_PREFIXES)
                and not _valid_csrf_cookie()):
            response.set_cookie(
                CSRF_COOKIE,
                generate_csrf(),
                samesite="Strict",
                secure=server.session_interface.get_cookie_secure(server),
                httponly=False,
            )
        return response
