"""Session rows from process rows and controller summaries; configuration validation, diffs and plans."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from drunc_client.process_manager import ProcessInfo
from viewmodels import sessions as vm
from viewmodels.boot import BootDefaults
from viewmodels.configurations import (
    PlanError,
    check_name,
    diff_plans,
    entries_for_session,
    parse_plan,
    plan_from_processes,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
DEFAULTS = BootDefaults("daq", "/tmp", now=NOW)


def _row(uuid, session, status="RUNNING", host="h1"):
    return {"uuid": uuid, "name": f"p{uuid}", "session": session, "status": status, "host": host}


def test_session_rows_join_processes_summaries_runs_and_errors():
    rows = [_row("1", "a"), _row("2", "a", "DEAD", "h2"), _row("3", "b"), _row("4", "")]
    summaries = {"a": {"registered": True, "error": None,
                       "head": {"state": "running", "in_charge": "alice", "in_error": False}},
                 "b": {"registered": False, "head": {}}}
    runs = {"a": SimpleNamespace(number=42, started_at=NOW - timedelta(minutes=75))}
    out = vm.session_rows(vm.process_summary(rows), summaries, runs, {"a": 3}, NOW)
    assert [r["session"] for r in out] == ["a", "b"]
    a, b = out
    assert (a["processes"], a["running"], a["dead"], a["hosts"]) == (3 - 1, 1, 1, ["h1", "h2"])
    assert (a["state"], a["in_charge"], a["colour"], a["errors"]) == ("running", "alice", "success", 3)
    assert (a["run_number"], a["run_elapsed"]) == (42, "1h 15m")
    assert vm.run_text(a) == "run 42 · 1h 15m"
    assert (b["registered"], b["state"], b["colour"], b["errors"]) == (False, "", "light", 0)
    assert vm.root_text(b) == "not registered" and vm.run_text(b) == "no run"


def test_a_session_not_swept_yet_and_one_in_error():
    out = vm.session_rows(vm.process_summary([_row("1", "x")]), {"x": None}, {}, {}, NOW, extra_sessions=["y"])
    assert [r["session"] for r in out] == ["x", "y"]
    assert vm.root_text(out[0]) == "not swept yet"
    head = {"state": "configured", "in_error": True}
    err = vm.session_rows(vm.process_summary([_row("1", "x")]), {"x": {"registered": True, "head": head}}, {}, {},
                          NOW)
    assert err[0]["colour"] == "danger" and vm.root_text(err[0]) == "configured · in error"


def test_unchanged_rows_have_the_same_signature_and_elapsed_is_in_minutes():
    runs = {"a": SimpleNamespace(number=1, started_at=NOW - timedelta(seconds=10))}
    one = vm.session_rows(vm.process_summary([_row("1", "a")]), {}, runs, {}, NOW)
    two = vm.session_rows(vm.process_summary([_row("1", "a")]), {}, runs, {}, NOW + timedelta(seconds=20))
    assert vm.signature(one) == vm.signature(two)
    assert vm.run_marks(runs, NOW) == vm.run_marks(runs, NOW + timedelta(seconds=20))
    assert vm.run_marks(runs, NOW) != vm.run_marks(runs, NOW + timedelta(seconds=60))


def test_process_summary_counts_and_hosts_per_session():
    rows = [_row("1", "a"), _row("2", "a", "DEAD", "h2"), _row("3", "b", host=""), _row("4", "")]
    assert vm.process_summary(rows) == {"a": {"processes": 2, "running": 1, "hosts": ["h1", "h2"]},
                                        "b": {"processes": 1, "running": 1, "hosts": []}}
    assert vm.elapsed_text(59) == "<1m" and vm.elapsed_text(3 * 86400 + 3600) == "3d 1h"


def test_links_quote_the_session():
    assert vm.links("a b")["controller"] == "/controller?session=a%20b"


PLAN = {"processes": [
    {"name": "ru-1", "session": "s1", "executable": "sleep", "arguments": ["600"], "allowed_hosts": ["localhost"],
     "tree_id": "1.1.1", "environment": {"LEVEL": "2"}},
    {"name": "ru-2", "session": "s1", "executable": "sleep", "arguments": ["600"]},
]}


def test_a_plan_is_validated_like_the_boot_file_and_kept_canonical():
    plan, entries = parse_plan(json.dumps(PLAN), DEFAULTS)
    assert [e.name for e in entries] == ["ru-1", "ru-2"] and all(e.ok for e in entries)
    assert plan["processes"][1] == {"name": "ru-2", "session": "s1", "executable": "sleep", "arguments": ["600"]}
    assert entries[0].spec.user == "daq" and entries[0].spec.log_path.startswith("/tmp/")


@pytest.mark.parametrize("text, reason", [
    ("not json", "Not valid JSON"),
    ("[]", "lists no processes"),
    (json.dumps([{"name": "a b", "session": "s", "executable": "x"}]), "1 of 1 processes are invalid"),
    (json.dumps([{"name": "a", "session": "s", "executable": "x", "tree_id": "1"}]), "Tree id"),
    (json.dumps([{"name": "a", "session": "s", "executable": "x"}] * 2), "must be unique"),
])
def test_a_bad_plan_is_refused_with_the_reason(text, reason):
    with pytest.raises(PlanError, match=reason):
        parse_plan(text, DEFAULTS)


def test_names_are_checked():
    assert check_name(" ok.v1 ") == "ok.v1"
    for bad in ("", "a b", "-x", "x" * 129, None, 3):
        with pytest.raises(PlanError):
            check_name(bad)


def test_booting_into_another_session_renames_every_process_session():
    entries = entries_for_session(PLAN, "other", DEFAULTS)
    assert {e.spec.session for e in entries} == {"other"}


def test_diff_names_added_removed_and_changed_fields():
    new = {"processes": [{**PLAN["processes"][0], "arguments": ["700"]},
                         {"name": "ru-3", "session": "s1", "executable": "sleep"}]}
    changes = [c.text() for c in diff_plans(PLAN, new)]
    assert changes == ["ru-2: removed", 'ru-1.arguments: ["600"] → ["700"]', "ru-3: added"]
    assert diff_plans(PLAN, PLAN) == []


def test_a_plan_from_running_processes_boots_the_same_commands():
    infos = [ProcessInfo(uuid="u1", name="ru-1", user="daq", session="s1", hostname="h1", tree_id="1.1.1",
                         status="RUNNING", return_code=0, executable="bash -c 'sleep 600'",
                         allowed_hosts=("h1", "h2"), log_path="/tmp/x.log")]
    plan = plan_from_processes(infos)
    assert plan == {"processes": [{"name": "ru-1", "session": "s1", "user": "daq", "executable": "bash",
                                   "arguments": ["-c", "sleep 600"], "allowed_hosts": ["h1", "h2"],
                                   "tree_id": "1.1.1"}]}
    parse_plan(json.dumps(plan), DEFAULTS)
    with pytest.raises(PlanError):
        plan_from_processes([])
