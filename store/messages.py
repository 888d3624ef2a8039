"""Stored Kafka messages: fast idempotent batched inserts, filtered pages ordered by (time, id), counters and
rates, streamed export, exact live polling, retention, and the consumer's status row.

How the queries stay off full scans:

- `page()` picks one *driving* set filter (store/message_filters.py `SET_FIELDS` order: the first that is set) and
  runs one query per value of it, each walking that column's `(column, time, id)` index backwards from the keyset
  and stopping at LIMIT; the other filters are checked on the rows the walk reaches; the per-value pages are
  merged in Python. With no set filter the walk is on the `(time, id)` index. An `IN (...)` on the driving column
  would make the database sort every matching row before the LIMIT.
- Text match/exclude is a case-insensitive substring (`lower(text) LIKE`, metacharacters escaped). PostgreSQL
  has a trigram GIN index on `lower(text)` (migration 0006), which the planner uses for a rare text; SQLite
  applies it to the rows the walk reaches.
- `newer_than(last_id)` walks the primary key from `last_id` upwards and applies the filters to those rows only.
- `live()` is exact under concurrent writers: see store/message_live.py.
- Writes: one multi-row statement per batch (PostgreSQL: COPY into a temporary staging table, then one
  `INSERT ... SELECT`; SQLite: the driver's executemany), `ON CONFLICT (topic, partition, offset) DO NOTHING` on
  both.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, literal_column, select, text
from sqlalchemy.dialects import postgresql, sqlite

from store import message_counts
from store.db import Database
from store.message_filters import (
    FIELD_COLUMNS,
    LEVELS,
    OTHER,
    MessageFilter,
    after_key,
    before_key,
    conditions,
    driving_field,
    text_pattern,
)
from store.models import ConsumerStatus, Message, utcnow
from store.text import clean, clean_json

KINDS = ("broadcast", "ers", "undecodable")
DEFAULT_CONSUMER = "runcontrol-ui"
MAX_PAGE = 10_000
# Counters and rate buckets of a filter the rollup cannot answer count at most this many (newest) rows.
COUNT_CAP = 10_000
# A text contained in at most this many rows is read by id from SQLite's trigram index (see `_text_ids`).
RARE_TEXT = 5_000

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
    acked_at: datetime | None = None  # when an ERROR/FATAL was acknowledged (who: store/acks.py acks_for)

    @property
    def key(self) -> tuple[datetime, int]:
        """The (time, id) keyset of this row: pass it as `before`/`after` to `page()`."""
        return self.time, self.id


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

def _clip(value, limit: int) -> str:
    return clean(value, limit)


_LIMITS = {c.name: c.type.length for c in _T.columns if getattr(c.type, "length", None)}
# The columns a batch writes, in this order (txid is added by the PostgreSQL statement itself).
_WRITTEN = ("time", "received_at", "topic", "partition", "offset", "kind", "severity", "session", "source", "host",
            "broadcast_type", "issue_name", "text", "details")


def _row(m: NewMessage, received_at: datetime) -> tuple:
    if m.time.tzinfo is None:
        raise ValueError("naive datetime given as a message time")
    return (
        m.time, received_at, _clip(m.topic, _LIMITS["topic"]), int(m.partition), int(m.offset),
        _clip(m.kind, _LIMITS["kind"]), _clip(m.severity, _LIMITS["severity"]), _clip(m.session, _LIMITS["session"]),
        _clip(m.source, _LIMITS["source"]), _clip(m.host, _LIMITS["host"]),
        _clip(m.broadcast_type, _LIMITS["broadcast_type"]), _clip(m.issue_name, _LIMITS["issue_name"]),
        clean(m.text or ""), None if m.details is None else json.dumps(clean_json(m.details)),
    )


_COLUMNS = (
    _T.c.id, _T.c.topic, _T.c.partition, _T.c.offset, _T.c.time, _T.c.kind, _T.c.severity, _T.c.session,
    _T.c.source, _T.c.host, _T.c.broadcast_type, _T.c.issue_name, _T.c.text, _T.c.details, _T.c.received_at,
    _T.c.acked_at,
)


def _stored(row) -> StoredMessage:
    return StoredMessage(*row)


DISTINCT_COLUMNS = dict(FIELD_COLUMNS)

_INSERT_COLUMNS = ", ".join(f'"{c}"' for c in _WRITTEN)
_SQLITE_INSERT = (f"INSERT INTO messages ({_INSERT_COLUMNS}) VALUES ({', '.join('?' * len(_WRITTEN))}) "
                  'ON CONFLICT (topic, "partition", "offset") DO NOTHING')
# PostgreSQL: a batch is COPYed into a session-local staging table, then moved with one INSERT ... SELECT, which
# adds the writing transaction's id (the exact live cursor, store/message_live.py, needs it on every row) and drops
# re-deliveries with ON CONFLICT. COPY's rows are formatted by psycopg's C code, where the former
# INSERT ... SELECT FROM unnest(arrays) built 14 Python lists and had psycopg dump them element by element in
# Python: the write went from about 25,000 to 35,000 rows/s (benchmarks/bench_ingest.py, store only).
# The staging table is TEMP (one per connection, nothing shared between concurrent consumers, never WAL-logged)
# and created by every batch with IF NOT EXISTS, because a transaction that rolls back takes its creation with it.
# ON COMMIT DELETE ROWS empties it at commit; within one transaction the move is a DELETE ... RETURNING, so a
# second write in the same transaction does not see the first one's rows again.
_PG_STAGING_TYPES = ("timestamptz", "timestamptz", "text", "int", "bigint", "text", "text", "text", "text", "text",
                     "text", "text", "text", "json")
_PG_STAGE = ("CREATE TEMP TABLE IF NOT EXISTS messages_staging ("
             + ", ".join(f'"{c}" {t}' for c, t in zip(_WRITTEN, _PG_STAGING_TYPES, strict=True))
             + ") ON COMMIT DELETE ROWS")
_PG_COPY = f"COPY messages_staging ({_INSERT_COLUMNS}) FROM STDIN"
_PG_MOVE = (
    f"WITH staged AS (DELETE FROM messages_staging RETURNING {_INSERT_COLUMNS}) "
    f"INSERT INTO messages ({_INSERT_COLUMNS}, txid) "
    f"SELECT {_INSERT_COLUMNS}, pg_current_xact_id()::text::bigint FROM staged "
    'ON CONFLICT (topic, "partition", "offset") DO NOTHING'
)


# A loose index scan over (severity, time, id): one index probe per distinct severity, on both databases.
_DISTINCT_SEVERITIES = text(
    "WITH RECURSIVE s(v) AS (SELECT min(severity) FROM messages UNION ALL "
    "SELECT (SELECT min(severity) FROM messages WHERE severity > s.v) FROM s WHERE s.v IS NOT NULL) "
    "SELECT v FROM s WHERE v IS NOT NULL"
)


def _sqlite_time(moment: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores (UTC, always with microseconds): keysets compare it as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _bucket_expr(is_sqlite: bool, secs: int, column=_T.c.time):
    """The start of a message's time bucket, as Unix seconds."""
    if is_sqlite:
        # The SQLite DateTime text is "YYYY-MM-DD HH:MM:SS.ffffff" in UTC.
        epoch = func.cast(func.strftime("%s", func.substr(column, 1, 19)), postgresql.BIGINT)
    else:
        epoch = func.cast(func.floor(func.extract("epoch", column)), postgresql.BIGINT)
    return (epoch // secs) * secs if secs > 1 else epoch


class MessageStore:
    def __init__(self, db: Database):
        self.db = db

    def _text_ids(self, conn, flt: MessageFilter | None) -> list:
        """SQLite: `id IN (...)` for a rare text match, from the FTS5 trigram index (migration 0007), or nothing.

        A pattern of 3+ characters without LIKE wildcards is looked up there; when at most `RARE_TEXT` rows
        contain it, the query reads those rows by id instead of walking the time index past every row that does
        not (the whole table for a text that is nowhere). A common text is found fast by the walk. The trigram
        index folds case like `lower()`, and the row's own condition is still applied, so the answer is the
        same either way. PostgreSQL's trigram GIN index is chosen by its planner.
        """
        if not self.db.is_sqlite or flt is None or not flt.text:
            return []
        pattern = text_pattern(flt.text)
        if len(pattern) < 3 or "%" in pattern or "_" in pattern:
            return []
        ids = [r[0] for r in conn.exec_driver_sql(
            "SELECT rowid FROM messages_fts WHERE text LIKE ? LIMIT ?", (f"%{pattern}%", RARE_TEXT + 1))]
        return [] if len(ids) > RARE_TEXT else [_T.c.id.in_(ids)]

    # -- writing ------------------------------------------------------------------------------------------------

    def insert_batch(self, rows: Sequence[NewMessage]) -> int:
        """Store the rows in one transaction; a (topic, partition, offset) already stored is skipped.

        Returns how many rows were new.
        """
        if not rows:
            return 0
        with self.db.engine.begin() as conn:
            return self.write(conn, rows)

    def write(self, conn, rows: Sequence[NewMessage]) -> int:
        """`insert_batch` inside the caller's transaction (`conn`): how many rows were new."""
        if not rows:
            return 0
        now = utcnow()
        params = [_row(m, now) for m in rows]
        if self.db.is_sqlite:
            received = _sqlite_time(now)
            params = [(_sqlite_time(p[0]), received, *p[2:]) for p in params]
            inserted = max(0, conn.exec_driver_sql(_SQLITE_INSERT, params).rowcount)
            if inserted:  # the rollup and the trigram index, once per batch (store/message_counts.py)
                before = conn.exec_driver_sql("SELECT max(id) FROM messages").scalar() - inserted
                for statement in message_counts.SQLITE_AFTER_INSERT:
                    conn.exec_driver_sql(statement, (before,))
            return inserted
        with conn.connection.driver_connection.cursor() as cursor:  # psycopg 3, in the caller's transaction
            cursor.execute(_PG_STAGE)
            with cursor.copy(_PG_COPY) as copy:
                for param in params:
                    copy.write_row(param)
            cursor.execute(_PG_MOVE)
            return max(0, cursor.rowcount)

    def prune(self, max_age_secs: int | None, max_rows: int | None, batch: int = 5000) -> int:
        """Delete messages older than `max_age_secs` (by message time) and the oldest beyond `max_rows`.

        Deletes at most `batch` rows per transaction, so writers and readers are never blocked for long. Their
        acknowledgements go with them (ON DELETE CASCADE).
        """
        removed = 0
        with self.db.engine.begin() as conn:  # the rollup's deltas (PostgreSQL) and emptied keys
            message_counts.compact(conn, self.db.is_sqlite)
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
            "last_error": None if last_error is None else clean(last_error),
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

    def get(self, message_id: int) -> StoredMessage | None:
        with self.db.engine.connect() as conn:
            row = conn.execute(select(*_COLUMNS).where(_T.c.id == int(message_id))).first()
        return None if row is None else _stored(row)

    def newer_than(self, last_id: int, limit: int = 500, flt: MessageFilter | None = None) -> list[StoredMessage]:
        """Messages with an id above `last_id`, oldest first: what a poller has not seen yet.

        Exact with one writer (SQLite always); with several writers on PostgreSQL a row committed out of id order
        can be skipped: use `live()` there.
        """
        stmt = select(*_COLUMNS).where(_T.c.id > int(last_id), *conditions(flt, unindexed=True))
        stmt = stmt.order_by(_T.c.id).limit(max(0, limit))
        with self.db.engine.connect() as conn:
            return [_stored(r) for r in conn.execute(stmt)]

    def live(self, cursor: str | None, flt: MessageFilter | None = None,
             limit: int = 500) -> tuple[list[StoredMessage], str]:
        """The matching messages committed since `cursor`, oldest first, and the cursor for the next poll.

        Never skips a committed row, also with several consumers writing at once (store/message_live.py).
        `cursor=None` starts at "now" and returns no rows: take the cursor first, then load the first page with
        `page()`, so a row committed in between comes twice (dedupe by id), never zero times. Fewer than `limit`
        rows means caught up; `limit` rows means call again. A malformed cursor raises ValueError.
        """
        from store.message_live import poll

        return poll(self, cursor, flt, limit)

    def page(self, flt: MessageFilter | None = None, before: tuple[datetime, int] | None = None, limit: int = 100,
             *, after: tuple[datetime, int] | None = None, offset: int = 0) -> list[StoredMessage]:
        """Matching messages, newest first by (time, id).

        - `before`: the key (`StoredMessage.key`) of the last row of the previous page → the next (older) page;
        - `after`: the key of the newest row shown → the `limit` rows just newer than it (the oldest of them),
          still returned newest first: how a paused grid catches up, block by block, towards now;
        - `offset` skips rows after the keyset: for a grid block whose predecessor was never loaded (a jump of
          the scroll bar). It costs a walk over the skipped rows, so keep it small; prefer keysets.
        """
        flt = flt or MessageFilter()
        limit = max(0, min(int(limit), MAX_PAGE))
        offset = max(0, int(offset))
        if limit == 0:
            return []
        if any(clean(v, 16).strip().upper() == OTHER for v in flt.severities):
            flt = self._expand_other(flt)
            if not flt.severities:
                return []
        ascending = after is not None
        order = (_T.c.time, _T.c.id) if ascending else (_T.c.time.desc(), _T.c.id.desc())
        keys = [before_key(before), after_key(after)]
        driving = driving_field(flt)
        with self.db.engine.connect() as conn:
            rare = self._text_ids(conn, flt)
            if rare:
                keys.extend(rare)
                driving = None  # a few hundred rows by id: no index walk to drive
            if driving is None:
                stmt = (select(*_COLUMNS).where(*keys, *conditions(flt)).order_by(*order)
                        .limit(limit).offset(offset))
                found = [_stored(r) for r in conn.execute(stmt)]
            else:
                name, values = driving
                column = FIELD_COLUMNS[name]
                pages = []
                for value in values:
                    stmt = (select(*_COLUMNS).where(column == value, *keys, *conditions(flt, skip=name))
                            .order_by(*order).limit(limit + offset))
                    pages.append([_stored(r) for r in conn.execute(stmt)])
                merged = heapq.merge(*pages, key=lambda m: m.key, reverse=not ascending)
                found = [m for _, m in zip(range(offset + limit), merged, strict=False)][offset:]
        return found[::-1] if ascending else found

    def _expand_other(self, flt: MessageFilter) -> MessageFilter:
        """OTHER as the unusual severities stored now, so that severity can drive the page's index walk (a walk
        that tests `NOT IN levels` on every row would read the whole table when, as usual, there are none)."""
        with self.db.engine.connect() as conn:
            stored = list(conn.scalars(_DISTINCT_SEVERITIES))
        kept = tuple(v for v in flt.severities if clean(v, 16).strip().upper() != OTHER)
        return replace(flt, severities=kept + tuple(v for v in stored if v not in LEVELS))

    def search(self, flt: MessageFilter | None = None, before_id: int | None = None,
               limit: int = 100) -> list[StoredMessage]:
        """`page()` with the keyset given by an id (the last id of the previous page), for the live panel.

        A `before_id` that is no longer stored (pruned) gives an empty page: the rows before it are gone too.
        """
        before = None
        if before_id is not None:
            with self.db.engine.connect() as conn:
                moment = conn.scalar(select(_T.c.time).where(_T.c.id == int(before_id)))
            if moment is None:
                return []
            before = (moment, int(before_id))
        return self.page(flt, before, limit)

    def export(self, flt: MessageFilter | None = None, batch: int = 5000) -> Iterator[StoredMessage]:
        """Every matching message, newest first, in keyset batches of `batch` rows: memory stays flat however
        many rows match, and no transaction is held open between batches (a slow client never pins the WAL or
        the PostgreSQL xmin)."""
        before = None
        while True:
            rows = self.page(flt, before, batch)
            yield from rows
            if len(rows) < batch:
                return
            before = rows[-1].key

    def count_matching(self, flt: MessageFilter | None = None, cap: int | None = None) -> int:
        """How many messages match; with `cap`, counting stops there (the answer is then "at least cap")."""
        with self.db.engine.connect() as conn:
            stmt = select(literal_column("1")).select_from(_T).where(*conditions(flt), *self._text_ids(conn, flt))
            if cap is not None:
                stmt = stmt.limit(max(0, int(cap)))
            return int(conn.scalar(select(func.count()).select_from(stmt.subquery())) or 0)

    def severity_counts(self, flt: MessageFilter | None = None) -> dict[str, int]:
        """Matching messages per normalised severity (DEBUG, INFO, WARNING, ERROR, FATAL, OTHER), zeros included."""
        return self.counters(flt, cap=None)[0]

    def counters(self, flt: MessageFilter | None = None,
                 cap: int | None = COUNT_CAP) -> tuple[dict[str, int], bool]:
        """(`severity_counts`, exact?): a filter the rollup cannot answer is counted over the newest `cap`
        matching rows at most, and is then not exact ("at least"); see store/message_counts.py."""
        with self.db.engine.connect() as conn:
            return message_counts.counters(conn, flt, cap, self._text_ids)

    def rate(self, flt: MessageFilter | None = None, bucket_secs: int = 60) -> list[tuple[datetime, str, int]]:
        """(bucket start, normalised severity, messages) for every non-empty bucket, oldest first."""
        return self.rate_counts(flt, bucket_secs, cap=None)[0]

    def rate_counts(self, flt: MessageFilter | None = None, bucket_secs: int = 60,
                    cap: int | None = COUNT_CAP) -> tuple[list[tuple[datetime, str, int]], bool]:
        """(`rate`, exact?): not exact when the newest `cap` matching rows were counted and older ones left out."""
        secs = max(1, int(bucket_secs))
        sqlite_db = self.db.is_sqlite
        with self.db.engine.connect() as conn:
            return message_counts.rate(conn, flt, secs, cap,
                                       lambda column, n: _bucket_expr(sqlite_db, n, column), self._text_ids)

    def latest_id(self) -> int:
        with self.db.engine.connect() as conn:
            return int(conn.scalar(select(func.max(_T.c.id))) or 0)

    def count(self) -> int:
        with self.db.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(_T)) or 0)

    def distinct(self, column: str, limit: int = 200) -> list[str]:
        """The distinct non-empty values of a column (session, source, topic, broadcast_type, severity, host,
        kind, issue_name), sorted: for the filter drop-downs."""
        try:
            col = DISTINCT_COLUMNS[column]
        except KeyError:
            raise ValueError(f"no distinct values for column {column!r}") from None
        stmt = select(col).where(col != "").distinct().order_by(col).limit(limit)
        with self.db.engine.connect() as conn:
            return list(conn.scalars(stmt))


__all__ = ["KINDS", "ConsumerStatusInfo", "MessageFilter", "MessageStore", "NewMessage", "StoredMessage"]
