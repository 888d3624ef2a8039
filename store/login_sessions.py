"""Server-side login sessions: what makes a session cookie revocable before it expires.

The cookie holds "user id:token". Every request loads the user and the session row in one query and refuses a
revoked, idle, too old or disabled one. `last_seen` is written at most once a minute per session (a control room
keeps many tabs polling every second; a write per request would serialise them on the database).
Ending all of a user's sessions lives in store/users.py, in the same transaction as the change that causes it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import joinedload

from store.db import Database
from store.models import LoginSession, Role, User, utcnow
from store.text import clean
from store.users import UserInfo, _info

# Writes of last_seen are at least this far apart (less when the idle timeout is very short).
TOUCH_EVERY = timedelta(seconds=60)


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=60)
    lifetime: timedelta = timedelta(hours=12)

    @property
    def touch_every(self) -> timedelta:
        return min(TOUCH_EVERY, self.idle / 4)


class LoginSessions:
    def __init__(self, db: Database, policy: SessionPolicy | None = None):
        self.db = db
        self.policy = policy or SessionPolicy()

    def start(self, user_id: int, address: str = "", *, now: datetime | None = None) -> str:
        """A new session for a user who just proved their password; returns the token for the cookie."""
        now = now or utcnow()
        token = secrets.token_urlsafe(32)
        with self.db.session() as s:
            self._prune(s, now)
            s.add(LoginSession(id=_key(token), user_id=user_id, created_at=now, last_seen=now,
                               address=clean(address, 64)))
        return token

    def load(self, user_id: int, token: str, *, now: datetime | None = None) -> UserInfo | None:
        """The user of a live session, or None when it is unknown, revoked, idle, too old or the user disabled."""
        if not token:
            return None
        now = now or utcnow()
        key = _key(token)
        stmt = (
            select(User, LoginSession)
            .join(LoginSession, LoginSession.user_id == User.id)
            .where(User.id == user_id, LoginSession.id == key)
            # roles and permissions in the same round trip: this runs on every request of every tab
            .options(joinedload(User.roles).joinedload(Role.permissions))
        )
        with self.db.session() as s:
            row = s.execute(stmt).unique().first()
            if row is None:
                return None
            user, session = row
            if not self._alive(user, session, now):
                return None
            if now - session.last_seen >= self.policy.touch_every:
                # Conditional, so two workers racing on the same session write once between them.
                s.execute(
                    update(LoginSession)
                    .where(LoginSession.id == key, LoginSession.last_seen < now - self.policy.touch_every)
                    .values(last_seen=now)
                )
            return _info(user)

    def end(self, token: str, *, now: datetime | None = None) -> bool:
        """End one session (logout). True when it was open."""
        with self.db.session() as s:
            result = s.execute(
                update(LoginSession)
                .where(LoginSession.id == _key(token or ""), LoginSession.revoked_at.is_(None))
                .values(revoked_at=now or utcnow())
            )
            return bool(result.rowcount)

    def active_counts(self, *, now: datetime | None = None) -> dict[int, int]:
        """Open sessions per user id (for the roster)."""
        now = now or utcnow()
        stmt = (
            select(LoginSession.user_id, func.count())
            .where(*self._live_conditions(now))
            .group_by(LoginSession.user_id)
        )
        with self.db.session() as s:
            return {user_id: int(n) for user_id, n in s.execute(stmt)}

    def prune(self, *, now: datetime | None = None) -> int:
        with self.db.session() as s:
            return self._prune(s, now or utcnow())

    # -- helpers ---------------------------------------------------------------------------------------
    def _alive(self, user: User, session: LoginSession, now: datetime) -> bool:
        return (
            bool(user.active)
            and session.revoked_at is None
            and now - session.last_seen <= self.policy.idle
            and now - session.created_at <= self.policy.lifetime
        )

    def _live_conditions(self, now: datetime):
        return (
            LoginSession.revoked_at.is_(None),
            LoginSession.last_seen >= now - self.policy.idle,
            LoginSession.created_at >= now - self.policy.lifetime,
        )

    def _prune(self, s, now: datetime) -> int:
        # Lazily, at each login: dead rows serve nobody (logins and logouts are in the audit trail).
        result = s.execute(
            delete(LoginSession).where(
                or_(
                    LoginSession.revoked_at.is_not(None),
                    LoginSession.last_seen < now - self.policy.idle,
                    LoginSession.created_at < now - self.policy.lifetime,
                )
            )
        )
        return int(result.rowcount or 0)
