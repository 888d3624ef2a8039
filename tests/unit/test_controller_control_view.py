"""Control, include/exclude plans with their subtree, errors with their recovery (viewmodels/control.py), and the
state timeline's derivation (viewmodels/timeline.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from viewmodels import control as vm
from viewmodels import timeline as tl


def node(path, kind="controller", **kw):
    name = path.rsplit("/", 1)[-1]
    parent = path.rsplit("/", 1)[0] if "/" in path else ""
    base = {"path": path, "name": name, "parent": parent, "depth": path.count("/"), "kind": kind,
            "state": "configured", "sub_state": "configured", "busy": False, "in_error": False, "included": True,
            "unreachable": False, "host": "", "in_charge": "alice" if kind == "controller" else "",
            "address": f"127.0.0.1:{1000 + len(path)}" if kind == "controller" else "", "error": ""}
    return {**base, **kw}


NODES = [node("root"), node("root/seg-0"), node("root/seg-0/app-0", "application"),
         node("root/seg-0/app-1", "application"), node("root/seg-1"), node("root/seg-1/app-0", "application")]


def test_subtree_lists_the_node_and_its_descendants_only():
    assert [n["path"] for n in vm.subtree(NODES, "root/seg-0")] == \
        ["root/seg-0", "root/seg-0/app-0", "root/seg-0/app-1"]
    assert len(vm.subtree(NODES, "root")) == 6


def test_exclude_a_segment_goes_to_its_own_address_and_lists_the_subtree():
    plan = vm.inclusion_plan(NODES, "root/seg-0", "exclude")
    assert plan.ok and plan.address == NODES[1]["address"] and len(plan.affected) == 3
    assert plan.summary() == "exclude seg-0 and its 2 descendants"
    assert "root/seg-0/app-1 (application, configured)" in [vm.affected_line(n) for n in plan.affected]


def test_applications_cannot_be_excluded_alone_and_double_exclusion_is_refused():
    app = vm.inclusion_plan(NODES, "root/seg-0/app-1", "exclude")
    assert not app.ok and "cannot exclude one application" in app.refusal and "Exclude seg-0 instead" in app.refusal
    excluded = [dict(n, included=False) if n["path"].startswith("root/seg-1") else n for n in NODES]
    assert vm.inclusion_plan(excluded, "root/seg-1", "exclude").refusal == "seg-1 is already excluded."
    assert vm.inclusion_plan(excluded, "root/seg-1", "include").ok
    assert vm.inclusion_plan(NODES, "root/seg-1", "include").refusal == "seg-1 is already included."
    assert "not in the tree" in vm.inclusion_plan(NODES, "root/nope", "exclude").refusal


def test_control_texts():
    assert vm.not_in_control_text("root", "bob", datetime(2025, 1, 1, 13, 40, tzinfo=UTC)) == \
        "bob is in charge of root since 13:40 UTC; take control first."
    assert vm.not_in_control_text("root", "controller_init_token") == "Nobody is in charge of root: take control first."
    assert "from bob?" in vm.take_control_question("root", "bob", "alice")
    assert vm.take_control_question("root", "alice", "alice") is None
    assert vm.take_control_question("root", "controller_init_token", "alice") is None
    assert vm.take_control_question("root", "", "alice") is None


def test_errors_say_the_recovery_plainly():
    broken = [dict(n, in_error=True) if n["path"] in ("root", "root/seg-0/app-1") else n for n in NODES]
    entries = vm.errors(broken)
    assert [e.path for e in entries] == ["root", "root/seg-0/app-1"]
    top, app = entries
    assert "No drunc 0.10.x command clears an error" in top.recovery and top.exclude_path == ""
    assert top.link == "/process-manager?q=root"
    assert app.exclude_path == "root/seg-0" and "or exclude seg-0" in app.recovery
    assert app.link == "/process-manager?q=app-1"
    assert vm.errors_summary(entries) == "2 nodes in error: root, app-1"
    assert vm.errors(NODES) == []


def test_on_a_011_root_the_node_in_error_itself_is_excluded_through_the_root():
    broken = [dict(n, in_error=True) if n["path"] == "root/seg-0/app-1" else n for n in NODES]
    [app] = vm.errors(broken, targeted=True)
    assert app.exclude_path == "root/seg-0/app-1" and app.exclude_name == "app-1"
    assert "No drunc 0.13.x command clears an error" in app.recovery
    assert "or exclude app-1 (through the root, which stays out of error)" in app.recovery


def test_timeline_parses_broadcasts_and_builds_segments():
    t0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    msgs = [SimpleNamespace(id=i, time=t0 + timedelta(seconds=10 * i), source="root", text=text)
            for i, text in enumerate(["Changing operational_state from initial to preparing-conf",
                                      "Changing operational_state from preparing-conf to configured",
                                      "garbage", ])]
    msgs.append(SimpleNamespace(id=9, time=t0, source="stranger", text="Changing operational_state from a to b"))
    events = tl.events_from_broadcasts(msgs, {"root": "root"})
    assert [e[2] for e in events] == ["initial", "preparing-conf", "configured"]
    since, now = t0 - timedelta(minutes=1), t0 + timedelta(minutes=1)
    segs = tl.segments(events, {"root": "configured", "root/seg-0": "configured"}, since, now)
    root = [(s.state, s.start, s.end) for s in segs if s.lane == "root"]
    assert root == [("initial", since, t0), ("transition", t0, t0 + timedelta(seconds=10)),
                    ("configured", t0 + timedelta(seconds=10), now)]
    assert [(s.state, s.start) for s in segs if s.lane == "root/seg-0"] == [("configured", since)]
    fig = tl.figure(segs, tl.lanes_for(NODES, all_nodes=False), since, now)
    assert {t["name"] for t in fig["data"]} == {"initial", "transition", "configured"}
    assert fig["layout"]["xaxis"]["type"] == "date"
    assert len(tl.lanes_for(NODES, all_nodes=False)) == 3 and len(tl.lanes_for(NODES, all_nodes=True)) == 6
