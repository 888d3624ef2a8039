"""Severity counters and rate buckets: from the per-minute rollup when it can answer, exact otherwise.

The rollup (`message_counts`, kept by the triggers of migration 0007) holds messages per minute, severity, kind
and session. A filter on only those fields and time is answered from it: the whole minutes inside the time range
from the rollup, the partial minutes at its two ends from the messages (at most two minutes of rows), so the
answer is exact and its cost follows the number of minutes, not of messages.

Any other filter (text, emitter, host, topic, broadcast type, issue) is counted on the messages, over the newest
`cap` matching rows at most: the answer then says it is partial ("at least"), so a text filter at a million rows
stays within the page's time budget instead of reading every row.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from store.message_filters import SEVERITY_KEYS, MessageFilter, conditions, rollup_conditions, severity_key
from store.models import Message, MessageCount

T = Message.__table__
R = MessageCount
MINUTE = 60
_TICK = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE_US = MINUTE * 1_000_000


def _micros(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (a float timestamp would round at this size)."""
    return (moment - _EPOCH) // _TICK


def _plan(flt: MessageFilter):
    """(rollup minute range [lo, hi) or None for "no whole minute", the exact edge filters).

    A bound of None is open. The edges are `flt` narrowed to the partial minutes at each end.
    """
    since, until = flt.since, flt.until
    lo = None if since is None else -(-_micros(since) // _MINUTE_US) * MINUTE  # the first whole minute
    hi = None if until is None else (_micros(until) + 1) // _MINUTE_US * MINUTE  # until is included
    if lo is not None and hi is not None and lo >= hi:
        return None, [flt]  # less than one whole minute: the messages alone
    edges = []
    if since is not None:
        edges.append(replace(flt, until=datetime.fromtimestamp(lo, UTC) - _TICK))
    if until is not None:
        edges.append(replace(flt, since=datetime.fromtimestamp(hi, UTC)))
    return (lo, hi), edges


def _minute_conditions(span) -> list:
    lo, hi = span
    out = []
    if lo is not None:
        out.append(R.c.minute >= lo)
    if hi is not None:
        out.append(R.c.minute < hi)
    return out


def counters(conn, flt: MessageFilter | None, cap: int | None, text_ids) -> tuple[dict[str, int], bool]:
    """(matching messages per normalised severity, exact?). Not exact only when `cap` rows were counted."""
    flt = flt or MessageFilter()
    counts = dict.fromkeys(SEVERITY_KEYS, 0)
    where = rollup_conditions(flt, R)
    if where is not None:
        span, edges = _plan(flt)
        if span is not None:
            stmt = (select(R.c.severity, func.sum(R.c.n)).where(*where, *_minute_conditions(span))
                    .group_by(R.c.severity))
            for severity, n in conn.execute(stmt):
                counts[severity_key(severity)] += int(n or 0)
        for edge in edges:
            for severity, n in conn.execute(select(T.c.severity, func.count()).where(*conditions(edge))
                                            .group_by(T.c.severity)):
                counts[severity_key(severity)] += int(n)
        return counts, True
    rows = select(T.c.severity).where(*conditions(flt), *text_ids(conn, flt))
    if cap is not None:
        rows = rows.order_by(T.c.time.desc(), T.c.id.desc()).limit(max(1, int(cap)))
    sub = rows.subquery()
    total = 0
    for severity, n in conn.execute(select(sub.c.severity, func.count()).group_by(sub.c.severity)):
        counts[severity_key(severity)] += int(n)
        total += int(n)
    return counts, cap is None or total < cap


def rate(conn, flt: MessageFilter | None, secs: int, cap: int | None, bucket_expr,
         text_ids) -> tuple[list[tuple[datetime, str, int]], bool]:
    """((bucket start, normalised severity, messages) oldest first, exact?) as `counters`."""
    flt = flt or MessageFilter()
    totals: dict[tuple[int, str], int] = {}

    def add(start, severity, n):
        key = (int(start) // secs * secs, severity_key(severity))
        totals[key] = totals.get(key, 0) + int(n)

    def exact(edge: MessageFilter, limit: int | None) -> int:
        rows = select(T.c.time, T.c.severity).where(*conditions(edge), *text_ids(conn, edge))
        if limit is not None:
            rows = rows.order_by(T.c.time.desc(), T.c.id.desc()).limit(max(1, int(limit)))
        sub = rows.subquery()
        bucket = bucket_expr(sub.c.time, secs).label("bucket")
        counted = 0
        for start, severity, n in conn.execute(select(bucket, sub.c.severity, func.count())
                                               .group_by(bucket, sub.c.severity)):
            add(start, severity, n)
            counted += int(n)
        return counted

    is_exact = True
    where = rollup_conditions(flt, R) if secs % MINUTE == 0 else None
    if where is not None:
        span, edges = _plan(flt)
        if span is not None:
            stmt = (select(R.c.minute, R.c.severity, func.sum(R.c.n)).where(*where, *_minute_conditions(span))
                    .group_by(R.c.minute, R.c.severity))
            for minute, severity, n in conn.execute(stmt):
                add(minute, severity, n or 0)
        for edge in edges:
            exact(edge, None)
    else:
        counted = exact(flt, cap)
        is_exact = cap is None or counted < cap
    order = {s: i for i, s in enumerate(SEVERITY_KEYS)}
    out = [(datetime.fromtimestamp(start, UTC), sev, n)
           for (start, sev), n in sorted(totals.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])) if n]
    return out, is_exact


def unacknowledged(conn, levels) -> int:
    stmt = select(func.sum(R.c.unacked)).where(R.c.severity.in_(levels), R.c.unacked != 0)
    return int(conn.scalar(stmt) or 0)


_SQLITE_MINUTE = "CAST(strftime('%s', substr(messages.time, 1, 16) || ':00') AS INTEGER)"
KEY = "minute, severity, kind, session"
# SQLite: run by MessageStore.write after a batch's INSERT, in its transaction, with ?1 the highest id stored
# before the batch. The batch holds the single writer lock from its INSERT to its commit and AUTOINCREMENT ids are
# contiguous, so the new rows are exactly the ids above max(id) - inserted. A row trigger doing the same row by row
# cost ingest a third (13k instead of 19k rows/s); deletes and acknowledgements keep row triggers (migration 0007).
SQLITE_AFTER_INSERT = (
    f"""UPDATE message_counts SET n = message_counts.n + d.n, unacked = message_counts.unacked + d.unacked FROM (
        SELECT {_SQLITE_MINUTE} AS minute, severity, kind, session, count(*) AS n,
               sum(acked_at IS NULL) AS unacked FROM messages WHERE id > ?1 GROUP BY 1, 2, 3, 4) AS d
        WHERE message_counts.minute = d.minute AND message_counts.severity = d.severity
          AND message_counts.kind = d.kind AND message_counts.session = d.session""",
    f"""INSERT INTO message_counts ({KEY}, n, unacked)
        SELECT {_SQLITE_MINUTE} AS m, severity, kind, session, count(*),
               sum(acked_at IS NULL) FROM messages WHERE id > ?1 GROUP BY 1, 2, 3, 4
        HAVING NOT EXISTS (SELECT 1 FROM message_counts c WHERE c.minute = m AND c.severity = messages.severity
                           AND c.kind = messages.kind AND c.session = messages.session)""",
    "INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages WHERE id > ?1",
)



# PostgreSQL: fold the delta rows the triggers appended into one row per key. Rows appended meanwhile by other
# transactions are not in this statement's snapshot and stay for the next time; a concurrent compaction skips
# the rows this one deleted. Zero rows (everything pruned) are dropped.
_PG_COMPACT = """
WITH gone AS (DELETE FROM message_counts RETURNING minute, severity, kind, session, n, unacked)
INSERT INTO message_counts (minute, severity, kind, session, n, unacked)
SELECT minute, severity, kind, session, sum(n), sum(unacked) FROM gone GROUP BY 1, 2, 3, 4
HAVING sum(n) <> 0 OR sum(unacked) <> 0
"""
_SQLITE_COMPACT = "DELETE FROM message_counts WHERE n = 0 AND unacked = 0"


def compact(conn, is_sqlite: bool) -> None:
    conn.exec_driver_sql(_SQLITE_COMPACT if is_sqlite else _PG_COMPACT)


__all__ = ["SQLITE_AFTER_INSERT", "compact", "counters", "rate", "unacknowledged"]
