"""The log viewer's pure functions: follow-mode overlap, the cap, titles, file names, failure messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drunc_client.errors import BackendUnavailable, DruncFlagError, InvalidArguments, ProtocolError
from viewmodels import logs as vm


def heartbeat(start: int, stop: int) -> list[str]:
    return [f"app: heartbeat {i}" for i in range(start, stop)]


# ------------------------------------------------------------------------------------------------ new_lines


def test_new_lines_after_the_shown_ones_are_appended():
    shown = heartbeat(0, 100)
    fetched = heartbeat(30, 103)  # the log grew by three lines; the window starts somewhere in the shown text
    assert vm.new_lines(vm.tail_signature(shown), fetched) == (heartbeat(100, 103), False)


def test_nothing_new_appends_nothing():
    shown = heartbeat(0, 100)
    assert vm.new_lines(vm.tail_signature(shown), heartbeat(0, 100)) == ([], False)
    assert vm.new_lines(vm.tail_signature(shown), heartbeat(20, 100)) == ([], False)


def test_a_short_log_with_fewer_lines_than_the_signature():
    shown = ["one", "two"]
    assert vm.new_lines(vm.tail_signature(shown), ["one", "two", "three"]) == (["three"], False)


def test_nothing_shown_yet_means_replace():
    assert vm.new_lines([], ["first", "second"]) == (["first", "second"], True)


def test_empty_logs():
    assert vm.new_lines([], []) == ([], False), "an empty log that stays empty is not a change"
    shown = heartbeat(0, 10)
    assert vm.new_lines(vm.tail_signature(shown), []) == ([], True), "a log emptied (truncated) is replaced"


def test_a_rotated_log_is_replaced():
    shown = heartbeat(0, 100)
    rotated = [f"new file line {i}" for i in range(5)]
    assert vm.new_lines(vm.tail_signature(shown), rotated) == (rotated, True)


def test_more_new_lines_than_the_window_holds_is_replaced():
    shown = heartbeat(0, 100)
    assert vm.new_lines(vm.tail_signature(shown), heartbeat(1000, 1500)) == (heartbeat(1000, 1500), True)


def test_repeated_identical_lines_are_placed_by_the_distinct_lines_before_them():
    shown = ["start", "x", "x", "x"]
    fetched = ["start", "x", "x", "x", "x", "x"]
    assert vm.new_lines(vm.tail_signature(shown), fetched) == (["x", "x"], False)


def test_repeated_identical_lines_only_never_show_a_line_twice():
    # Ambiguous (grown by 0 or by 2 lines?): the newest match wins, so nothing is duplicated.
    shown = ["x"] * 3
    assert vm.new_lines(vm.tail_signature(shown), ["x"] * 5) == ([], False)


def test_a_repeated_block_matches_its_newest_occurrence():
    block = ["a", "b", "c"]
    shown = block * 2
    fetched = block * 3 + ["d"]
    assert vm.new_lines(vm.tail_signature(shown), fetched) == (["d"], False)


def test_a_partial_last_line_that_got_completed_is_a_replacement():
    shown = ["one", "two", "thr"]
    fetched = ["one", "two", "three", "four"]
    assert vm.new_lines(vm.tail_signature(shown), fetched) == (fetched, True)


def test_the_signature_is_small_and_tracks_appended_lines():
    shown = heartbeat(0, 1000)
    signature = vm.tail_signature(shown)
    assert len(signature) == vm.SIGNATURE
    assert all(len(d) == 12 for d in signature)
    assert vm.extend_signature(signature, heartbeat(1000, 1003)) == vm.tail_signature(heartbeat(0, 1003))
    assert vm.extend_signature(vm.tail_signature(["a"]), ["b"]) == vm.tail_signature(["a", "b"])
    assert vm.tail_signature(["a"], size=0) == []


# ---------------------------------------------------------------------------------------------- follow_step


def test_follow_step_appends_below_the_cap():
    shown = heartbeat(0, 50)
    step = vm.follow_step(vm.tail_signature(shown), len(shown), heartbeat(0, 53), cap=100)
    assert (step.kind, step.append, step.drop, step.count) == ("append", tuple(heartbeat(50, 53)), 0, 53)
    assert list(step.tail) == vm.tail_signature(heartbeat(0, 53))


def test_follow_step_drops_the_oldest_lines_at_the_cap():
    shown = heartbeat(0, 100)
    step = vm.follow_step(vm.tail_signature(shown), 100, heartbeat(10, 104), cap=100)
    assert (step.kind, step.append, step.drop, step.count) == ("append", tuple(heartbeat(100, 104)), 4, 100)


def test_follow_step_replaces_when_the_new_lines_alone_fill_the_view():
    shown = heartbeat(0, 100)
    step = vm.follow_step(vm.tail_signature(shown), 100, heartbeat(0, 250), cap=100)
    assert (step.kind, step.append, step.count) == ("replace", tuple(heartbeat(150, 250)), 100)
    assert list(step.tail) == vm.tail_signature(heartbeat(150, 250))


def test_follow_step_nothing_new_and_reload():
    shown = heartbeat(0, 10)
    signature = vm.tail_signature(shown)
    assert vm.follow_step(signature, 10, heartbeat(0, 10), cap=100) == vm.FollowStep("none", count=10,
                                                                                   tail=tuple(signature))
    assert vm.follow_step(signature, 10, ["rotated"], cap=100).kind == "reload"
    assert vm.follow_step([], 0, ["first line"], cap=100).kind == "reload"


# ------------------------------------------------------------------------------------------------- the rest


@pytest.mark.parametrize(("value", "expected"), [(100, 100), (1000, 1000), ("10000", 10000), (None, 100),
                                                 (5, 100), ("lots", 100), (10**9, 100)])
def test_line_count_accepts_only_the_choices(value, expected):
    assert vm.line_count(value) == expected


def test_follow_window():
    assert [vm.follow_window(n) for n in vm.LINE_CHOICES] == [100, 500, 500]


def test_display_lines_are_text_lines_without_terminal_escapes():
    assert vm.display_lines(["\x1b[32mINFO\x1b[0m ok", "<b>not html</b>"]) == ["INFO ok\n", "<b>not html</b>\n"]
    assert vm.log_text(["a", "b"]) == "a\nb\n"
    assert vm.log_text([]) == ""


def test_titles_and_file_names():
    uuid = "0123abcd-0000-4000-8000-000000000000"
    assert vm.panel_title("ru-01", uuid) == "ru-01 · 0123abcd"
    assert vm.panel_title("", uuid) == "Process 0123abcd"
    assert vm.log_filename("ru-01", uuid) == "ru-01-0123abcd.log"
    assert vm.log_filename("../etc/pass wd", uuid) == "etc_pass_wd-0123abcd.log"
    assert vm.log_filename("", "") == "process-unknown.log"


def test_updated_text_is_utc_with_the_line_count():
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert vm.updated_text(now, 1234) == "updated 03:04:05 UTC · 1,234 lines"
    assert vm.updated_text(now, 1) == "updated 03:04:05 UTC · 1 line"


def test_failures_are_sentences():
    missing = DruncFlagError("pm", "logs", "DRUNC_EXCEPTION_THROWN",
                             "Log file /x.log of process 'a' does not exist (yet). drunc 0.10.x would ...")
    assert vm.describe_failure(missing, 5).kind == "missing"
    assert "no log yet" in vm.describe_failure(missing, 5).message
    gone = DruncFlagError("pm", "logs", "DRUNC_EXCEPTION_THROWN", "The process corresponding to the query "
                                                                  "doesn't exist")
    assert vm.describe_failure(gone, 5).kind == "unknown"
    other = DruncFlagError("pm", "logs", "UNHANDLED_EXCEPTION_THROWN", "Traceback\n  ...\nKeyError: 'x'")
    problem = vm.describe_failure(other, 5)
    assert (problem.kind, problem.message.endswith("KeyError: 'x'")) == ("refused", True)
    down = vm.describe_failure(BackendUnavailable("localhost:1", "connection refused"), 5)
    assert (down.kind, down.colour) == ("down", "danger") and "localhost:1" in down.message
    slow = vm.describe_failure(BackendUnavailable("localhost:1", "deadline", timed_out=True), 3)
    assert "within 3 s" in slow.message
    assert vm.describe_failure(InvalidArguments("logs: bad"), 5).kind == "invalid"
    assert vm.describe_failure(ProtocolError("odd"), 5).kind == "error"
    assert "Traceback" not in vm.describe_failure(RuntimeError("Traceback boom"), 5).message
    assert "abc" in vm.unknown_process("abc").message


def test_the_panel_layout_builds_closed_with_its_ids():
    from components import log_viewer as ids
    from pages.context import PageContext

    panel = ids.log_panel(PageContext("shifter", frozenset({"view", "process.logs"})))
    text = str(panel.to_plotly_json())
    for component in (ids.PANEL, ids.PRE, ids.STATE, ids.STUCK, ids.REQUEST, ids.INTERVAL, ids.DOWNLOAD, ids.SEARCH,
                      ids.MATCHES, ids.LINES, ids.FOLLOW, ids.HINT, ids.STATUS, ids.MESSAGE):
        assert f"'{component}'" in text, component
    assert panel.children[0].is_open is False
    assert ids.log_panel(PageContext("viewer", frozenset({"view"}))) is not None


@given(total=st.integers(0, 400), shown_end=st.integers(0, 400), cap=st.sampled_from([100, 1000]),
       window=st.integers(70, 500))
def test_following_a_growing_log_shows_exactly_its_tail(total, shown_end, cap, window):
    """Unique lines: whatever the growth, the page ends up with the last `cap` lines, in order, once each."""
    shown_end = min(shown_end, total)
    log = [f"line {i}" for i in range(total)]
    shown = log[:shown_end][-cap:]
    fetched = log[-window:]
    step = vm.follow_step(vm.tail_signature(shown), len(shown), fetched, cap)
    if step.kind == "reload":
        after = log[-cap:]
        assert total - shown_end > window - min(len(shown), vm.SIGNATURE) or not shown
    elif step.kind == "replace":
        after = list(step.append)
    else:
        after = (shown[step.drop:] + list(step.append)) if step.kind == "append" else shown
        assert step.count == len(after)
        assert list(step.tail) == vm.tail_signature(after)
    assert after == log[-cap:]
