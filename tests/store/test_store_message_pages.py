"""The Messages page's store API on SQLite and PostgreSQL: filters (match and exclude per field, normalised
severities, text match and exclude), keyset pages by (time, id) in both directions, counters, rates, export, get."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from store.message_filters import MessageFilter
from store.messages import MessageStore, NewMessage

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SEVERITIES = ("DEBUG", "INFO", "WARNING", "ERROR", "FATAL", "Notice")


def _msg(i: int, **changes) -> NewMessage:
    values = {
        "topic": f"control.s{i % 3}.proc{i % 4}", "partition": 0, "offset": i,
        # times repeat (every 3 rows share one) and go backwards every 50 rows: ordering is by (time, id), not id
        "time": T0 + timedelta(seconds=(i // 3) - 40 * (i // 50 % 2)),
        "kind": ("broadcast", "ers", "undecodable")[i % 3], "severity": SEVERITIES[i % 6],
        "session": f"s{i % 3}", "source": f"proc{i % 4}", "host": f"np0{i % 2}",
        "broadcast_type": "FSM" if i % 3 == 0 else "", "issue_name": "ers::Issue" if i % 3 == 1 else "",
        "text": f"Message number {i}" + (" Disk FULL" if i % 10 == 0 else ""),
    }
    values.update(changes)
    return NewMessage(**values)


@pytest.fixture
def store(db):
    s = MessageStore(db)
    assert s.insert_batch([_msg(i) for i in range(300)]) == 300
    return s


def _all(store):
    return store.newer_than(0, limit=10_000)


def _expected(store, pred):
    return [m.id for m in sorted(_all(store), key=lambda m: m.key, reverse=True) if pred(m)]


LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "FATAL"}
CASES = [
    (MessageFilter(), lambda m: True),
    (MessageFilter(severities=("other",)), lambda m: m.severity not in LEVELS),
    (MessageFilter(severities=("error", "OTHER")), lambda m: m.severity == "ERROR" or m.severity not in LEVELS),
    (MessageFilter(hosts=("np01",)), lambda m: m.host == "np01"),
    (MessageFilter(issue_names=("ers::Issue",)), lambda m: m.issue_name == "ers::Issue"),
    (MessageFilter(kinds=("undecodable",), sessions=("s2", "s1")), lambda m: m.kind == "undecodable"),
    (MessageFilter(text="disk full", text_exclude="number 1"),
     lambda m: "disk full" in m.text.lower() and "number 1" not in m.text.lower()),
    (MessageFilter(exclude=(("severity", "DEBUG"), ("severity", "other"), ("source", "proc1"))),
     lambda m: m.severity in LEVELS - {"DEBUG"} and m.source != "proc1"),
    (MessageFilter(sources=("proc0", "proc2"), exclude=(("source", "proc2"), ("host", "np01"))),
     lambda m: m.source == "proc0" and m.host != "np01"),
    (MessageFilter(topics=("control.s1.proc1",), exclude=(("topic", "x"),)), lambda m: m.topic == "control.s1.proc1"),
    (MessageFilter(severities=("ERROR", "FATAL"), since=T0 + timedelta(seconds=20), until=T0 + timedelta(seconds=60)),
     lambda m: m.severity in ("ERROR", "FATAL") and T0 + timedelta(seconds=20) <= m.time <= T0 + timedelta(seconds=60)),
    (MessageFilter(broadcast_types=("FSM",), exclude=(("kind", "ers"), ("session", "s0"))),
     lambda m: m.broadcast_type == "FSM" and m.session != "s0"),
]


@pytest.mark.parametrize(("flt", "pred"), CASES)
def test_pages_filters_counts_and_export(store, flt, pred):
    expected = _expected(store, pred)
    assert [m.id for m in store.page(flt, limit=10_000)] == expected
    # keyset pages, older and older: no gap, no overlap
    seen, before = [], None
    while page := store.page(flt, before, limit=7):
        seen += [m.id for m in page]
        before = page[-1].key
    assert seen == expected
    # `after` walks back up towards now, block by block
    if expected:
        oldest = store.get(expected[-1])
        up, after = [], oldest.key
        while block := store.page(flt, after=after, limit=5):
            up = [m.id for m in block] + up
            after = block[0].key
        assert up == expected[:-1]
        assert [m.id for m in store.page(flt, offset=3, limit=4)] == expected[3:7]
    assert store.count_matching(flt) == len(expected)
    assert store.count_matching(flt, cap=5) == min(5, len(expected))
    rows = {m.id: m for m in _all(store)}
    counts = store.severity_counts(flt)
    assert sum(counts.values()) == len(expected)
    assert counts["OTHER"] == sum(1 for i in expected if rows[i].severity not in LEVELS)
    assert sum(n for _, _, n in store.rate(flt)) == len(expected)
    assert [m.id for m in store.export(flt, batch=11)] == expected


def test_rate_buckets_by_minute_and_severity(db):
    store = MessageStore(db)
    store.insert_batch([_msg(0, time=T0 + timedelta(seconds=5), severity="ERROR"),
                        _msg(1, time=T0 + timedelta(seconds=59), severity="ERROR"),
                        _msg(2, time=T0 + timedelta(seconds=60), severity="weird"),
                        _msg(3, time=T0 + timedelta(minutes=5, seconds=1), severity="INFO")])
    assert store.rate() == [(T0, "ERROR", 2), (T0 + timedelta(minutes=1), "OTHER", 1),
                            (T0 + timedelta(minutes=5), "INFO", 1)]
    assert store.rate(MessageFilter(severities=("INFO",)), bucket_secs=3600) == [(T0, "INFO", 1)]


def test_get_and_keys(store):
    first = _all(store)[0]
    got = store.get(first.id)
    assert got == first and got.key == (first.time, first.id) and got.acked_at is None
    assert store.get(10**9) is None


def test_bad_exclusion_is_a_clear_error():
    with pytest.raises(ValueError, match="field"):
        MessageFilter(exclude=(("text", "x"),))


def test_search_keeps_working_for_the_panel(store):
    rows = store.search(MessageFilter(sessions=("s1",)), limit=10)
    assert [m.id for m in rows] == _expected(store, lambda m: m.session == "s1")[:10]
    assert store.search(before_id=10**9) == []
