"""The per-minute rollup (message_counts, migration 0008) and the counting paths over it, on both databases:
counters and rate buckets from the rollup equal a count of the rows, at minute edges too, after inserts,
redeliveries, acknowledgements and pruning; capped counts say so; SQLite's trigram lookup of a rare text gives
the same pages as the walk."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from store.acks import AckStore
from store.message_filters import MessageFilter, severity_key
from store.messages import MessageStore, NewMessage
from store.models import MessageCount

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SEVERITIES = ("DEBUG", "INFO", "WARNING", "ERROR", "FATAL", "Notice")


def _msg(i: int) -> NewMessage:
    return NewMessage(
        topic="t", partition=0, offset=i, time=T0 + timedelta(seconds=7.3 * i), kind=("broadcast", "ers")[i % 2],
        severity=SEVERITIES[i % 6], session=f"s{i % 3}", source=f"p{i % 4}", text=f"row {i} " + "x" * (i % 5))


@pytest.fixture
def store(db):
    s = MessageStore(db)
    assert s.insert_batch([_msg(i) for i in range(400)]) == 400
    assert s.insert_batch([_msg(i) for i in range(350, 450)]) == 50  # redelivered rows are not counted twice
    return s


def _rows(store):
    return store.newer_than(0, limit=10_000)


def _matches(m, flt: MessageFilter) -> bool:
    return ((not flt.severities or m.severity in flt.severities) and (not flt.sessions or m.session in flt.sessions)
            and (not flt.kinds or m.kind in flt.kinds)
            and all(getattr(m, f) != v for f, v in flt.exclude)
            and (flt.since is None or m.time >= flt.since) and (flt.until is None or m.time <= flt.until))


def _expected(store, flt):
    counts = Counter(severity_key(m.severity) for m in _rows(store) if _matches(m, flt))
    return {k: counts.get(k, 0) for k in ("DEBUG", "INFO", "WARNING", "ERROR", "FATAL", "OTHER")}


EDGE = T0 + timedelta(minutes=5, seconds=13, microseconds=1)
FILTERS = [
    MessageFilter(),
    MessageFilter(severities=("ERROR", "FATAL"), sessions=("s1",)),
    MessageFilter(kinds=("ers",), exclude=(("session", "s2"),)),
    MessageFilter(since=EDGE),
    MessageFilter(until=EDGE),
    MessageFilter(since=EDGE, until=EDGE + timedelta(minutes=17, seconds=29)),
    MessageFilter(since=EDGE, until=EDGE + timedelta(seconds=20)),  # less than a whole minute
    MessageFilter(since=T0 + timedelta(minutes=3), until=T0 + timedelta(minutes=9) - timedelta(microseconds=1)),
]


@pytest.mark.parametrize("flt", FILTERS)
def test_rollup_counters_equal_a_count_of_the_rows(store, flt):
    counts, exact = store.counters(flt)
    assert exact
    assert counts == _expected(store, flt)


@pytest.mark.parametrize("flt", FILTERS)
def test_rollup_rate_equals_the_rows_per_bucket(store, flt):
    for secs in (60, 300):
        buckets, exact = store.rate_counts(flt, secs)
        assert exact
        want = Counter()
        for m in _rows(store):
            if _matches(m, flt):
                start = int(m.time.timestamp()) // secs * secs
                want[(datetime.fromtimestamp(start, UTC), severity_key(m.severity))] += 1
        assert {(t, s): n for t, s, n in buckets} == dict(want)


def test_rollup_follows_acknowledgements_and_pruning(store, db):
    acks = AckStore(db)
    alarms = [m for m in _rows(store) if m.severity in ("ERROR", "FATAL")]
    assert acks.unacknowledged_count() == len(alarms)
    assert acks.acknowledge([alarms[0].id, alarms[1].id], "alice") == 2
    assert acks.acknowledge([alarms[0].id], "bob") == 0
    assert acks.unacknowledged_count() == len(alarms) - 2
    acks.acknowledge_up_to(alarms[10].id, "alice")
    left = sum(1 for m in _rows(store) if m.severity in ("ERROR", "FATAL") and m.acked_at is None)
    assert acks.unacknowledged_count() == left < len(alarms)
    store.prune(None, 100, batch=37)
    assert store.count() == 100
    assert store.counters()[0] == _expected(store, MessageFilter())
    left = sum(1 for m in _rows(store) if m.severity in ("ERROR", "FATAL") and m.acked_at is None)
    assert acks.unacknowledged_count() == left
    with db.engine.connect() as conn:
        assert sum(conn.scalars(select(MessageCount.c.n))) == 100


def test_filters_the_rollup_cannot_answer_are_counted_and_capped(store):
    flt = MessageFilter(sources=("p1",), text="row")
    want = _expected_text(store, flt)
    assert store.counters(flt) == (want, True)
    counts, exact = store.counters(flt, cap=10)
    assert not exact and sum(counts.values()) == 10
    buckets, exact = store.rate_counts(flt, 60, cap=10)
    assert not exact and sum(n for _, _, n in buckets) == 10
    assert store.rate_counts(flt, 60)[1]


def _expected_text(store, flt):
    counts = Counter(severity_key(m.severity) for m in _rows(store)
                     if m.source in flt.sources and flt.text in m.text.lower())
    return {k: counts.get(k, 0) for k in ("DEBUG", "INFO", "WARNING", "ERROR", "FATAL", "OTHER")}


@pytest.mark.parametrize("text", ["ROW 1", "row 12 ", "xxxx", "row 3%", "ro", "nowhere at all"])
def test_rare_and_common_texts_give_the_same_pages(store, text):
    """SQLite reads a rare text's rows by id from the trigram index; the answer must be the walk's."""
    flt = MessageFilter(text=text)
    want = [m.id for m in sorted(_rows(store), key=lambda m: m.key, reverse=True) if text.lower() in m.text.lower()]
    got, before = [], None
    while True:
        page = store.page(flt, before, limit=7)
        got += [m.id for m in page]
        if len(page) < 7:
            break
        before = page[-1].key
    assert got == want
    assert store.count_matching(flt) == len(want)
