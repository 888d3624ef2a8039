"""Server-rendered login and logout (not Dash callbacks: they must work before the app is loaded)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from auth.actions import client_address
from auth.rate_limit import login_blocked
from auth.user import LoginUser


class LoginForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(message="Enter your user name."), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password."), Length(max=256)])


class LogoutForm(FlaskForm):
    pass


def safe_next(target: str | None) -> str:
    """Only same-site paths: `next` comes from the URL, so it must not send anyone elsewhere."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if parts.path.startswith(("/login", "/logout", "/_dash-")):
        return "/"
    return target


def make_blueprint(services) -> Blueprint:
    bp = Blueprint("auth", __name__, template_folder="templates")
    audit = services.audit
    users = services.users

    @bp.route("/login", methods=["GET", "POST"])
    def login():
        form = LoginForm()
        next_url = safe_next(request.values.get("next"))
        if current_user.is_authenticated and request.method == "GET":
            return redirect(next_url)
        error = None
        status = 200
        if request.method == "POST":
            if form.validate_on_submit():
                name = form.username.data.strip()
                address = client_address()
                error = login_blocked(audit, current_app.extensions["runcontrol.login_limits"], name, address)
                if error:
                    audit.record(name, "login", outcome="denied", detail="rate limited", address=address)
                    status = 429
                else:
                    info = users.verify(name, form.password.data)
                    if info is None:
                        audit.record(name, "login", outcome="failed", detail="wrong user name or password",
                                     address=address)
                        error = "Your user name and password didn't match. Please try again."
                        status = 401
                    else:
                        token = services.login_sessions.start(info.id, address)
                        login_user(LoginUser(info, token))
                        audit.record(info.username, "login", address=address)
                        return redirect(next_url)
            else:
                error = _first_error(form)
                status = 400
        if request.args.get("expired"):
            notice = "Your form expired. Please log in again."
        elif request.args.get("ended") and not error:
            notice = "Your session has ended (logged out, idle for too long, or ended by an administrator). " \
                     "Please log in again."
        elif request.args.get("next") and not error:
            notice = "Please log in to see this page."
        else:
            notice = None
        return (
            render_template(
                "login.html",
                form=form,
                error=error,
                next_url=next_url,
                notice=notice,
                demo=services.settings.demo,
                logged_out=request.args.get("logged_out") == "1",
            ),
            status,
        )

    @bp.route("/logout", methods=["POST"])
    def logout():
        form = LogoutForm()
        # CSRFProtect has already refused a POST without a valid token; validate_on_submit is belt and braces.
        if form.validate_on_submit() and current_user.is_authenticated:
            audit.record(current_user.name, "logout", address=client_address())
            # Ended on the server too: a copy of the cookie is worthless from now on.
            services.login_sessions.end(current_user.session_token)
            logout_user()
        return redirect(url_for("auth.login", logged_out=1))

    return bp


def _first_error(form) -> str:
    for field in form:
        if field.errors:
            return str(field.errors[0])
    if form.errors:
        return "The form has expired. Please try again."
    return "Please fill in the form."
