"""The Flask-Login user: a snapshot of the account, its permissions and its login session, reloaded on every
request."""

from __future__ import annotations

from flask_login import AnonymousUserMixin, UserMixin

from store import UserInfo


class LoginUser(UserMixin):
    def __init__(self, info: UserInfo, session_token: str):
        self.info = info
        self.session_token = session_token

    def get_id(self) -> str:
        # What Flask-Login keeps in the cookie: the user and their server-side session (store/login_sessions.py).
        return f"{self.info.id}:{self.session_token}"

    @property
    def name(self) -> str:
        return self.info.username

    @property
    def permissions(self) -> frozenset[str]:
        return self.info.permissions

    @property
    def is_active(self) -> bool:
        return self.info.active

    def can(self, permission: str) -> bool:
        return permission in self.info.permissions


class Anonymous(AnonymousUserMixin):
    name = ""
    permissions: frozenset[str] = frozenset()

    def can(self, permission: str) -> bool:
        return False
