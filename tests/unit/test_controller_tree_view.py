"""Controller tree view-models: badges, state text, grid rows, diffs and their merge, counts, session names."""

from __future__ import annotations

from viewmodels.controller_tree import (
    BADGE_CONFIGURED,
    BADGE_ERROR,
    BADGE_INITIAL,
    BADGE_RUNNING,
    TreeDelta,
    badge_class,
    clean_session,
    counts_text,
    diff_nodes,
    grid_row,
    merge_deltas,
    node_counts,
    query_for,
    session_choices,
    state_text,
)


def node(path, state="running", **extra):
    name = path.rsplit("/", 1)[-1]
    return {"path": path, "name": name, "parent": path.rpartition("/")[0], "depth": path.count("/"),
            "kind": "application", "state": state, "sub_state": "idle", "busy": False, "in_error": False,
            "included": True, "unreachable": False, "host": "", "in_charge": "", "address": "", "error": "",
            "order": 0, **extra}


def test_badges_by_state_errors_win():
    assert badge_class("running") == BADGE_RUNNING
    assert badge_class("configured") == badge_class("ready") == BADGE_CONFIGURED
    assert badge_class("initial") == BADGE_INITIAL
    assert badge_class("running", in_error=True) == BADGE_ERROR
    assert badge_class("unknown", unreachable=True) == BADGE_ERROR
    assert badge_class("error") == BADGE_ERROR
    assert badge_class("dataflow_drained") not in (BADGE_RUNNING, BADGE_ERROR)


def test_state_text_shows_the_sub_state_while_busy():
    assert state_text(node("r", "configured", busy=True, sub_state="preparing-start")) == \
        "configured (preparing-start)"
    assert state_text(node("r", "configured", sub_state="idle")) == "configured"
    assert state_text(node("r", "unknown", unreachable=True, in_error=True)) == "unreachable"


def test_grid_row_marks_excluded_but_not_unreachable_nodes():
    excluded = grid_row(node("r/a", included=False))
    assert excluded["excluded"] and excluded["badge"] == BADGE_RUNNING
    gone = grid_row(node("r/a", "unknown", included=False, unreachable=True, in_error=True))
    assert not gone.get("excluded") and gone["unreachable"] and gone["badge"] == BADGE_ERROR
    assert set(excluded) == {"path", "order", "name", "depth", "kind", "state", "badge", "excluded"}


def test_diff_by_path():
    old = [node("r"), node("r/a"), node("r/b")]
    new = [node("r"), node("r/a", "configured"), node("r/c")]
    delta = diff_nodes(old, new)
    assert [r["path"] for r in delta.add] == ["r/c"]
    assert [r["path"] for r in delta.update] == ["r/a"] and delta.remove == ["r/b"]
    assert not diff_nodes(new, new)
    transaction = delta.transaction()
    assert transaction["remove"] == [{"path": "r/b"}] and transaction["update"][0]["state"] == "configured"


def test_merge_of_consecutive_deltas():
    a = TreeDelta(add=[node("r/x")])
    b = TreeDelta(update=[node("r/x", "configured"), node("r/y", "configured")])
    c = TreeDelta(remove=["r/y", "r/z"])
    merged = merge_deltas([a, b, c])
    assert [(r["path"], r["state"]) for r in merged.add] == [("r/x", "configured")]
    assert merged.update == [] and sorted(merged.remove) == ["r/y", "r/z"]
    assert not merge_deltas([TreeDelta(add=[node("r/q")]), TreeDelta(remove=["r/q"])])
    back = merge_deltas([TreeDelta(remove=["r/q"]), TreeDelta(add=[node("r/q")])])
    assert [r["path"] for r in back.update] == ["r/q"]


def test_counts_line():
    rows = [node("r")] + [node(f"r/{i}") for i in range(109)] + [node("r/bad", in_error=True)]
    assert counts_text(node_counts(rows)) == "111 nodes · 110 running · 1 in error"
    rows.append(node("r/off", "configured", included=False))
    rows.append(node("r/busy", "configured", busy=True))
    assert counts_text(node_counts(rows)) == "113 nodes · 110 running · 1 in error · 1 excluded · 1 in transition"
    assert counts_text(node_counts([node("r")])) == "1 node · 1 running · 0 in error"


def test_session_names_choices_and_url():
    assert clean_session(" np04-hd_1.2 ") == "np04-hd_1.2"
    assert clean_session("a b") is None and clean_session("") is None and clean_session("-x") is None
    assert clean_session("x" * 129) is None
    rows = [{"session": "b"}, {"session": "a"}, {"session": ""}, {"session": "bad name"}]
    assert session_choices(rows, "local-1x1-config", "c") == ["a", "b", "c", "local-1x1-config"]
    assert query_for("cfg", "cfg", "1") == {"session": None, "refresh": None}
    assert query_for("np04", "cfg", "5") == {"session": "np04", "refresh": "5"}
