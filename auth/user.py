"""The Flask-Login user: a snapshot of the account and its permissions, reloaded on every request."""

from __future__ import annotations

from flask_login import AnonymousUserMixin, UserMixin

from store import UserInfo


class LoginUser(UserMixin):
    def __init__(self, info: UserInfo):
        self.info = info

    def get_id(self) -> str:
        return str(self.info.id)

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
