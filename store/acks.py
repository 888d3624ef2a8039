"""Acknowledgements of ERROR and FATAL messages (the alarms): who acknowledged which message, and when.

Nothing is cleared silently: an acknowledgement is a row (message, user, time) and the message is marked
(`messages.acked_at`); the navbar badge on every page reads the count of unacknowledged alarms from the rollup
(`message_counts.unacked`). Acknowledging again keeps the first record. Pruning a message drops its
acknowledgement with it (ON DELETE CASCADE): the record lives exactly as long as the message it is about.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from store.db import Database
from store.message_counts import unacknowledged
from store.message_filters import ALARM_LEVELS
from store.models import Message, MessageAck, utcnow
from store.text import clean

_M = Message.__table__
_A = MessageAck.__table__
CHUNK = 5000  # ids per statement: SQLite's parameter limit and PostgreSQL's plan size stay comfortable


class AckStore:
    def __init__(self, db: Database):
        self.db = db

    def _insert(self):
        dialect = sqlite if self.db.is_sqlite else postgresql
        return dialect.insert(_A)

    def acknowledge(self, ids: Iterable[int], user: str) -> int:
        """Acknowledge these messages as `user` now (ids not stored, or already acknowledged, are skipped).

        Returns how many were newly acknowledged.
        """
        wanted = sorted({int(i) for i in ids})
        user, now, done = clean(user, 64), utcnow(), 0
        with self.db.engine.begin() as conn:
            for i in range(0, len(wanted), CHUNK):
                chunk = wanted[i:i + CHUNK]
                fresh = list(conn.scalars(
                    select(_M.c.id).where(_M.c.id.in_(chunk), _M.c.acked_at.is_(None)).with_for_update()
                    if not self.db.is_sqlite else
                    select(_M.c.id).where(_M.c.id.in_(chunk), _M.c.acked_at.is_(None))
                ))
                done += self._mark(conn, fresh, user, now)
        return done

    def acknowledge_up_to(self, until: int | datetime, user: str) -> int:
        """Acknowledge every unacknowledged ERROR and FATAL up to a message (its id: up to its (time, id)
        included) or a time (included), as `user` now. Returns how many were acknowledged."""
        user, now = clean(user, 64), utcnow()
        with self.db.engine.begin() as conn:
            if isinstance(until, datetime):
                bound = _M.c.time <= until
            else:
                moment = conn.scalar(select(_M.c.time).where(_M.c.id == int(until)))
                if moment is None:
                    return 0
                bound = tuple_(_M.c.time, _M.c.id) <= tuple_(*_key(moment, int(until)))
            return self._acknowledge_where(conn, bound, user, now)

    def acknowledge_stored(self, upto_id: int, user: str) -> int:
        """Acknowledge every unacknowledged ERROR and FATAL stored up to id `upto_id` (the newest id when the
        operator was asked), whatever its time: a message's time is its sender's clock, so "older in time" would
        miss an alarm counted before a message timed earlier, or take one stored later but timed earlier."""
        user, now = clean(user, 64), utcnow()
        with self.db.engine.begin() as conn:
            return self._acknowledge_where(conn, _M.c.id <= int(upto_id), user, now)

    def _acknowledge_where(self, conn, bound, user: str, now: datetime) -> int:
        # The partial index of unacknowledged alarms holds exactly the candidates.
        ids = list(conn.scalars(select(_M.c.id).where(_M.c.severity.in_(ALARM_LEVELS), _M.c.acked_at.is_(None),
                                                      bound)))
        return sum(self._mark(conn, ids[i:i + CHUNK], user, now) for i in range(0, len(ids), CHUNK))

    def _mark(self, conn, ids: list[int], user: str, now: datetime) -> int:
        if not ids:
            return 0
        conn.execute(self._insert().on_conflict_do_nothing(index_elements=["message_id"]),
                     [{"message_id": i, "username": user, "acked_at": now} for i in ids])
        return conn.execute(update(_M).where(_M.c.id.in_(ids), _M.c.acked_at.is_(None))
                            .values(acked_at=now)).rowcount

    def unacknowledged_count(self) -> int:
        """ERROR and FATAL messages not acknowledged: a sum over the per-minute rollup, whose `unacked` the
        triggers of migration 0008 keep exact on every insert, acknowledgement and prune (a count over the
        partial index grows with the alarms: 30 ms at 40,000 on SQLite)."""
        with self.db.engine.connect() as conn:
            return unacknowledged(conn, ALARM_LEVELS)

    def unacknowledged_by_session(self) -> dict[str, int]:
        """{session: unacknowledged ERROR and FATAL messages}: the same partial index, grouped (a few rows)."""
        stmt = (select(_M.c.session, func.count()).select_from(_M)
                .where(_M.c.severity.in_(ALARM_LEVELS), _M.c.acked_at.is_(None)).group_by(_M.c.session))
        with self.db.engine.connect() as conn:
            return {str(s or ""): int(n) for s, n in conn.execute(stmt)}

    def acks_for(self, ids: Iterable[int]) -> dict[int, tuple[str, datetime]]:
        """message id → (who, when) for those of `ids` that are acknowledged."""
        wanted = sorted({int(i) for i in ids})
        out: dict[int, tuple[str, datetime]] = {}
        with self.db.engine.connect() as conn:
            for i in range(0, len(wanted), CHUNK):
                stmt = select(_A.c.message_id, _A.c.username, _A.c.acked_at).where(
                    _A.c.message_id.in_(wanted[i:i + CHUNK]))
                out.update({int(m): (u, t) for m, u, t in conn.execute(stmt)})
        return out


def _key(moment: datetime, ident: int):
    from sqlalchemy import literal

    return literal(moment, _M.c.time.type), literal(ident, _M.c.id.type)
