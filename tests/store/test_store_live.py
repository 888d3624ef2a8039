"""Live polling is exact with two consumers writing at once, on SQLite and PostgreSQL: no committed row is ever
skipped, none comes twice, even when a lower id commits after a higher one."""

from __future__ import annotations

import itertools
import random
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import OperationalError

from store.message_filters import MessageFilter
from store.messages import MessageStore, NewMessage

_offsets = itertools.count()


def _rows(n: int, consumer: str, severity: str = "INFO") -> list[NewMessage]:
    return [NewMessage(topic=f"control.{consumer}", partition=0, offset=next(_offsets), time=datetime.now(UTC),
                       kind="broadcast", severity=severity, source=consumer, text=f"from {consumer}")
            for _ in range(n)]


def _drain(store, cursor, flt=None, limit=500):
    got = []
    while True:
        rows, cursor = store.live(cursor, flt, limit)
        got += rows
        if len(rows) < limit:
            return got, cursor


def test_out_of_order_commit_is_not_skipped(db):
    store = MessageStore(db)
    _, cursor = store.live(None)
    if db.is_sqlite:
        # SQLite: the second writer cannot even take an id before the first commits (write lock), so id order is
        # commit order and "newer than the last id" is exact too.
        a = db.engine.connect()
        a.exec_driver_sql("BEGIN IMMEDIATE")
        store.write(a, _rows(2, "a"))
        b = db.engine.connect()
        b.exec_driver_sql("PRAGMA busy_timeout=100")
        with pytest.raises(OperationalError, match="locked"):
            b.exec_driver_sql("BEGIN IMMEDIATE")
        b.close()
        a.commit()
        a.close()
        rows, cursor = store.live(cursor)
        assert len(rows) == 2
        return
    first, second = db.engine.connect(), db.engine.connect()
    t1, t2 = first.begin(), second.begin()
    store.write(first, _rows(1, "a"))  # takes the lower id
    store.write(second, _rows(1, "b"))  # the higher id, committed first
    t2.commit()
    latest_seen = store.latest_id()
    rows, cursor = store.live(cursor)
    assert [m.source for m in rows] == ["b"]
    t1.commit()
    first.close()
    second.close()
    rows, cursor = store.live(cursor)
    assert [m.source for m in rows] == ["a"]  # live sees it...
    assert store.newer_than(latest_seen) == []  # ...where "newer than the last id seen" has skipped it
    assert store.live(cursor)[0] == []


def test_older_transaction_committing_after_a_partial_page_does_not_skip_its_rest(db):
    """The PostgreSQL cursor once lost the rest of a transaction a page had stopped inside: an older transaction
    committing later came first in the next page, and the partial one was marked done."""
    if db.is_sqlite:
        pytest.skip("SQLite writers are serialised: id order is commit order")
    store = MessageStore(db)
    _, cursor = store.live(None)
    older, newer = db.engine.connect(), db.engine.connect()
    t_old, t_new = older.begin(), newer.begin()
    store.write(older, _rows(1, "x"))  # takes the lower transaction id
    store.write(newer, _rows(3, "p"))
    t_new.commit()
    rows, cursor = store.live(cursor, limit=2)  # stops inside "p"
    assert [m.source for m in rows] == ["p", "p"]
    store.write(older, _rows(2, "x"))
    t_old.commit()
    older.close()
    newer.close()
    rows, cursor = store.live(cursor, limit=2)  # the older transaction's rows come first and fill the page
    assert [m.source for m in rows] == ["x", "x"]
    rest, cursor = _drain(store, cursor, limit=2)
    assert sorted(m.source for m in rest) == ["p", "x"]
    assert store.live(cursor)[0] == []


def test_two_concurrent_consumers_every_row_exactly_once(db):
    store = MessageStore(db)
    _, cursor = store.live(None)

    def consumer(name: str, seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(25):
            with db.engine.begin() as conn:
                store.write(conn, _rows(rng.randrange(1, 30), name, rng.choice(("INFO", "ERROR"))))
                time.sleep(rng.random() * 0.01)  # hold the transaction: the other one commits meanwhile

    threads = [threading.Thread(target=consumer, args=(n, s)) for n, s in (("a", 1), ("b", 2))]
    for t in threads:
        t.start()
    seen = []
    polls = 0
    while any(t.is_alive() for t in threads) or polls < 2:
        rows, cursor = store.live(cursor, limit=17)  # small pages: a poll often stops inside a batch
        seen += [m.id for m in rows]
        if not any(t.is_alive() for t in threads):
            polls += 1
        time.sleep(0.002)
    for t in threads:
        t.join()
    rest, cursor = _drain(store, cursor, limit=17)
    seen += [m.id for m in rest]
    everything = [m.id for m in store.newer_than(0, limit=100_000)]
    assert len(seen) == len(set(seen)), "a row came twice"
    assert sorted(seen) == everything, "a committed row was skipped"


def test_live_with_a_filter_and_limits(db):
    store = MessageStore(db)
    store.insert_batch(_rows(5, "old"))
    _, cursor = store.live(None)
    store.insert_batch(_rows(30, "x", "DEBUG") + _rows(3, "x", "ERROR"))
    rows, cursor = store.live(cursor, MessageFilter(severities=("ERROR",)), limit=2)
    rest, cursor = store.live(cursor, MessageFilter(severities=("ERROR",)), limit=2)
    assert [m.severity for m in rows + rest] == ["ERROR"] * 3
    rows, cursor = store.live(cursor, limit=0)  # returns nothing (on PostgreSQL the cursor may move to the xmin)
    assert rows == [] and store.live(cursor)[0] == []
    with pytest.raises(ValueError, match="cursor"):
        store.live("garbage")
