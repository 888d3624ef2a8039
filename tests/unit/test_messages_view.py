"""The message panel's pure functions: rows, severities, filters, cursor, cap, status lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from components.message_panel import message_panel, panel_ids
from store.messages import ConsumerStatusInfo, MessageFilter, StoredMessage
from viewmodels import messages as vm

BASE = MessageFilter(kinds=("broadcast",), sources=("process_manager",))
NOW = datetime(2026, 3, 4, 12, 0, 0, tzinfo=UTC)


def stored(id_: int, severity: str = "INFO", text: str = "hello", **fields) -> StoredMessage:
    values = {
        "topic": "control.s1.process_manager", "partition": 0, "offset": id_,
        "time": datetime(2026, 3, 4, 11, 59, 58, 123456, tzinfo=UTC), "kind": "broadcast", "severity": severity,
        "session": "s1", "source": "process_manager", "host": "", "broadcast_type": "ACK", "issue_name": "",
        "text": text, "details": None, "received_at": NOW,
    }
    values.update(fields)
    return StoredMessage(id=id_, **values)


def test_message_row_has_a_string_id_utc_time_and_plain_text():
    row = vm.message_row(stored(42, "WARNING", "<b>not html</b>"))
    assert row == {
        "id": "42", "time": "11:59:58", "ts": "2026-03-04 11:59:58.123 UTC", "severity": "WARNING",
        "sev_class": "rc-sev-warning", "session": "s1", "source": "process_manager", "type": "ACK",
        "text": "<b>not html</b>",
    }


def test_message_row_converts_other_zones_and_clips_long_text():
    cet = datetime(2026, 3, 4, 13, 0, 5, tzinfo=UTC).astimezone(ZoneInfo("Europe/Zurich"))
    row = vm.message_row(stored(1, text="x" * 5000, time=cet, broadcast_type="", issue_name="rcc::Failed"))
    assert row["time"] == "13:00:05" and row["ts"].endswith("UTC")
    assert len(row["text"]) == vm.TEXT_CLIP and row["text"].endswith("…")
    assert row["type"] == "rcc::Failed"


@pytest.mark.parametrize(
    "severity,cls",
    [("DEBUG", "rc-sev-debug"), ("INFO", "rc-sev-info"), ("WARNING", "rc-sev-warning"), ("error", "rc-sev-error"),
     ("FATAL", "rc-sev-fatal"), ("CRITICAL", "rc-sev-fatal"), ("LOG", "rc-sev-other"), ("", "rc-sev-other"),
     (None, "rc-sev-other")],
)
def test_severity_class(severity, cls):
    assert vm.severity_class(severity) == cls
    assert cls in vm.ALL_CLASSES


def test_severity_options_and_default_leave_out_debug():
    assert [o["value"] for o in vm.severity_options()] == ["DEBUG", "INFO", "WARNING", "ERROR", "FATAL", "OTHER"]
    assert "DEBUG" not in vm.DEFAULT_SEVERITIES and "OTHER" in vm.DEFAULT_SEVERITIES


def test_selected_severities_keeps_the_known_choices_in_order():
    assert vm.selected_severities(None) == vm.DEFAULT_SEVERITIES
    assert vm.selected_severities(["ERROR", "bogus", "DEBUG"]) == ("DEBUG", "ERROR")
    assert vm.selected_severities("FATAL") == ("FATAL",)
    assert vm.selected_severities([]) == ()


def test_build_filter_narrows_the_panel_filter():
    flt = vm.build_filter(BASE, ["INFO", "ERROR"], "  disk\n full ")
    assert flt == MessageFilter(kinds=("broadcast",), sources=("process_manager",), severities=("INFO", "ERROR"),
                                text="disk full")


def test_build_filter_other_stands_for_the_unusual_severities_in_the_store():
    others = vm.other_severities(["INFO", "CRITICAL", "", "LOG", "DEBUG"])
    assert others == ("CRITICAL", "LOG")
    assert vm.needs_others(None) and not vm.needs_others(["INFO"])
    assert not vm.needs_others(list(vm.SEVERITY_CHOICES))
    flt = vm.build_filter(BASE, None, None, others)
    assert flt.severities == ("INFO", "WARNING", "ERROR", "FATAL", "CRITICAL", "LOG") and flt.text == ""


def test_build_filter_everything_ticked_means_no_severity_condition_and_nothing_means_no_query():
    assert vm.build_filter(BASE, list(vm.SEVERITY_CHOICES), "", ("X",)).severities == ()
    assert vm.build_filter(BASE, [], "") is None
    assert vm.build_filter(BASE, ["OTHER"], "", ()) is None  # "Other" with no unusual severity stored


def test_search_text_is_clipped():
    assert len(vm.clean_search("a" * 1000)) == vm.SEARCH_CLIP
    assert vm.clean_search(None) == ""


def test_next_cursor_skips_what_was_walked_even_when_nothing_matched():
    assert vm.next_cursor(10, 250, []) == 250
    assert vm.next_cursor(10, 250, [stored(251), stored(260)]) == 260
    assert vm.next_cursor(300, 250, []) == 300
    assert vm.next_cursor(None, 0, []) == 0


def test_newest_first():
    assert [m.id for m in vm.newest_first([stored(3), stored(9), stored(5)])] == [9, 5, 3]


def test_cap_ids_puts_new_ids_on_top_and_drops_the_oldest():
    kept, removed = vm.cap_ids([12, 11], [10, 9, 8], limit=4)
    assert kept == [12, 11, 10, 9] and removed == [8]
    assert vm.cap_ids([2], None) == ([2], [])


def test_add_transaction_adds_on_top_and_removes_by_string_id():
    rows = [{"id": "5"}]
    assert vm.add_transaction(rows, []) == {"add": rows, "addIndex": 0, "async": False}
    assert vm.add_transaction(rows, [1, 2])["remove"] == [{"id": "1"}, {"id": "2"}]


def test_updated_text():
    assert vm.updated_text(NOW, False) == "updated 12:00:00 UTC"
    assert vm.updated_text(NOW, True) == "paused · updated 12:00:00 UTC"


def _status(**fields) -> ConsumerStatusInfo:
    values = {"name": "runcontrol-ui", "last_message_time": None, "last_poll_time": NOW - timedelta(seconds=5),
              "messages_stored": 3, "undecodable": 0, "last_error": None, "updated_at": NOW}
    values.update(fields)
    return ConsumerStatusInfo(**values)


def test_consumer_text():
    assert vm.consumer_text(None, NOW) == ("no consumer has run yet: no messages can arrive", "warn")
    assert vm.consumer_text(_status(), NOW) == ("consumer polled 11:59:55 UTC", "ok")
    text, level = vm.consumer_text(_status(last_error="broker\nunreachable"), NOW)
    assert (text, level) == ("consumer error: broker unreachable", "error")
    assert vm.consumer_text(_status(last_poll_time=None), NOW)[1] == "warn"
    text, level = vm.consumer_text(_status(last_poll_time=NOW - timedelta(hours=1)), NOW)
    assert level == "warn" and "silent since 2026-03-04 11:00:00 UTC" in text


def test_panel_ids_are_derived_from_the_prefix_and_never_clash():
    a, b = panel_ids("pm-msg"), panel_ids("ctl-msg")
    assert a.grid == "pm-msg-grid"
    assert not set(vars(a).values()) & set(vars(b).values())
    with pytest.raises(ValueError):
        panel_ids("Bad prefix")


def test_message_panel_layout_uses_only_its_own_ids():
    layout = message_panel("pm-msg", "Process manager messages")
    found = set()

    def walk(node):
        if hasattr(node, "id") and node.id is not None:
            found.add(node.id)
        children = getattr(node, "children", None)
        for child in children if isinstance(children, list) else [children]:
            if hasattr(child, "to_plotly_json"):
                walk(child)

    walk(layout)
    assert set(vars(panel_ids("pm-msg")).values()) <= found
    assert all(i.startswith("pm-msg-") for i in found)
