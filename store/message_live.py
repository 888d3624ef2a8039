"""Exact live polling under concurrent writers: the cursor behind `MessageStore.live()`.

"Newer than the last id seen" skips a row when ids are allocated before commit and two writers commit out of
order: consumer A takes id 10, consumer B takes id 11 and commits first, a poll sees 11 and moves past 10, which
commits a moment later.

- **SQLite** serialises writers: a writer holds the database's write lock from its first write to its commit, and
  AUTOINCREMENT allocates ids under that lock, so id order is commit order and a reader (WAL: a snapshot of a
  prefix of the commits) that sees id n sees every id below n. The cursor is the last id; a poll reads the newest
  id first, so when the filtered walk returns fewer than `limit` rows the cursor moves to that id and hidden rows
  (hours of DEBUG) are never walked again. (tests/store/test_store_live.py checks that a second writer blocks.)
- **PostgreSQL**: every row holds its writing transaction's id (`txid`, pg_current_xact_id()). A poll runs in one
  REPEATABLE READ snapshot and reads its xmin: every transaction with an id below xmin has ended, so its rows are
  final. The cursor keeps `lo` (the xmin of the previous poll) and `done`, the transactions at or above `lo` whose
  rows were already returned: a poll returns the rows with `txid >= lo` of transactions not in `done` (a
  transaction's rows become visible all at once), then moves `lo` to the new xmin and keeps in `done` only the
  transactions at or above it. A row is returned once its transaction committed, without waiting for older
  transactions, and never twice. `done` holds one id per batch committed while an older transaction was still
  open: a handful normally; a session that keeps a transaction open for hours makes it grow (and the cursor with
  it) until that transaction ends.
  When a poll stops at `limit` inside a transaction's rows, the cursor also keeps (txid, last id) of it; it can
  hold several, because a transaction older than a partial one can commit later and its rows come first.

Rows stored before migration 0006 have no txid: they are older than any cursor and never polled.
"""

from __future__ import annotations

from sqlalchemy import func, not_, select, text

from store.message_filters import MessageFilter, conditions
from store.models import Message

T = Message.__table__
MAX_LIMIT = 10_000


def _decode(cursor: str, sqlite: bool):
    try:
        parts = cursor.split(".")
        if sqlite:
            if parts[0] != "s1" or len(parts) != 2:
                raise ValueError
            return int(parts[1])
        if parts[0] == "p1" and len(parts) == 5:  # the one-partial form written before the fix
            partial = {} if parts[3] == "" else {int(parts[3]): int(parts[4])}
        elif parts[0] == "p2" and len(parts) == 4:
            partial = {int(t): int(i) for t, i in (x.split(":") for x in parts[3].split(",") if x)}
        else:
            raise ValueError
        lo = int(parts[1])
        done = {int(x) for x in parts[2].split(",") if x}
        return lo, done, partial
    except (ValueError, AttributeError, IndexError):
        raise ValueError("not a live cursor of this database: start again without one") from None


def _encode_pg(lo: int, done: set[int], partial: dict[int, int]) -> str:
    return (f"p2.{lo}.{','.join(str(x) for x in sorted(done))}."
            f"{','.join(f'{t}:{i}' for t, i in sorted(partial.items()))}")


def poll(store, cursor: str | None, flt: MessageFilter | None, limit: int):
    from store.messages import _COLUMNS, _stored

    limit = max(0, min(int(limit), MAX_LIMIT))
    engine = store.db.engine
    if store.db.is_sqlite:
        with engine.connect() as conn:
            latest = int(conn.scalar(select(func.max(T.c.id))) or 0)
            if cursor is None:
                return [], f"s1.{latest}"
            last = _decode(cursor, True)
            if limit == 0:
                return [], cursor
            stmt = (select(*_COLUMNS).where(T.c.id > last, *conditions(flt, unindexed=True))
                    .order_by(T.c.id).limit(limit))
            rows = [_stored(r) for r in conn.execute(stmt)]
        # Fewer than `limit`: every matching row up to `latest` (read first) was returned.
        last = max(last, latest, *(m.id for m in rows)) if len(rows) < limit else rows[-1].id
        return rows, f"s1.{last}"

    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        xmin = int(conn.scalar(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")))
        if cursor is None:
            done = set(conn.scalars(select(T.c.txid).where(T.c.txid >= xmin).distinct()))
            return [], _encode_pg(xmin, done, {})
        lo, done, partial = _decode(cursor, False)
        if limit == 0:
            return [], cursor
        where = [T.c.txid.is_not(None), T.c.txid >= lo, *conditions(flt, unindexed=True)]
        if done:
            where.append(T.c.txid.not_in(sorted(done)))
        where += [not_((T.c.txid == t) & (T.c.id <= i)) for t, i in partial.items()]
        stmt = select(*_COLUMNS, T.c.txid).where(*where).order_by(T.c.txid, T.c.id).limit(limit + 1)
        found = conn.execute(stmt).all()
    rows, txids = [_stored(r[:-1]) for r in found[:limit]], [int(r[-1]) for r in found[:limit]]
    seen = set(txids) | set(partial)
    if len(found) <= limit:  # every visible row of every transaction at or above `lo` has now been returned
        new_lo, new_partial, completed = xmin, {}, seen
    else:
        # Rows come by (txid, id): every transaction below the first one not returned is complete. That one
        # and any older partial above it (a transaction older than a partial can commit later and come first)
        # are kept as partials. A completed set built from "returned" alone skipped a partial's rest.
        nxt = int(found[limit][-1])
        completed = {t for t in seen if t < nxt}
        new_partial = {t: i for t, i in partial.items() if t >= nxt}
        if txids and txids[-1] == nxt:
            new_partial[nxt] = rows[-1].id
        new_lo = min(xmin, nxt)
    done = {x for x in done | completed if x >= new_lo}
    return rows, _encode_pg(new_lo, done, new_partial)
