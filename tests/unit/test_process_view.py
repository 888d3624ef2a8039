"""Process table view-models: rows, deltas and their merging, URL state, action outcomes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from drunc_client.process_manager import ProcessInfo
from viewmodels.processes import (
    Delta,
    Target,
    count_text,
    diff_rows,
    flush_outcomes,
    kill_outcomes,
    merge_deltas,
    process_row,
    query_from_view,
    sessions_summary,
    status_counts,
    targets_from_rows,
    terminate_phrase,
    view_from_query,
)


def info(uuid="u1", name="ru-01", status="RUNNING", code=0, tree="1.2.3", session="s", exe="readout --x"):
    return ProcessInfo(uuid=uuid, name=name, user="daq", session=session, hostname="np04-srv-001", tree_id=tree,
                       status=status, return_code=code, executable=exe, allowed_hosts=("np04-srv-001",),
                       log_path="/log/x")


def test_row_shows_the_exit_code_of_dead_processes_only():
    assert process_row(info())["exit"] is None
    row = process_row(info(status="DEAD", code=-9))
    assert row["exit"] == -9 and row["status"] == "DEAD" and row["host"] == "np04-srv-001"


def test_rows_carry_no_derived_fields():
    # The grid derives the tree order and indentation itself (assets/ui/process_tree.js, tested in the browser).
    assert set(process_row(info())) == {"uuid", "name", "user", "session", "host", "status", "exit", "tree_id",
                                        "executable"}


def test_long_commands_are_clipped():
    assert len(process_row(info(exe="x" * 1000))["executable"]) == 160


def test_diff_finds_added_changed_and_removed_rows():
    old = {"a": {"uuid": "a", "status": "RUNNING"}, "b": {"uuid": "b", "status": "RUNNING"}}
    new = {"a": {"uuid": "a", "status": "DEAD"}, "c": {"uuid": "c", "status": "RUNNING"}}
    delta = diff_rows(old, new)
    assert delta.add == [new["c"]] and delta.update == [new["a"]] and delta.remove == ["b"]
    assert delta.transaction()["remove"] == [{"uuid": "b"}]
    assert not diff_rows(new, dict(new))


def test_merge_drops_short_lived_rows_and_turns_a_comeback_into_an_update():
    a1, a2 = {"uuid": "a", "v": 1}, {"uuid": "a", "v": 2}
    merged = merge_deltas([Delta(add=[a1]), Delta(update=[a2])])
    assert merged.add == [a2] and not merged.update
    assert not merge_deltas([Delta(add=[a1]), Delta(remove=["a"])])
    comeback = merge_deltas([Delta(remove=["a"]), Delta(add=[a2])])
    assert comeback.update == [a2] and not comeback.add and not comeback.remove


tables = st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 3), max_size=6).map(
    lambda d: {k: {"uuid": k, "v": v} for k, v in d.items()})


def apply(table: dict, delta: Delta) -> dict:
    out = dict(table)
    for row in delta.add:
        assert row["uuid"] not in out, "add of a row the table has"
        out[row["uuid"]] = row
    for row in delta.update:
        assert row["uuid"] in out, "update of a row the table lacks"
        out[row["uuid"]] = row
    for uuid in delta.remove:
        assert uuid in out, "remove of a row the table lacks"
        del out[uuid]
    return out


@given(st.lists(tables, min_size=2, max_size=6))
def test_merged_deltas_take_a_tab_from_any_old_version_to_the_newest(versions):
    deltas = [diff_rows(a, b) for a, b in zip(versions, versions[1:], strict=False)]
    assert apply(versions[0], merge_deltas(deltas)) == versions[-1]


def test_url_state_round_trips_and_ignores_junk():
    view = view_from_query("?session=np04&status=DEAD&tree=1.2&q=ru&refresh=5&evil=<x>")
    assert view.filter_model["session"] == {"filterType": "text", "type": "contains", "filter": "np04"}
    assert "tree_key" in view.filter_model and view.quick == "ru" and view.refresh == "5"
    assert query_from_view(view.filter_model, view.quick, view.refresh) == \
        "?session=np04&status=DEAD&tree=1.2&q=ru&refresh=5"
    assert view_from_query("?refresh=99").refresh == "1"
    assert query_from_view({}, "", "1") == ""
    assert query_from_view({"exit": {"filter": 3, "filterType": "number"}, "name": "odd"}, None, None) == ""


def test_targets_come_only_from_well_formed_rows():
    rows = [{"uuid": "abc-1", "name": "x"}, {"uuid": "abc-1", "name": "dup"}, {"uuid": "", "name": "y"},
            {"uuid": "../../etc", "name": "z"}, "junk", {"uuid": 5}, {"uuid": "def", "name": None}]
    assert targets_from_rows(rows) == [Target("abc-1", "x"), Target("def", "")]
    assert targets_from_rows(None) == []


def test_outcomes_say_what_happened_to_each_target():
    targets = [Target("a", "ru"), Target("b", "df")]
    killed = kill_outcomes(targets, [info(uuid="a", status="DEAD", code=-3)])
    assert [(o.ok, o.message) for o in killed] == [(True, "killed (exit code -3)"),
                                                   (False, "not found: it had already left the process manager")]
    flushed = flush_outcomes(targets, [info(uuid="b", status="DEAD")])
    assert [o.ok for o in flushed] == [False, True]


def test_terminate_phrase_is_the_only_session_or_a_fixed_text():
    assert terminate_phrase([{"session": "np04"}, {"session": "np04"}]) == "np04"
    assert terminate_phrase([{"session": "np04"}, {"session": "np02"}]) == "terminate all"
    assert terminate_phrase([]) == "terminate all"
    assert terminate_phrase([{"session": ""}]) == "terminate all"
    assert sessions_summary([{"session": "b", "status": "DEAD"}, {"session": "a", "status": "RUNNING"}]) == [
        ("a", 1, 1), ("b", 1, 0)]


def test_counts():
    counts = status_counts([{"status": "RUNNING"}, {"status": "DEAD"}, {"status": "RUNNING"}])
    assert count_text(3, counts) == "3 processes · 2 running · 1 dead"
    assert count_text(1, {"RUNNING": 1}) == "1 process · 1 running · 0 dead"
