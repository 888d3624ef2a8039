"""The run banner, durations, history rows and the outside-run detection rule (viewmodels/runs.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from store.runs import RunInfo
from viewmodels import runs as vm

NOW = datetime(2025, 3, 4, 15, 4, 20, tzinfo=UTC)


def root(state="running", **kw):
    return {"path": "root", "name": "root", "state": state, "sub_state": state, "busy": False, "in_error": False,
            "included": True, "unreachable": False, "in_charge": "alice", **kw}


def run(number=1234, started=NOW - timedelta(hours=1, minutes=2, seconds=9), stopped=None, source="ui",
        outcome="running", run_type="PHYSICS", by="alice", stopped_by=""):
    return RunInfo(1, "s", "h:1", number, run_type, by, started, stopped_by, stopped, None, source, outcome, "")


@pytest.mark.parametrize("seconds, text", [
    (0, "0 s"), (45.9, "45 s"), (60, "1 min 00 s"), (185, "3 min 05 s"), (3720, "1 h 02 min"),
    (86400 + 3 * 3600, "1 d 03 h"), (-5, "0 s"),
])
def test_duration_text(seconds, text):
    assert vm.duration_text(seconds) == text


def test_since_text_is_utc_with_the_duration():
    assert vm.since_text(datetime(2025, 3, 4, 14, 2, 11, tzinfo=UTC), NOW) == \
        "running since 14:02:11 UTC (1 h 02 min)"


def test_banner_of_a_run_started_here():
    b = vm.banner(root(), run(), NOW)
    assert (b.state, b.colour, b.run) == ("running", "success", "run 1234 · PHYSICS")
    assert b.since == "running since 14:02:11 UTC (1 h 02 min) by alice"
    assert b.in_charge == "alice is in charge" and b.source == "" and b.note == ""


def test_banner_of_a_run_started_outside_and_of_no_run():
    b = vm.banner(root(), run(number=None, source="outside", by="", run_type=""), NOW)
    assert b.run == "run number unknown" and b.source == "started outside this UI"
    idle = vm.banner(root("configured", in_charge="controller_init_token"), None, NOW)
    assert (idle.run, idle.colour, idle.since) == ("no run", "primary", "")
    assert idle.in_charge.startswith("nobody is in charge")


def test_banner_says_error_transition_lock_and_stale_data():
    b = vm.banner(root("running", in_error=True), None, NOW, lock_text="transition in progress: stop, by bob",
                  feed_error="deadline exceeded")
    assert b.colour == "danger" and b.state == "running · in error"
    assert "transition in progress" in b.note and "last poll failed: deadline exceeded" in b.note
    busy = vm.banner(root("configured", busy=True, sub_state="preparing-start"), None, NOW)
    assert busy.state == "configured (preparing-start)"
    assert vm.banner(root(unreachable=True, in_error=True, state="unknown"), None, NOW).state == "unreachable"
    assert vm.banner(None, None, NOW, registered=False, message="no root for s").state == "not registered"


@pytest.mark.parametrize("state, open_run, kw, expected", [
    ("running", False, {}, "seen_running"),
    ("ready", False, {}, "seen_running"),  # started, triggers not enabled yet: a run all the same
    ("running", True, {}, None),
    ("configured", True, {}, "seen_stopped"),
    ("initial", True, {}, "seen_stopped"),
    ("ready", True, {}, None),  # disable_triggers mid stop_run: the run is still open
    ("configured", False, {}, None),
    ("running", False, {"lock_held": True}, None),  # this UI's own start: the FSM part records it
    ("running", False, {"feed_ok": False}, None),
])
def test_run_change_rules(state, open_run, kw, expected):
    assert vm.run_change(root(state), open_run, **kw) == expected


@pytest.mark.parametrize("flags", [{"busy": True}, {"in_error": True}, {"unreachable": True}])
def test_no_conclusion_from_a_busy_failing_or_unreachable_root(flags):
    assert vm.run_change(root("running", **flags), False) is None
    assert vm.run_change(root("configured", **flags), True) is None
    assert vm.run_change(None, True) is None


def test_history_rows_and_signature():
    done = run(number=7, started=NOW - timedelta(hours=3), stopped=NOW - timedelta(hours=2), outcome="stopped",
               stopped_by="bob")
    outside = run(number=None, source="outside", by="", started=NOW - timedelta(minutes=5), run_type="")
    rows = vm.history_rows([outside, done], NOW)
    assert rows[0]["source"] == "started outside this UI" and rows[0]["duration"] == "5 min 00 s so far"
    assert rows[0]["run"] == "?" and rows[0]["outcome"] == "running"
    assert rows[1]["duration"] == "1 h 00 min" and rows[1]["stopped_by"] == "bob" and rows[1]["source"] == "this UI"
    assert vm.history_signature([done], NOW) == vm.history_signature([done], NOW + timedelta(minutes=5))
    assert vm.history_signature([outside], NOW) != vm.history_signature([outside], NOW + timedelta(minutes=1))
