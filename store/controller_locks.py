"""The transition in progress on each root controller, held in the database so that every tab, worker and web
host agrees on it. A lock names its operation, who holds it and since when; it expires (a worker that crashed
mid-transition does not block the controller for ever) and only its holder's token releases it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from store.db import Database
from store.models import ControllerLock, utcnow
from store.text import clean


@dataclass(frozen=True)
class LockInfo:
    root: str
    session: str
    operation: str
    username: str
    started_at: datetime
    expires_at: datetime
    token: str

    def text(self) -> str:
        """ "transition in progress: start, by alice since 14:02:11 UTC" """
        return (f"transition in progress: {self.operation}, by {self.username or 'someone'} "
                f"since {self.started_at:%H:%M:%S} UTC")


def _info(row: ControllerLock) -> LockInfo:
    return LockInfo(row.root, row.session, row.operation, row.username, row.started_at, row.expires_at, row.token)


class ControllerLocks:
    def __init__(self, db: Database):
        self.db = db

    def acquire(self, root: str, operation: str, username: str, *, session: str = "", ttl: float = 300.0,
                now: datetime | None = None) -> LockInfo | None:
        """The new lock, or None when another live one holds the root (an expired one is replaced)."""
        now = now or utcnow()
        key = clean(root, 255)
        row = ControllerLock(root=key, session=clean(session, 255), operation=clean(operation, 64),
                             username=clean(username, 64), started_at=now, expires_at=now + timedelta(seconds=ttl),
                             token=secrets.token_hex(16))
        try:
            with self.db.session() as s:
                s.execute(delete(ControllerLock).where(ControllerLock.root == key, ControllerLock.expires_at <= now))
                s.add(row)
                s.flush()
                return _info(row)
        except IntegrityError:
            return None

    def current(self, root: str, now: datetime | None = None) -> LockInfo | None:
        with self.db.session() as s:
            row = s.get(ControllerLock, clean(root, 255))
            if row is None or row.expires_at <= (now or utcnow()):
                return None
            return _info(row)

    def release(self, lock: LockInfo) -> bool:
        with self.db.session() as s:
            done = s.execute(delete(ControllerLock).where(ControllerLock.root == lock.root,
                                                          ControllerLock.token == lock.token))
            return bool(done.rowcount)

    def active(self, now: datetime | None = None) -> list[LockInfo]:
        with self.db.session() as s:
            rows = s.scalars(select(ControllerLock).where(ControllerLock.expires_at > (now or utcnow())))
            return [_info(r) for r in rows]
