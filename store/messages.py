"""Stored Kafka messages: idempotent batched inserts, cheap incremental and filtered queries, retention, and the
consumer's status row.

How the queries stay off full scans:

- `newer_than(last_id)` walks the primary key from `last_id` upwards (a range on the rowid / the PK index) and
  applies the filters to those few new rows only (the filter columns are written so that no index on them is
  chosen instead, which would sort every matching row).
- `search()` picks one *driving* filter (source, session, topic, broadcast type, then severity: the first that is
  set) and runs one query per value of it, each walking that column's `(column, id)` index backwards from
  `before_id` and stopping at LIMIT; the other filters (sets, time range, text) are checked on the rows the walk
  reaches; the per-value pages are merged in Python. With no set filter, the walk is on the primary key itself.
  An `IN (...)` on the driving column would make the database sort every matching row before the LIMIT.
- The text filter is a case-insensitive substring (`lower(text) LIKE lower(:pattern)`, LIKE metacharacters
  escaped). It cannot use an index: it is applied to the rows the index walk reaches, so it is fast when the other
  filters narrow the walk or when matches are common, and walks further back when they are rare.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from store.db import Database
from store.models import ConsumerStatus, Message, utcnow
from store.text import clean, clean_json

KINDS = ("broadcast", "ers", "undecodable")
DEFAULT_CONSUMER = "runcontrol-ui"

_T = Message.__table__
_S = ConsumerStatus.__table__


@dataclass(frozen=True)
class NewMessage:
    topic: str
    partition: int
    offset: int
    time: datetime
    kind: str
    severity: str
    session: str = ""
    source: str = ""
    host: str = ""
    broadcast_type: str = ""
    issue_name: str = ""
    text: str = ""
    details: dict | None = None


@dataclass(frozen=True)
class StoredMessage:
    id: int
    topic: str
    partition: int
    offset: int
    time: datetime
    kind: str
    severity: str
    session: str
    source: str
    host: str
    broadcast_type: str
    issue_name: str
    text: str
    details: dict | None
    received_at: datetime


@dataclass(frozen=True)
class MessageFilter:
    """Empty sets and empty text mean "any". `since`/`until` bound the message time (inclusive)."""

    severities: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    broadcast_types: tuple[str, ...] = ()
    text: str = ""
    since: datetime | None = None
    until: datetime | None = None
    kinds: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class ConsumerStatusInfo:
    name: str
    last_message_time: datetime | None
    last_poll_time: datetime | None
    messages_stored: int
    undecodable: int
    last_error: str | None
    updated_at: datetime


# -- value cleaning: PostgreSQL rejects NUL in text and enforces VARCHAR lengths; do the same on both backends ----

def _text(value) -> str:
    return clean(value)


def _clip(value, limit: int) -> str:
    return clean(value, limit)


_clean_json = clean_json


_LIMITS = {c.name: c.type.length for c in _T.columns if getattr(c.type, "length", None)}


def _row(m: NewMessage, received_at: datetime) -> dict:
    return {
        "time": m.time,
        "received_at": received_at,
        "topic": _clip(m.topic, _LIMITS["topic"]),
        "partition": int(m.partition),
        "offset": int(m.offset),
        "kind": _clip(m.kind, _LIMITS["kind"]),
        "severity": _clip(m.severity, _LIMITS["severity"]),
        "session": _clip(m.session, _LIMITS["session"]),
        "source": _clip(m.source, _LIMITS["source"]),
        "host": _clip(m.host, _LIMITS["host"]),
        "broadcast_type": _clip(m.broadcast_type, _LIMITS["broadcast_type"]),
        "issue_name": _clip(m.issue_name, _LIMITS["issue_name"]),
        "text": _text(m.text or ""),
        "details": None if m.details is None else _clean_json(m.details),
    }


_COLUMNS = (
    _T.c.id, _T.c.topic, _T.c.partition, _T.c.offset, _T.c.time, _T.c.kind, _T.c.severity, _T.c.session,
    _T.c.source, _T.c.host, _T.c.broadcast_type, _T.c.issue_name, _T.c.text, _T.c.details, _T.c.received_at,
)


def _stored(row) -> StoredMessage:
    return StoredMessage(*row)


# The set filters, in the order in which one is chosen to drive an index walk (most selective first).
_SET_FILTERS = (
    ("sources", _T.c.source),
    ("sessions", _T.c.session),
    ("topics", _T.c.topic),
    ("broadcast_types", _T.c.broadcast_type),
    ("severities", _T.c.severity),
)

DISTINCT_COLUMNS = {
    "session": _T.c.session,
    "source": _T.c.source,
    "topic": _T.c.topic,
    "broadcast_type": _T.c.broadcast_type,
    "severity": _T.c.severity,
    "host": _T.c.host,
    "kind": _T.c.kind,
}


def _values(values: Iterable[str], limit: int) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_clip(v, limit) for v in values))


def _apply(stmt: Select, flt: MessageFilter | None, *, skip: str = "", unindexed: bool = False) -> Select:
    """Add the filter's conditions; `unindexed` writes them as `column || ''` so that no filter index is used and
    the planner walks the id range instead."""
    if flt is None:
        return stmt
    for name, col in _SET_FILTERS:
        values = getattr(flt, name)
        if values and name != skip:
            values = _values(values, col.type.length)
            column = col.concat("") if unindexed else col
            stmt = stmt.where(column == values[0]) if len(values) == 1 else stmt.where(column.in_(values))
    if flt.kinds:
        stmt = stmt.where(_T.c.kind.in_(_values(flt.kinds, 16)))
    if flt.since is not None:
        stmt = stmt.where(_T.c.time >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(_T.c.time <= flt.until)
    if flt.text:
        stmt = stmt.where(func.lower(_T.c.text).contains(_text(flt.text).lower(), autoescape=True))
    return stmt


class MessageStore:
    def __init__(self, db: Database):
        self.db = db

    # -- writing ------------------------------------------------------------------------------------------------

    def _insert(self):
        dialect = sqlite if self.db.is_sqlite else postgresql
        return dialect.insert(_T).on_conflict_do_nothing(index_elements=["topic", "partition", "offset"])

    def insert_batch(self, rows: Sequence[NewMessage]) -> int:
        """Store the rows in one transaction; a (topic, partition, offset) already stored is skipped.

        Returns how many rows were new.
        """
        if not rows:
            return 0
        now = utcnow()
        params = [_row(m, now) for m in rows]
        stmt = self._insert().returning(_T.c.id)
        with self.db.engine.begin() as conn:
            # executemany + RETURNING is SQLAlchemy's "insertmanyvalues": multi-row INSERTs, only new rows return.
            return len(conn.execute(stmt, params).all())

    def prune(self, max_age_secs: int | None, max_rows: int | None, batch: int = 5000) -> int:
        """Delete messages older than `max_age_secs` (by message time) and the oldest beyond `max_rows`.

        Deletes at most `batch` rows per transaction, so writers and readers are never blocked for long.
        """
        removed = 0
        if max_age_secs is not None:
            cutoff = utcnow() - timedelta(seconds=max_age_secs)
            removed += self._delete_batches(lambda: select(_T.c.id).where(_T.c.time < cutoff), batch)
        if max_rows is not None:
            excess = self.count() - max(0, max_rows)
            if excess > 0:
                with self.db.engine.connect() as conn:
                    last = conn.scalar(select(_T.c.id).order_by(_T.c.id).offset(excess - 1).limit(1))
                if last is not None:
                    removed += self._delete_batches(lambda: select(_T.c.id).where(_T.c.id <= last), batch)
        return removed

    def _delete_batches(self, ids, batch: int) -> int:
        removed = 0
        while True:
            with self.db.engine.begin() as conn:
                chunk = ids().order_by(_T.c.id).limit(batch).scalar_subquery()
                n = conn.execute(delete(_T).where(_T.c.id.in_(chunk))).rowcount
            removed += n
            if n < batch:
                return removed

    def update_status(
        self,
        name: str = DEFAULT_CONSUMER,
        *,
        stored: int = 0,
        undecodable: int = 0,
        last_message_time: datetime | None = None,
        last_error: str | None = None,
        polled: bool = True,
    ) -> None:
        """Create or update the status row: counters are incremented; `None` leaves a field as it was.

        `last_error=""` clears the error.
        """
        now = utcnow()
        values = {
            "name": _clip(name, 64),
            "last_message_time": last_message_time,
            "last_poll_time": now if polled else None,
            "messages_stored": int(stored),
            "undecodable": int(undecodable),
            "last_error": None if last_error is None else _text(last_error),
            "updated_at": now,
        }
        dialect = sqlite if self.db.is_sqlite else postgresql
        stmt = dialect.insert(_S).values(**values)
        ex = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={
                "last_message_time": func.coalesce(ex.last_message_time, _S.c.last_message_time),
                "last_poll_time": func.coalesce(ex.last_poll_time, _S.c.last_poll_time),
                "messages_stored": _S.c.messages_stored + ex.messages_stored,
                "undecodable": _S.c.undecodable + ex.undecodable,
                "last_error": func.coalesce(ex.last_error, _S.c.last_error),
                "updated_at": ex.updated_at,
            },
        )
        with self.db.engine.begin() as conn:
            conn.execute(stmt)

    # -- reading ------------------------------------------------------------------------------------------------

    def status(self, name: str = DEFAULT_CONSUMER) -> ConsumerStatusInfo | None:
        with self.db.session() as s:
            row = s.get(ConsumerStatus, _clip(name, 64))
            if row is None:
                return None
            return ConsumerStatusInfo(
                row.name, row.last_message_time, row.last_poll_time, int(row.messages_stored),
                int(row.undecodable), row.last_error or None, row.updated_at,
            )

    def newer_than(self, last_id: int, limit: int = 500, flt: MessageFilter | None = None) -> list[StoredMessage]:
        """Messages with an id above `last_id`, oldest first: what a poller has not seen yet."""
        stmt = select(*_COLUMNS).where(_T.c.id > int(last_id))
        stmt = _apply(stmt, flt, unindexed=True).order_by(_T.c.id).limit(max(0, limit))
        with self.db.engine.connect() as conn:
            return [_stored(r) for r in conn.execute(stmt)]

    def search(
        self, flt: MessageFilter | None = None, before_id: int | None = None, limit: int = 100
    ) -> list[StoredMessage]:
        """Matching messages, newest first; pass the last id of a page as `before_id` to get the next one."""
        flt = flt or MessageFilter()
        if limit <= 0:
            return []
        driving = next(((name, col) for name, col in _SET_FILTERS if getattr(flt, name)), None)
        base = select(*_COLUMNS)
        if before_id is not None:
            base = base.where(_T.c.id < int(before_id))
        with self.db.engine.connect() as conn:
            if driving is None:
                stmt = _apply(base, flt).order_by(_T.c.id.desc()).limit(limit)
                return [_stored(r) for r in conn.execute(stmt)]
            name, column = driving
            pages = []
            for value in _values(getattr(flt, name), column.type.length):
                stmt = _apply(base.where(column == value), flt, skip=name).order_by(_T.c.id.desc()).limit(limit)
                pages.append([_stored(r) for r in conn.execute(stmt)])
        if len(pages) == 1:
            return pages[0]
        merged = heapq.merge(*pages, key=lambda m: m.id, reverse=True)
        return [m for _, m in zip(range(limit), merged, strict=False)]

    def latest_id(self) -> int:
        with self.db.engine.connect() as conn:
            return int(conn.scalar(select(func.max(_T.c.id))) or 0)

    def count(self) -> int:
        with self.db.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(_T)) or 0)

    def distinct(self, column: str, limit: int = 200) -> list[str]:
        """The distinct non-empty values of a column (session, source, topic, broadcast_type, severity, host,
        kind), sorted: for the filter drop-downs."""
        try:
            col = DISTINCT_COLUMNS[column]
        except KeyError:
            raise ValueError(f"no distinct values for column {column!r}") from None
        stmt = select(col).where(col != "").distinct().order_by(col).limit(limit)
        with self.db.engine.connect() as conn:
            return list(conn.scalars(stmt))

