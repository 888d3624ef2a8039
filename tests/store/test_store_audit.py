"""AuditLog: recording, the audit page's filters, the login throttle's counts, and what comes back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text, update

from store import AuditEntry, AuditLog, Database
from store.audit import OUTCOMES
from store.models import AuditEvent

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _at(db, event_id: int, when: datetime) -> None:
    """Move an event in time: record() always stamps "now", and the filters need known times."""
    with db.session() as s:
        s.execute(update(AuditEvent).where(AuditEvent.id == event_id).values(time=when))


def _actions(entries) -> list[str]:
    return [e.action for e in entries]


def test_record_and_read_back(audit):
    before = datetime.now(UTC)
    event_id = audit.record(
        "alice",
        "process.kill",
        target="session/app-1",
        arguments={"signal": 9},
        outcome="failed",
        detail="no such process",
        address="10.0.0.7",
    )
    after = datetime.now(UTC)

    [entry] = audit.query()
    assert isinstance(entry, AuditEntry)
    assert entry.id == event_id
    assert (entry.username, entry.action, entry.target, entry.outcome, entry.detail, entry.address) == (
        "alice",
        "process.kill",
        "session/app-1",
        "failed",
        "no such process",
        "10.0.0.7",
    )
    assert entry.arguments == {"signal": 9}
    assert before - timedelta(seconds=1) <= entry.time <= after + timedelta(seconds=1)


def test_defaults_for_anonymous_events(audit):
    audit.record(None, "login", address=None)
    [entry] = audit.query()
    assert (entry.username, entry.target, entry.arguments, entry.outcome, entry.detail, entry.address) == (
        "",
        "",
        None,
        "ok",
        "",
        "",
    )


def test_query_is_newest_first_by_time_then_id(audit, db):
    a = audit.record("u", "first")
    b = audit.record("u", "second")
    c = audit.record("u", "third")
    d = audit.record("u", "fourth")
    _at(db, a, T0 + timedelta(minutes=3))  # recorded first, but the latest
    _at(db, b, T0)
    _at(db, c, T0 + timedelta(minutes=1))
    _at(db, d, T0 + timedelta(minutes=1))  # same time as c: the higher id wins
    assert _actions(audit.query()) == ["first", "fourth", "third", "second"]


def test_ordinary_recording_order_is_kept(audit):
    for i in range(10):
        audit.record("u", f"step.{i}")
    assert _actions(audit.query()) == [f"step.{i}" for i in reversed(range(10))]


def test_limit_keeps_the_newest(audit):
    for i in range(10):
        audit.record("u", f"step.{i}")
    assert _actions(audit.query(limit=3)) == ["step.9", "step.8", "step.7"]
    assert len(audit.query(limit=100)) == 10


def test_filter_by_username(audit):
    audit.record("alice", "login")
    audit.record("alice2", "login")
    audit.record("Alice", "login")
    audit.record("", "login")
    assert [e.username for e in audit.query(username="alice")] == ["alice"]
    assert len(audit.query(username="")) == 4  # no filter
    assert len(audit.query(username=None)) == 4


def test_filter_by_action_and_family(audit):
    for action in ("user", "user.create", "user.grant.role", "users.admin", "username", "user_x.y", "process.kill"):
        audit.record("admin", action)

    assert sorted(_actions(audit.query(action="user"))) == ["user", "user.create", "user.grant.role"]
    assert _actions(audit.query(action="user.create")) == ["user.create"]
    assert _actions(audit.query(action="user.grant")) == ["user.grant.role"]
    assert _actions(audit.query(action="users")) == ["users.admin"]
    assert _actions(audit.query(action="process")) == ["process.kill"]
    assert audit.query(action="proc") == []
    assert audit.query(action="process.kil") == []


def test_action_family_is_a_literal_case_sensitive_prefix(audit):
    """No LIKE wildcards, and the same answer on SQLite (whose LIKE ignores case) as on PostgreSQL."""
    for action in ("controller.take_control", "controller.takeXcontrol.sub", "user.create", "a%b.c", "axxb.c"):
        audit.record("admin", action)

    assert _actions(audit.query(action="controller.take_control")) == ["controller.take_control"]
    assert audit.query(action="User") == []
    assert audit.query(action="USER.CREATE") == []
    assert _actions(audit.query(action="a%b")) == ["a%b.c"]
    assert audit.query(action="%") == []
    assert audit.query(action="_") == []


def test_filter_by_outcome(audit):
    for outcome in OUTCOMES:
        audit.record("u", "process.kill", outcome=outcome)
    audit.record("u", "process.restart", outcome="denied")
    for outcome in OUTCOMES:
        assert {e.outcome for e in audit.query(outcome=outcome)} == {outcome}
    assert _actions(audit.query(outcome="denied")) == ["process.restart", "process.kill"]
    assert _actions(audit.query(action="process.kill", outcome="denied")) == ["process.kill"]


def test_filter_by_since_and_until_inclusive(audit, db):
    ids = [audit.record("u", f"at.{minute}") for minute in range(5)]
    for minute, event_id in enumerate(ids):
        _at(db, event_id, T0 + timedelta(minutes=minute))

    assert _actions(audit.query(since=T0 + timedelta(minutes=3))) == ["at.4", "at.3"]
    assert _actions(audit.query(until=T0 + timedelta(minutes=1))) == ["at.1", "at.0"]
    between = audit.query(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
    assert _actions(between) == ["at.3", "at.2", "at.1"]
    assert audit.query(since=T0 + timedelta(minutes=3), until=T0 + timedelta(minutes=2)) == []
    assert audit.query(since=T0 + timedelta(minutes=4, microseconds=1)) == []


def test_time_filters_accept_any_timezone(audit, db):
    event_id = audit.record("u", "tick")
    _at(db, event_id, T0)
    geneva = timezone(timedelta(hours=1))
    same_instant = T0.astimezone(geneva)  # 13:00+01:00
    assert len(audit.query(since=same_instant, until=same_instant)) == 1
    assert audit.query(since=same_instant + timedelta(seconds=1)) == []
    assert audit.count("tick", since=same_instant) == 1


def test_naive_times_are_refused(audit):
    audit.record("u", "tick")
    with pytest.raises(Exception, match="naive datetime"):
        audit.query(since=datetime(2026, 3, 1, 12, 0))


def test_count(audit, db):
    old = audit.record("alice", "login", outcome="failed", address="10.0.0.1")
    audit.record("alice", "login", outcome="failed", address="10.0.0.1")
    audit.record("alice", "login", outcome="failed", address="10.0.0.2")
    audit.record("bob", "login", outcome="failed", address="10.0.0.1")
    audit.record("alice", "login", outcome="ok", address="10.0.0.1")
    audit.record("", "login", outcome="failed", address="10.0.0.3")
    audit.record("alice", "login.other", outcome="failed", address="10.0.0.1")
    _at(db, old, T0)
    since = T0 + timedelta(minutes=1)

    assert audit.count("login") == 6  # exact action: "login.other" is not counted
    assert audit.count("login", outcome="failed") == 5
    assert audit.count("login", outcome="failed", since=since) == 4
    assert audit.count("login", outcome="failed", username="alice") == 3
    assert audit.count("login", outcome="failed", username="alice", since=since) == 2
    assert audit.count("login", outcome="failed", address="10.0.0.1") == 3
    assert audit.count("login", outcome="failed", address="10.0.0.1", since=since) == 2
    assert audit.count("login", username="") == 1  # "" is a filter here, unlike None
    assert audit.count("login", username="carol") == 0
    assert audit.count("logout") == 0


def test_distinct_values(audit):
    for username, action in [
        ("bob", "login"),
        ("alice", "process.kill"),
        ("bob", "logout"),
        ("", "login"),
        (None, "login"),
        ("alice", "login"),
    ]:
        audit.record(username, action)
    assert audit.distinct_values("username") == ["alice", "bob"]  # sorted, without the anonymous ""
    assert audit.distinct_values("action") == ["login", "logout", "process.kill"]
    with pytest.raises((KeyError, ValueError)):
        audit.distinct_values("detail")  # only the columns the page filters by


def test_invalid_outcome_is_refused(audit):
    for outcome in ("", "OK", "success", None):
        with pytest.raises(ValueError, match="unknown audit outcome"):
            audit.record("u", "login", outcome=outcome)
    assert audit.query() == []


def test_long_values_are_clipped(audit):
    audit.record("u" * 100, "a" * 100, target="t" * 5000, detail="d" * 4000, address="1" * 80)
    [entry] = audit.query()
    assert entry.username == "u" * 63 + "…"
    assert entry.action == "a" * 63 + "…"
    assert entry.target == "t" * 3999 + "…"
    assert entry.detail == "d" * 4000  # at the limit: kept whole
    assert entry.address == "1" * 63 + "…"


def test_non_text_values_are_stored_as_text(audit):
    audit.record("u", "run.start", target=42, detail=3.5)
    [entry] = audit.query()
    assert (entry.target, entry.detail) == ("42", "3.5")


def test_times_are_aware_utc(audit, db):
    audit.record("u", "tick")
    [entry] = audit.query()
    assert entry.time.tzinfo is not None
    assert entry.time.utcoffset() == timedelta(0)
    with db.session() as s:
        created = s.scalar(select(AuditEvent.time))
    assert created.utcoffset() == timedelta(0)


def test_times_stay_utc_when_the_server_zone_is_not(database_url):
    """A PostgreSQL server in another time zone hands back local times; the store must still give UTC."""
    db = Database(database_url)
    try:
        if not db.is_sqlite:
            with db.engine.begin() as conn:
                name = conn.execute(text("SELECT current_database()")).scalar()
                conn.execute(text(f"ALTER DATABASE \"{name}\" SET timezone TO 'America/Chicago'"))
            db.dispose()  # new connections pick up the setting
            with db.engine.connect() as conn:
                assert conn.execute(text("SHOW timezone")).scalar() == "America/Chicago"
        db.migrate()
        audit = AuditLog(db)
        event_id = audit.record("u", "tick")
        _at(db, event_id, T0)

        [entry] = audit.query()
        assert entry.time == T0
        assert entry.time.utcoffset() == timedelta(0)
        assert entry.time.hour == 12
        assert len(audit.query(since=T0, until=T0)) == 1
    finally:
        db.dispose()


def test_json_arguments_round_trip(audit):
    cases = [
        None,
        {},
        {"signal": 9, "force": True, "ratio": 0.25, "none": None},
        {"nodes": ["ru-01", "ru-02"], "nested": {"deep": [1, {"x": "y"}]}},
        {"text": "naïve ✓ 日本語", "quote": 'it\'s "quoted"', "backslash": "a\\b", "nul": "a\x00b"},
    ]
    for arguments in cases:
        audit.record("u", "controller.command", arguments=arguments)
    expected = cases[:-1] + [{**cases[-1], "nul": "ab"}]  # NUL is removed, like in every text column
    assert [e.arguments for e in reversed(audit.query())] == expected


def test_nul_in_text_is_stored_and_matched_alike_on_both_backends(audit):
    """PostgreSQL refuses NUL in text; a login with one in the name must still be recorded and counted.
    NUL is removed at the store boundary (store.text.clean), for what is stored and what is matched alike."""
    audit.record("al\x00ice", "login", outcome="failed", target="t\x00", detail="d\x00", address="1\x00")
    assert audit.count("login", outcome="failed", username="al\x00ice") == 1
    assert audit.count("login", outcome="failed", address="1\x00") == 1
    [entry] = audit.query(username="al\x00ice")
    assert "\x00" not in entry.username + entry.target + entry.detail + entry.address
    assert entry.username == "alice"


def test_any_python_text_is_recorded_and_found_again(audit):
    """Lone surrogates (valid Python str, not encodable) in every field, argument and query parameter."""
    odd = "x\ud800y\udfff\x00z"
    event = audit.record(odd, odd, target=odd, arguments={odd: [odd, {"k": odd}]}, outcome="failed", detail=odd,
                         address=odd)
    [entry] = audit.query(username=odd, action=odd, outcome="failed")
    assert entry.id == event
    assert entry.username == entry.target == entry.detail == "x\ufffdy\ufffdz"
    assert entry.arguments == {"x\ufffdy\ufffdz": ["x\ufffdy\ufffdz", {"k": "x\ufffdy\ufffdz"}]}
    assert audit.count(odd, username=odd, address=odd, outcome="failed") == 1
    assert audit.query(username={"not": "text"}) == []  # a non-string parameter is matched as its text
    assert "x\ufffdy\ufffdz" in audit.distinct_values("username")


def test_an_attempt_is_completed_or_discarded(audit):
    attempt = audit.record("shifter", "process.action", target="ru-01", outcome="attempted")
    [entry] = audit.query()
    assert entry.outcome == "attempted"
    audit.complete(attempt, "ok", action="process.kill", detail="1 ok\ud800", arguments={"count": 1})
    [entry] = audit.query()
    assert (entry.id, entry.action, entry.outcome, entry.target, entry.detail, entry.arguments) == (
        attempt, "process.kill", "ok", "ru-01", "1 ok\ufffd", {"count": 1})
    other = audit.record("shifter", "process.action", outcome="attempted")
    audit.discard(other)
    audit.discard(attempt)  # only an attempt that never got its outcome can be discarded
    assert [e.id for e in audit.query()] == [attempt]
    with pytest.raises(ValueError):
        audit.complete(attempt, "attempted")


def test_counts_find_what_was_recorded_even_when_clipped(audit):
    """The login throttle counts by the name and address it recorded; clipping must not make them differ."""
    name, address = "n" * 100, "a" * 100
    audit.record(name, "login", outcome="failed", address=address)
    audit.record(name, "login", outcome="failed", address=address)
    assert audit.count("login", outcome="failed", username=name) == 2
    assert audit.count("login", outcome="failed", address=address) == 2
    assert len(audit.query(username=name)) == 2
