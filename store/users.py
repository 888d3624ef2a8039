"""Users, roles and permissions: the queries behind login, the admin page and the CLI."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from store.db import Database
from store.models import LoginSession, Permission, Role, User, utcnow
from store.text import clean, without_surrogates

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-@]{0,63}$")
MIN_PASSWORD = 4
MAX_PASSWORD = 256
# Verifying against a real hash when the user does not exist keeps the timing of both failures alike.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class InvalidInput(ValueError):
    """The caller gave a value that cannot be stored; the message says which and why."""


class UserExists(InvalidInput):
    pass


class UnknownUser(InvalidInput):
    pass


class UnknownRole(InvalidInput):
    pass


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    active: bool
    roles: tuple[str, ...]
    permissions: frozenset[str]


@dataclass(frozen=True)
class RoleInfo:
    name: str
    description: str
    permissions: tuple[str, ...]


def validate_username(username) -> str:
    name = username.strip() if isinstance(username, str) else ""
    if not USERNAME.match(name):
        raise InvalidInput(
            "user names are 1 to 64 characters: letters, digits and . _ - @, starting with a letter or digit"
        )
    return name


def _lookup(name) -> str:
    """A name to look up, through the store's one cleaning step. No valid name holds NUL: such a name must match
    nothing (cleaning alone would drop the NUL and find "alice" for "al\\x00ice")."""
    if isinstance(name, str) and "\x00" in name:
        return "\ufffd"
    return clean(name, 256)


def validate_password(password) -> str:
    if password is not None and not isinstance(password, str):
        raise InvalidInput("a password must be text")
    if password is None or len(password) < MIN_PASSWORD:
        raise InvalidInput(f"passwords need at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"passwords have at most {MAX_PASSWORD} characters")
    return password


def _info(user: User) -> UserInfo:
    roles = tuple(sorted(r.name for r in user.roles))
    perms = frozenset(p.name for r in user.roles for p in r.permissions)
    return UserInfo(user.id, user.username, bool(user.active), roles, perms)


class UserRepository:
    def __init__(self, db: Database):
        self.db = db

    # -- catalog ---------------------------------------------------------------------------------------
    def ensure_catalog(
        self, permissions: Mapping[str, str], roles: Mapping[str, tuple[str, Iterable[str]]]
    ) -> None:
        """Add the permissions and default roles the code knows about; never removes an admin's grants."""
        try:
            self._ensure_catalog(permissions, roles)
        except IntegrityError:
            # Another worker inserted the same rows at the same moment: what we wanted is there now.
            self._ensure_catalog(permissions, roles)

    def _ensure_catalog(self, permissions, roles) -> None:
        with self.db.session() as s:
            existing = {p.name: p for p in s.scalars(select(Permission))}
            for name, description in permissions.items():
                if name not in existing:
                    existing[name] = Permission(name=name, description=description)
                    s.add(existing[name])
                elif existing[name].description != description:
                    existing[name].description = description
            s.flush()
            known_roles = {r.name: r for r in s.scalars(select(Role))}
            for name, (description, perms) in roles.items():
                role = known_roles.get(name)
                if role is None:
                    role = Role(name=name, description=description, permissions=[])
                    s.add(role)
                have = {p.name for p in role.permissions}
                for perm in perms:
                    if perm not in have:
                        role.permissions.append(existing[perm])

    def list_roles(self) -> list[RoleInfo]:
        with self.db.session() as s:
            return [
                RoleInfo(r.name, r.description, tuple(sorted(p.name for p in r.permissions)))
                for r in s.scalars(select(Role).order_by(Role.name))
            ]

    def list_permissions(self) -> list[tuple[str, str]]:
        with self.db.session() as s:
            return [(p.name, p.description) for p in s.scalars(select(Permission).order_by(Permission.name))]

    # -- users -----------------------------------------------------------------------------------------
    def create_user(self, username: str, password: str, roles: Iterable[str] = ()) -> UserInfo:
        name = validate_username(username)
        validate_password(password)
        with self.db.session() as s:
            if s.scalar(select(User).where(User.username == name)):
                raise UserExists(f"user {name!r} already exists")
            user = User(username=name, password_hash=generate_password_hash(without_surrogates(password)), active=True)
            user.roles = [self._role(s, r) for r in roles]
            s.add(user)
            try:
                s.flush()
            except IntegrityError:
                raise UserExists(f"user {name!r} already exists") from None
            return _info(user)

    def get(self, username: str) -> UserInfo | None:
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.username == _lookup(username)))
            return _info(user) if user else None

    def get_by_id(self, user_id: int) -> UserInfo | None:
        with self.db.session() as s:
            user = s.get(User, user_id)
            return _info(user) if user else None

    def list_users(self) -> list[UserInfo]:
        with self.db.session() as s:
            return [_info(u) for u in s.scalars(select(User).order_by(User.username))]

    def verify(self, username: str, password: str) -> UserInfo | None:
        """The user if the password matches and the account is active, else None."""
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.username == _lookup(username).strip()))
            password = without_surrogates(password) if isinstance(password, str) else ""  # hashing must not fail
            if user is None:
                check_password_hash(_DUMMY_HASH, password)
                return None
            if not check_password_hash(user.password_hash, password):
                return None
            return _info(user) if user.active else None

    def set_password(self, username: str, password: str) -> None:
        """A new password also ends every session of the user: a stolen cookie must not outlive the old one."""
        validate_password(password)
        with self.db.session() as s:
            user = self._user(s, username)
            user.password_hash = generate_password_hash(without_surrogates(password))
            _end_sessions(s, user.id)

    def set_active(self, username: str, active: bool) -> None:
        with self.db.session() as s:
            user = self._user(s, username)
            user.active = active
            if not active:
                _end_sessions(s, user.id)

    def end_sessions(self, username: str) -> int:
        """End every open login of the user at once; returns how many there were."""
        with self.db.session() as s:
            return _end_sessions(s, self._user(s, username).id)

    def grant(self, username: str, role: str) -> UserInfo:
        with self.db.session() as s:
            user = self._user(s, username)
            r = self._role(s, role)
            if r not in user.roles:
                user.roles.append(r)
            s.flush()
            return _info(user)

    def revoke(self, username: str, role: str) -> UserInfo:
        with self.db.session() as s:
            user = self._user(s, username)
            r = self._role(s, role)
            if r in user.roles:
                user.roles.remove(r)
            s.flush()
            return _info(user)

    def count_with_permission(self, permission: str) -> int:
        """Active users holding a permission; the admin page uses it to refuse locking everybody out."""
        return sum(1 for u in self.list_users() if u.active and permission in u.permissions)

    @staticmethod
    def _user(s, username: str) -> User:
        user = s.scalar(select(User).where(User.username == _lookup(username).strip()))
        if user is None:
            raise UnknownUser(f"no user named {username!r}")
        return user

    @staticmethod
    def _role(s, name: str) -> Role:
        role = s.scalar(select(Role).where(Role.name == _lookup(name).strip()))
        if role is None:
            known = ", ".join(s.scalars(select(Role.name).order_by(Role.name)))
            raise UnknownRole(f"no role named {name!r} (roles: {known})")
        return role


def _end_sessions(s, user_id: int) -> int:
    """Revoke the user's open sessions inside the caller's transaction, so the change and the revocation commit
    together (the CLI goes through here too)."""
    result = s.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)


def would_lock_out(
    users: UserRepository, username: str, *, revoke_role: str | None = None, permission: str = "users.admin"
) -> bool:
    """True when disabling `username` (or revoking `revoke_role` from them) leaves nobody with `permission`.

    The admin page and the CLI both refuse such a change, so there is always someone who can manage users.
    """
    target = users.get(username)
    if not target or not target.active or permission not in target.permissions:
        return False
    if users.count_with_permission(permission) > 1:
        return False
    if revoke_role is None:
        return True
    kept = [r for r in users.list_roles() if r.name in target.roles and r.name != revoke_role]
    remaining = {p for r in kept for p in r.permissions}
    return permission not in remaining
