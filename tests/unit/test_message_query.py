"""Messages page view-models: URL state, filters, rows, ERS chains, export lines, plot."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from store.messages import StoredMessage
from viewmodels import message_query as mq

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def message(**kw) -> StoredMessage:
    base = dict(id=7, topic="control.s1.process_manager", partition=0, offset=3, time=NOW, kind="broadcast",
                severity="INFO", session="s1", source="process_manager", host="", broadcast_type="SERVER_READY",
                issue_name="", text="ready", details=None, received_at=NOW)
    base.update(kw)
    return StoredMessage(**base)


def ers_message() -> StoredMessage:
    ctx = {"host": "np04-srv-001", "application": "ru-01", "package": "readoutlibs", "file": "Ru.cpp", "line": 42,
           "function": "void Ru::start()", "pid": 11, "thread": 12, "user": "daq"}
    details = {
        "severity_raw": "ERROR", "inheritance": ["ers::Issue", "rl::Fail"], "context": ctx,
        "parameters": {"port": "5000"},
        "causes": [
            {"name": "rl::Socket", "severity": "ERROR", "message": "socket closed", "time": "2025-03-01T11:59:59",
             "inheritance": [], "context": {**ctx, "file": "Sock.cpp", "line": 7}, "parameters": {"fd": "3"}},
            {"name": "rl::Os", "severity": "WARNING", "message": "<b>ECONNRESET</b>", "time": "", "inheritance": [],
             "context": {}, "parameters": {}},
        ],
    }
    return message(kind="ers", severity="ERROR", source="ru-01", host="np04-srv-001", broadcast_type="",
                   issue_name="rl::Fail", text="start failed", details=details, topic="monitoring.ers_stream")


def test_a_plain_url_is_the_default_state_and_round_trips():
    assert mq.state_from_query("") == mq.QueryState()
    assert mq.query_from_state(mq.QueryState()) == ""
    state = mq.make_state(mode="query", range="6h", severities=["ERROR", "FATAL"], kinds=["ers"],
                          session="np04, !test", host="np04-srv-001", text="timeout", text_exclude="heartbeat")
    search = mq.query_from_state(state)
    assert "sev=ERROR%2CFATAL" in search and "mode=query" in search and "qx=heartbeat" in search
    assert mq.state_from_query(search) == state


def test_bad_url_values_fall_back_instead_of_failing():
    state = mq.state_from_query("?mode=evil&range=99y&sev=NOPE,ERROR&kind=bogus&q=" + "x" * 500)
    assert state.mode == "live" and state.range == mq.DEFAULT_RANGE
    assert state.severities == ("ERROR",) and state.kinds == ()
    assert len(state.text) == mq.TEXT_MAX


def test_debug_is_off_by_default_and_everything_ticked_means_no_condition():
    assert "DEBUG" not in mq.QueryState().severities
    flt = mq.to_filter(mq.make_state(severities=list(mq.SEVERITY_CHOICES)), NOW)
    assert flt.severities == ()
    flt = mq.to_filter(mq.make_state(severities=["ERROR", "other"]), NOW)
    assert flt.severities == ("ERROR", "OTHER")


def test_switching_mode_keeps_the_filters():
    state = mq.make_state(session="np04", severities=["FATAL"], text="x")
    switched = mq.with_mode(state, "query")
    assert switched.mode == "query"
    assert (switched.session, switched.severities, switched.text) == ("np04", ("FATAL",), "x")


def test_terms_match_and_exclude_per_field():
    assert mq.parse_terms(" a, !b ,c,, ! ,a") == (("a", "c"), ("b",))
    flt = mq.to_filter(mq.make_state(session="np04,!test", source="!ru-01", issue="rl::Fail", btype="ACK"), NOW)
    assert flt.sessions == ("np04",) and flt.issue_names == ("rl::Fail",) and flt.broadcast_types == ("ACK",)
    assert set(flt.exclude) == {("session", "test"), ("source", "ru-01")}


def test_time_ranges_live_presets_and_from_to():
    assert mq.time_bounds(mq.make_state(mode="live", range="7d"), NOW) == (None, None)
    assert mq.time_bounds(mq.make_state(mode="query", range="10m"), NOW) == (NOW - timedelta(minutes=10), None)
    since, until = mq.time_bounds(mq.make_state(mode="query", range="custom", start="2025-03-01 10:00",
                                                end="2025-03-01T11:00:00Z"), NOW)
    assert since == datetime(2025, 3, 1, 10, tzinfo=UTC) and until == datetime(2025, 3, 1, 11, tzinfo=UTC)
    with pytest.raises(ValueError, match="before its start"):
        mq.to_filter(mq.make_state(mode="query", range="custom", start="2025-03-02", end="2025-03-01"), NOW)
    with pytest.raises(ValueError, match="not a date"):
        mq.to_filter(mq.make_state(mode="query", range="custom", start="yesterday"), NOW)


def test_grid_row_keeps_the_exact_time_for_the_keyset_and_text_as_text():
    row = mq.grid_row(message(text="<script>alert(1)</script>\nline two"), acked=True, fresh=True)
    assert row["id"] == "7" and row["t"] == NOW.isoformat() and row["time"] == "2025-03-01 12:00:00.000"
    assert row["text"] == "<script>alert(1)</script> line two" and row["ack"] and row["fresh"]
    assert row["type"] == "SERVER_READY" and row["sev_class"] == "rc-sev-info"


def test_severity_chips_count_the_unusual_severities_as_other():
    chips = mq.severity_chips({"ERROR": 3, "INFO": 10, "OTHER": 1})
    assert [c["severity"] for c in chips] == [*mq.LEVELS, "other"]
    assert {c["severity"]: c["count"] for c in chips} == {"DEBUG": 0, "INFO": 10, "WARNING": 0, "ERROR": 3,
                                                           "FATAL": 0, "other": 1}


def test_ers_chain_is_nested_with_context_and_parameters():
    chain = mq.ers_chain(ers_message())
    assert mq.chain_depth(chain) == 3
    assert chain["name"] == "rl::Fail" and chain["parameters"] == [("port", "5000")]
    assert chain["context"]["where"] == "Ru.cpp:42" and chain["context"]["package"] == "readoutlibs"
    assert chain["context"]["function"] == "void Ru::start()" and chain["inheritance"] == ["ers::Issue", "rl::Fail"]
    cause = chain["cause"]
    assert cause["name"] == "rl::Socket" and cause["context"]["where"] == "Sock.cpp:7"
    assert cause["cause"]["message"] == "<b>ECONNRESET</b>" and cause["cause"]["cause"] is None
    assert mq.ers_chain(message()) is None


def test_inspector_fields_for_a_broadcast_name_emitter_type_and_payload():
    labels = dict(mq.inspector_fields(message()))
    assert labels["Emitter"] == "process_manager" and labels["Broadcast type"] == "SERVER_READY"
    assert labels["Payload type"] == "druncschema.PlainText" and labels["Partition / offset"] == "0 / 3"


def test_csv_lines_parse_back_and_never_start_a_formula():
    m = ers_message()
    text = mq.csv_header() + mq.csv_line(m) + mq.csv_line(message(text='=HYPERLINK("x"), "quoted"\nnext'))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["issue_name"] == "rl::Fail" and json.loads(rows[0]["details"])["parameters"] == {"port": "5000"}
    assert rows[1]["text"] == "'" + '=HYPERLINK("x"), "quoted"\nnext'
    assert list(rows[0]) == list(mq.CSV_COLUMNS)


def test_json_lines_hold_every_field():
    line = mq.json_line(ers_message())
    assert line.endswith("\n") and "\n" not in line[:-1]
    data = json.loads(line)
    assert data["id"] == 7 and data["details"]["causes"][0]["name"] == "rl::Socket"
    assert data["time"] == NOW.isoformat()


def test_export_links_carry_the_filter():
    state = mq.make_state(mode="query", severities=["ERROR"])
    assert mq.export_href(state, "csv") == "/messages/export.csv?mode=query&sev=ERROR"
    assert mq.export_href(mq.QueryState(), "jsonl") == "/messages/export.jsonl"


def test_a_range_dragged_on_the_plot_becomes_from_to():
    assert mq.range_from_relayout({"xaxis.range[0]": "2025-03-01 11:00:30.5",
                                   "xaxis.range[1]": "2025-03-01 10:00"}) == ("2025-03-01 10:00:00",
                                                                             "2025-03-01 11:00:30")
    assert mq.range_from_relayout({"xaxis.autorange": True}) is None
    assert mq.range_from_relayout({"xaxis.range[0]": "nonsense", "xaxis.range[1]": "x"}) is None


def test_rate_figure_stacks_one_series_per_severity():
    t0 = datetime(2025, 3, 1, 11, 0, tzinfo=UTC)
    fig = mq.rate_figure([(t0, "ERROR", 2), (t0, "INFO", 5), (t0 + timedelta(minutes=1), "ERROR", 1),
                          (t0, "weird", 1)], 60, t0, t0 + timedelta(hours=1))
    assert fig["layout"]["barmode"] == "stack"
    names = [s["name"] for s in fig["data"]]
    assert names == ["INFO", "ERROR", "other"]
    assert fig["data"][1]["y"] == [2, 1]
    assert mq.bucket_secs(NOW - timedelta(hours=1), None, NOW) == 60
    assert mq.bucket_secs(NOW - timedelta(days=7), None, NOW) > 60


def test_consumer_health_names_last_message_errors_and_lag():
    assert mq.consumer_health(None, NOW)[1] == "warn"

    class Status:
        last_message_time = NOW - timedelta(seconds=5)
        last_poll_time = NOW
        undecodable = 2
        last_error = None
        lag = 12

    text, loud = mq.consumer_health(Status(), NOW)
    assert loud == "ok" and "last message 2025-03-01 11:59:55.000 UTC" in text and "lag 12" in text
    Status.last_error = "broker down"
    assert mq.consumer_health(Status(), NOW) == (mq.consumer_health(Status(), NOW)[0], "error")


def test_the_page_layout_builds_for_a_viewer_and_an_expert():
    from pages.context import PageContext
    from pages.messages import layout

    for perms in ({"view"}, {"view", "messages.manage"}):
        page = layout(PageContext("u", frozenset(perms), query="?mode=query&sev=ERROR&session=np04"))
        assert "msgs-grid" in str(page.to_plotly_json())
