"""The runs table and the controller locks, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from store.controller_locks import ControllerLocks
from store.runs import OUTSIDE, RunStore

T0 = datetime(2026, 11, 30, 14, 2, 11, tzinfo=UTC)


@pytest.fixture
def runs(db):
    return RunStore(db)


@pytest.fixture
def locks(db):
    return ControllerLocks(db)


def test_a_run_through_the_ui_is_started_then_stopped(runs):
    assert runs.next_number() == 1 and runs.current("np04") is None
    run = runs.started("np04", number=1234, run_type="PHYSICS", user="alice", root="h:1", at=T0,
                       arguments={"run": 1234, "odd": "x\ud800\x00"})
    assert run.open and run.source == "ui" and run.outcome == "running"
    assert run.arguments == {"run": 1234, "odd": "x\ufffd"}
    assert runs.current("np04") == run and runs.current("other") is None
    assert runs.next_number() == 1235
    stopped = runs.stopped("np04", user="bob", at=T0 + timedelta(hours=1, minutes=2))
    assert (stopped.outcome, stopped.stopped_by, stopped.duration()) == ("stopped", "bob", 3720.0)
    assert runs.current("np04") is None and runs.stopped("np04") is None


def test_a_run_started_and_stopped_elsewhere_is_recorded_once(runs):
    seen = runs.seen_running("np04", root="h:1", at=T0)
    assert seen.source == OUTSIDE and seen.number is None and "outside" in seen.detail
    assert runs.seen_running("np04", at=T0 + timedelta(seconds=1)) is None  # already open
    closed = runs.seen_stopped("np04", at=T0 + timedelta(minutes=5))
    assert closed.outcome == "stopped" and "outside" in closed.detail
    assert [r.id for r in runs.recent("np04")] == [seen.id]


def test_a_new_start_closes_a_run_whose_stop_was_never_seen(runs):
    first = runs.started("np04", number=1, at=T0)
    second = runs.started("np04", number=2, at=T0 + timedelta(minutes=1))
    lost, = [r for r in runs.recent("np04") if r.id == first.id]
    assert lost.outcome == "lost" and runs.current("np04") == second
    assert [r.number for r in runs.recent()] == [2, 1]


def test_one_lock_per_root_released_only_by_its_holder_and_expiring(locks):
    held = locks.acquire("h:1", "start_run", "alice", session="np04", ttl=60, now=T0)
    assert held and held.text() == "transition in progress: start_run, by alice since 14:02:11 UTC"
    assert locks.acquire("h:1", "stop", "bob", now=T0 + timedelta(seconds=1)) is None
    assert locks.acquire("h:2", "conf", "bob", now=T0) is not None  # another root
    assert locks.current("h:1", now=T0 + timedelta(seconds=30)) == held
    stranger = held.__class__(**{**held.__dict__, "token": "not-the-holder"})
    assert locks.release(stranger) is False
    assert locks.current("h:1", now=T0 + timedelta(seconds=61)) is None  # expired: a crashed worker's lock
    again = locks.acquire("h:1", "stop", "bob", now=T0 + timedelta(seconds=61))
    assert again and again.username == "bob"
    assert locks.release(again) is True and locks.current("h:1", now=T0 + timedelta(seconds=62)) is None


def test_the_open_runs_of_every_session_in_one_query(runs):
    assert runs.open_runs() == {}
    a = runs.started("a", number=1, at=T0)
    runs.started("b", number=2, at=T0 + timedelta(minutes=1))
    runs.stopped("b", at=T0 + timedelta(minutes=2))
    c = runs.started("c", number=3, at=T0 + timedelta(minutes=3))
    assert runs.open_runs() == {"a": a, "c": c} == {s: runs.current(s) for s in ("a", "c")}
