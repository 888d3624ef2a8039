"""Decoding drunc broadcasts, ERS issue chains and garbage into message rows."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.decode import (
    SEVERITY_BY_BROADCAST_TYPE,
    decode_broadcast,
    decode_ers,
    decode_record,
    normalise_ers_severity,
    undecodable,
)
from drunc_client.generated.druncschema import broadcast_pb2, generic_pb2
from drunc_client.generated.ersschema import issue_pb2
from simulator.broadcast import broadcast_message
from simulator.kafka import make_issue_chain, make_simple_issue

TS_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
TS = datetime(2026, 1, 1, tzinfo=UTC)


def test_decode_module_imports_neither_kafka_nor_grpc():
    code = "import sys, consumers.decode; print(any(m in sys.modules for m in ('confluent_kafka', 'grpc')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize(
    ("btype", "severity"),
    [
        (broadcast_pb2.ACK, "DEBUG"),
        (broadcast_pb2.COMMAND_EXECUTION_SUCCESS, "DEBUG"),
        (broadcast_pb2.DEBUG, "DEBUG"),
        (broadcast_pb2.DRUNC_EXCEPTION_RAISED, "ERROR"),
        (broadcast_pb2.CHILD_COMMAND_EXECUTION_FAILED, "ERROR"),
        (broadcast_pb2.UNHANDLED_EXCEPTION_RAISED, "FATAL"),
        (broadcast_pb2.FSM_STATUS_UPDATE, "INFO"),
        (broadcast_pb2.SERVER_READY, "INFO"),
        (broadcast_pb2.SUBPROCESS_STATUS_UPDATE, "INFO"),
    ],
)
def test_broadcast(btype, severity):
    value = broadcast_message("root-controller", "my-session", btype, "Changing state from A to B").SerializeToString()
    m = decode_record("control.my-session.root-controller", 2, 17, None, value, TS_MS, ers=False)
    assert (m.kind, m.topic, m.partition, m.offset) == ("broadcast", "control.my-session.root-controller", 2, 17)
    assert (m.source, m.session) == ("root-controller", "my-session")
    assert m.broadcast_type == broadcast_pb2.BroadcastType.Name(btype)
    assert m.severity == severity
    assert m.text == "Changing state from A to B"  # the PlainText, without its tag and length bytes
    assert m.time == TS and m.details is None


def test_severity_map_covers_every_type_and_no_warning():
    assert set(SEVERITY_BY_BROADCAST_TYPE) == set(broadcast_pb2.BroadcastType.keys())
    assert "WARNING" not in SEVERITY_BY_BROADCAST_TYPE.values()


def test_observed_process_manager_bytes():
    value = broadcast_message("process_manager", "root", broadcast_pb2.ACK, "User 'x' attempting").SerializeToString()
    assert value.startswith(b"\x0a\x17\x0a\x0fprocess_manager\x12\x04root")
    m = decode_broadcast("control.root.process_manager", 0, 0, value, TS_MS)
    assert (m.broadcast_type, m.severity, m.text) == ("ACK", "DEBUG", "User 'x' attempting")


def test_unknown_broadcast_type_is_still_stored():
    message = broadcast_pb2.BroadcastMessage(emitter=broadcast_pb2.Emitter(process="p", session="s"))
    message.data.Pack(generic_pb2.PlainText(text="from the future"))
    value = message.SerializeToString() + b"\x10\x63"  # type = 99
    m = decode_record("control.s.p", 0, 1, None, value, TS_MS, ers=False)
    assert (m.kind, m.broadcast_type, m.severity, m.text) == ("broadcast", "UNKNOWN_99", "INFO", "from the future")


def test_broadcast_that_is_not_one_is_undecodable():
    empty = decode_record("control.s.p", 0, 1, None, b"", TS_MS, ers=False)
    assert empty.kind == "undecodable"
    other_any = broadcast_pb2.BroadcastMessage(emitter=broadcast_pb2.Emitter(process="p", session="s"))
    other_any.data.Pack(broadcast_pb2.Emitter(process="x"))
    m = decode_record("control.s.p", 0, 2, None, other_any.SerializeToString(), TS_MS, ers=False)
    assert m.kind == "undecodable" and "Emitter" in m.text


def test_ers_chain_with_causes_context_and_parameters():
    when = time.time_ns()
    chain = make_issue_chain(
        "np04-session", "dfo-01", "ERROR", "Data store 'hdf5_0' is full", name="dfmodules::DataStoreFull",
        causes=[
            ("hdf5libs::FileOperationProblem", "Problem opening file"),
            ("ers::FileSystemError", "No space", "FATAL"),
        ],
        host="np04-srv-001", parameters={"store": "hdf5_0", "free_gb": 0}, time_ns=when, process_id=4242,
        user_name="daq", line_number=77, file_name="/src/DataStore.cpp", function_name="void f()", cwd="/opt",
    )
    m = decode_record("monitoring.ers_stream", 0, 5, b"np04-session", chain.SerializeToString(), TS_MS, ers=True)
    assert (m.kind, m.severity, m.session) == ("ers", "ERROR", "np04-session")
    assert (m.source, m.host) == ("dfo-01", "np04-srv-001")
    assert (m.issue_name, m.text) == ("dfmodules::DataStoreFull", "Data store 'hdf5_0' is full")
    assert abs(m.time.timestamp() - when / 1e9) < 1e-3
    d = m.details
    assert d["inheritance"] == ["ers::Issue", "dfmodules::DataStoreFull"]
    assert d["parameters"] == {"free_gb": "0", "store": "hdf5_0"}
    ctx = d["context"]
    assert (ctx["file"], ctx["line"], ctx["function"], ctx["pid"], ctx["user"], ctx["cwd"]) == (
        "/src/DataStore.cpp", 77, "void f()", 4242, "daq", "/opt")
    assert [c["name"] for c in d["causes"]] == ["hdf5libs::FileOperationProblem", "ers::FileSystemError"]
    assert [c["severity"] for c in d["causes"]] == ["ERROR", "FATAL"]
    assert d["causes"][0]["message"] == "Problem opening file"
    assert d["causes"][0]["context"]["host"] == "np04-srv-001"
    assert d["causes"][0]["time"].startswith(m.time.isoformat()[:19])


def test_ers_session_from_key_and_application_from_context():
    chain = issue_pb2.IssueChain(final=make_simple_issue("x::Y", "msg", "WARNING", application="app-ctx"))
    m = decode_ers("monitoring.ers_stream", 0, 1, b"key-session", chain.SerializeToString(), TS_MS)
    assert (m.session, m.source, m.severity) == ("key-session", "app-ctx", "WARNING")


@pytest.mark.parametrize("bad_time", [0, 5, 2**63, time.time_ns() + 10 * 86_400 * 10**9])
def test_ers_implausible_time_falls_back_to_the_record(bad_time):
    chain = make_issue_chain("s", "a", "INFO", "m", time_ns=bad_time)
    assert decode_ers("t", 0, 1, None, chain.SerializeToString(), TS_MS).time == TS


def test_old_ers_data_digit_severity_and_milliseconds():
    ms = 1_700_000_000_123
    chain = make_issue_chain("s", "a", "4", "old", time_ns=ms)
    m = decode_ers("monitoring.ers_stream", 0, 1, None, chain.SerializeToString(), TS_MS)
    assert m.severity == "ERROR" and m.details["severity_raw"] == "4"
    assert m.time == datetime.fromtimestamp(ms / 1000, UTC)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("DEBUG", "DEBUG"), ("DEBUG_0", "DEBUG"), ("DEBUG_2", "DEBUG"), ("LOG", "INFO"), ("INFO", "INFO"),
        ("INFORMATION", "INFO"), ("WARNING", "WARNING"), ("ERROR", "ERROR"), ("FATAL", "FATAL"), ("error", "ERROR"),
        ("0", "DEBUG"), ("1", "INFO"), ("2", "INFO"), ("3", "WARNING"), ("4", "ERROR"), ("5", "FATAL"),
        ("", "INFO"), ("CRITICAL?", "INFO"),
    ],
)
def test_severity_normalisation(raw, normal):
    assert normalise_ers_severity(raw) == normal


def test_ers_payload_without_an_issue_is_undecodable():
    for value in (b"", issue_pb2.IssueChain(session="s").SerializeToString(), b"\xff\xff\xff"):
        m = decode_record("monitoring.ers_stream", 0, 1, b"s", value, TS_MS, ers=True)
        assert m.kind == "undecodable" and m.severity == "WARNING"


def test_undecodable_row():
    value = bytes(range(200))
    m = undecodable("weird", 3, 9, value, TS_MS, "boom")
    assert (m.topic, m.partition, m.offset, m.kind, m.time) == ("weird", 3, 9, "undecodable", TS)
    assert m.text == "undecodable payload on weird: boom"
    assert m.details == {"hex": value[:64].hex(), "length": 200, "error": "boom"}
    assert decode_record("t", 0, 0, None, None, None, ers=False).kind == "undecodable"


@settings(max_examples=400, deadline=None)
@given(value=st.binary(max_size=300), key=st.none() | st.binary(max_size=20), ers=st.booleans(),
       ts=st.none() | st.integers(min_value=-(2**63), max_value=2**63))
def test_decode_record_never_raises(value, key, ers, ts):
    m = decode_record("topic", 0, 1, key, value, ts, ers=ers)
    assert m.kind in ("broadcast", "ers", "undecodable")
    assert m.time.tzinfo is not None
