"""The message store on SQLite and PostgreSQL: idempotent inserts, incremental and filtered queries, keyset pages,
retention, the consumer status row, and index use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from store.messages import MessageFilter, MessageStore, NewMessage

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SEVERITIES = ("DEBUG", "INFO", "WARNING", "ERROR", "FATAL")


def _msg(i: int, **changes) -> NewMessage:
    values = {
        "topic": f"control.s{i % 3}.proc{i % 4}",
        "partition": 0,
        "offset": i,
        "time": T0 + timedelta(seconds=i),
        "kind": "broadcast" if i % 2 else "ers",
        "severity": SEVERITIES[i % 5],
        "session": f"s{i % 3}",
        "source": f"proc{i % 4}",
        "host": "np04",
        "broadcast_type": "FSM_STATUS_UPDATE" if i % 2 else "",
        "issue_name": "" if i % 2 else "ers::Issue",
        "text": f"Message number {i}" + (" Disk FULL" if i % 10 == 0 else ""),
        "details": None if i % 2 else {"causes": [], "parameters": {"i": str(i)}},
    }
    values.update(changes)
    return NewMessage(**values)


@pytest.fixture
def messages(db):
    return MessageStore(db)


@pytest.fixture
def filled(messages):
    assert messages.insert_batch([_msg(i) for i in range(200)]) == 200
    return messages


def test_insert_is_idempotent(messages):
    batch = [_msg(i) for i in range(50)]
    assert messages.insert_batch(batch) == 50
    assert messages.insert_batch(batch) == 0
    assert messages.count() == 50
    # a batch mixing old and new records stores only the new ones
    assert messages.insert_batch([_msg(i) for i in range(40, 60)]) == 10
    assert messages.count() == 60
    # the same offset on another partition or topic is another record
    assert messages.insert_batch([_msg(0, partition=1), _msg(0, topic="other")]) == 2
    assert messages.insert_batch([]) == 0


def test_values_round_trip(messages):
    m = _msg(0, text="nul\x00here", details={"parameters": {"a": "b\x00"}, "causes": [{"name": "x"}]})
    messages.insert_batch([m])
    (stored,) = messages.newer_than(0)
    assert stored.time == m.time and stored.time.tzinfo is not None
    assert stored.received_at.tzinfo is not None
    assert (stored.topic, stored.partition, stored.offset, stored.kind) == (m.topic, 0, 0, "ers")
    assert (stored.severity, stored.session, stored.source, stored.host) == ("DEBUG", "s0", "proc0", "np04")
    assert stored.text == "nulhere"  # NUL removed, as in every text column
    assert stored.details == {"parameters": {"a": "b"}, "causes": [{"name": "x"}]}
    assert messages.latest_id() == stored.id


def test_lone_surrogates_are_stored_and_matched(messages):
    odd = "a\ud800b"
    messages.insert_batch([_msg(0, text=odd, session=odd, source=odd, details={odd: odd})])
    (stored,) = messages.newer_than(0)
    assert stored.text == stored.session == stored.source == "a\ufffdb"
    assert stored.details == {"a\ufffdb": "a\ufffdb"}
    found = messages.search(MessageFilter(sessions=(odd,), sources=(odd,), text=odd), limit=10)
    assert [m.id for m in found] == [stored.id]


def test_long_values_are_clipped(messages):
    messages.insert_batch([_msg(0, session="s" * 400, text="t" * 10_000)])
    (stored,) = messages.newer_than(0)
    assert len(stored.session) == 255 and stored.session.endswith("…")
    assert stored.text == "t" * 10_000


def test_newer_than_is_ascending_with_limit_and_filters(filled):
    all_rows = filled.newer_than(0, limit=1000)
    ids = [m.id for m in all_rows]
    assert ids == sorted(ids) and len(ids) == 200
    page = filled.newer_than(ids[99], limit=10)
    assert [m.id for m in page] == ids[100:110]
    assert filled.newer_than(filled.latest_id()) == []
    errors = filled.newer_than(ids[99], limit=1000, flt=MessageFilter(severities=("ERROR",), sessions=("s1",)))
    expected = [m.id for m in all_rows[100:] if m.severity == "ERROR" and m.session == "s1"]
    assert [m.id for m in errors] == expected and expected


def _expected(rows, pred, before=None):
    return [m.id for m in sorted(rows, key=lambda m: -m.id) if pred(m) and (before is None or m.id < before)]


@pytest.mark.parametrize(
    ("flt", "pred"),
    [
        (MessageFilter(), lambda m: True),
        (MessageFilter(severities=("ERROR", "FATAL")), lambda m: m.severity in ("ERROR", "FATAL")),
        (MessageFilter(topics=("control.s1.proc2",)), lambda m: m.topic == "control.s1.proc2"),
        (MessageFilter(sessions=("s0", "s2")), lambda m: m.session in ("s0", "s2")),
        (MessageFilter(sources=("proc3",)), lambda m: m.source == "proc3"),
        (MessageFilter(broadcast_types=("FSM_STATUS_UPDATE",)), lambda m: m.broadcast_type == "FSM_STATUS_UPDATE"),
        (MessageFilter(kinds=("ers",)), lambda m: m.kind == "ers"),
        (MessageFilter(text="disk full"), lambda m: "disk full" in m.text.lower()),
        (MessageFilter(text="%"), lambda m: False),
        (
            MessageFilter(since=T0 + timedelta(seconds=50), until=T0 + timedelta(seconds=80)),
            lambda m: T0 + timedelta(seconds=50) <= m.time <= T0 + timedelta(seconds=80),
        ),
        (
            MessageFilter(severities=("DEBUG", "ERROR"), sessions=("s0", "s1"), sources=("proc0", "proc2"),
                          text="MESSAGE", kinds=("ers", "broadcast"), since=T0 + timedelta(seconds=20)),
            lambda m: m.severity in ("DEBUG", "ERROR") and m.session in ("s0", "s1")
            and m.source in ("proc0", "proc2") and m.time >= T0 + timedelta(seconds=20),
        ),
        (MessageFilter(sessions=("nope",)), lambda m: False),
    ],
)
def test_search_filters(filled, flt, pred):
    rows = filled.newer_than(0, limit=1000)
    assert [m.id for m in filled.search(flt, limit=1000)] == _expected(rows, pred)
    # limited, and from a point in the middle
    middle = rows[120].id
    assert [m.id for m in filled.search(flt, before_id=middle, limit=7)] == _expected(rows, pred, middle)[:7]


def test_search_pages_have_no_gap_or_overlap(filled):
    flt = MessageFilter(severities=("INFO", "WARNING", "FATAL"), sessions=("s0", "s2"))
    everything = [m.id for m in filled.search(flt, limit=1000)]
    pages, before = [], None
    while True:
        page = filled.search(flt, before_id=before, limit=9)
        if not page:
            break
        pages.append([m.id for m in page])
        before = page[-1].id
    assert [i for p in pages for i in p] == everything
    assert all(len(p) == 9 for p in pages[:-1])


def test_text_search_is_case_insensitive_and_literal(messages):
    messages.insert_batch([
        _msg(1, text="Run 100% complete"), _msg(2, text="under_score"), _msg(3, text="UNDERXSCORE"),
        _msg(4, text="ÉRROR in Ünïcode"),
    ])
    assert [m.offset for m in messages.search(MessageFilter(text="100%"))] == [1]
    assert [m.offset for m in messages.search(MessageFilter(text="R_S"))] == [2]
    assert [m.offset for m in messages.search(MessageFilter(text="run 100"))] == [1]
    assert [m.offset for m in messages.search(MessageFilter(text="in ü"))] in ([4], [])  # SQLite lower() is ASCII


def test_prune_by_age(messages):
    now = datetime.now(UTC)
    old = [_msg(i, time=now - timedelta(hours=2)) for i in range(30)]
    new = [_msg(i, time=now - timedelta(seconds=5)) for i in range(30, 50)]
    messages.insert_batch(old + new)
    assert messages.prune(3600, None, batch=7) == 30
    assert messages.count() == 20
    assert all(m.offset >= 30 for m in messages.newer_than(0))
    assert messages.prune(3600, None) == 0


def test_prune_by_row_count_removes_the_oldest(filled):
    latest = filled.latest_id()
    assert filled.prune(None, 150, batch=16) == 50
    assert filled.count() == 150
    remaining = [m.offset for m in filled.newer_than(0, limit=1000)]
    assert remaining == list(range(50, 200))
    assert filled.prune(None, 150) == 0
    # ids keep growing after pruning, even when everything was removed
    assert filled.prune(None, 0) == 150 and filled.count() == 0
    filled.insert_batch([_msg(1000)])
    assert filled.latest_id() > latest


def test_status_upsert_and_increments(messages):
    assert messages.status() is None
    when = T0 + timedelta(minutes=1)
    messages.update_status("runcontrol-ui", stored=10, undecodable=1, last_message_time=when, last_error="broker down")
    messages.update_status("runcontrol-ui", stored=5)
    status = messages.status("runcontrol-ui")
    assert (status.messages_stored, status.undecodable) == (15, 1)
    assert status.last_message_time == when
    assert status.last_error == "broker down"
    assert status.last_poll_time is not None and status.updated_at.tzinfo is not None
    messages.update_status("runcontrol-ui", last_error="", polled=False)
    assert messages.status().last_error is None
    messages.update_status("other", stored=1)
    assert messages.status("other").messages_stored == 1
    assert messages.status().messages_stored == 15


def test_distinct_values(filled):
    filled.insert_batch([_msg(500, session="")])
    assert filled.distinct("session") == ["s0", "s1", "s2"]
    assert filled.distinct("source") == ["proc0", "proc1", "proc2", "proc3"]
    assert filled.distinct("broadcast_type") == ["FSM_STATUS_UPDATE"]
    assert len(filled.distinct("topic", limit=2)) == 2
    with pytest.raises(ValueError):
        filled.distinct("text")


def _plan(db, stmt) -> str:
    with db.engine.connect() as conn:
        compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
        return " | ".join(str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))


def test_queries_use_indexes_on_sqlite(db, messages, monkeypatch):
    if not db.is_sqlite:
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    messages.insert_batch([_msg(i) for i in range(2000)])
    plans = []
    from sqlalchemy.engine import Connection

    original = Connection.execute

    def spy(self, statement, *args, **kwargs):
        if getattr(statement, "is_select", False) and "messages" in str(statement):
            plans.append(_plan(db, statement))
        return original(self, statement, *args, **kwargs)

    monkeypatch.setattr(Connection, "execute", spy)
    messages.newer_than(1900)
    messages.newer_than(1900, flt=MessageFilter(severities=("ERROR", "FATAL"), text="x"))
    messages.search(MessageFilter(), before_id=1500)
    messages.search(MessageFilter(severities=("ERROR", "FATAL"), sessions=("s1",), text="disk"))
    messages.search(MessageFilter(sources=("proc1",), topics=("control.s1.proc1",)), before_id=1000)
    messages.search(MessageFilter(broadcast_types=("FSM_STATUS_UPDATE",), kinds=("broadcast",)))
    messages.search(MessageFilter(topics=("control.s1.proc1", "control.s2.proc2")))
    monkeypatch.undo()
    assert len(plans) >= 8
    for plan in plans:
        assert "SCAN messages" not in plan or "USING" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
        assert "SEARCH" in plan or "USING INTEGER PRIMARY KEY" in plan or "USING INDEX" in plan, plan
