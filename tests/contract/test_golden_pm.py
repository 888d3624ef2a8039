"""Golden bytes: the wire encoding of process manager messages, derived by hand from protocol spec sections 3
and 6 (tag = field_number << 3 | wire_type; wire type 0 = varint, 2 = length-delimited).

A field-number slip in the .proto re-declaration changes a tag byte here. Tags, lengths and numbers are
written as hex; text is written as ASCII bytes so the framing around it stays readable. Every case is
checked in both directions: our serializer produces the bytes, and parsing the bytes gives the message back.
Maps hold a single entry, so their order cannot vary.
"""

from __future__ import annotations

import pytest
from google.protobuf import any_pb2

from drunc_client.generated.druncschema import generic_pb2, request_response_pb2, token_pb2
from drunc_client.generated.druncschema import process_manager_pb2 as pm
from simulator.process_manager import _Process


def h(*parts: str | bytes) -> bytes:
    """Concatenate hex strings (spaces allowed) and raw ASCII byte strings."""
    return b"".join(part if isinstance(part, bytes) else bytes.fromhex(part) for part in parts)


def any_of(message) -> any_pb2.Any:
    wrapped = any_pb2.Any()
    wrapped.Pack(message)
    return wrapped


# ProcessQuery: 1 uuids (ProcessUUID), 2 names, 3 user, 4 session
QUERY = pm.ProcessQuery(uuids=[pm.ProcessUUID(uuid="u1")], names=["^ru$"], user="bob", session="s")
QUERY_BYTES = h(
    "0a 04", "0a 02", b"u1",  # uuids[0]: tag 1|LEN, ProcessUUID{1: "u1"}
    "12 04", b"^ru$",  # names[0]: tag 2|LEN
    "1a 03", b"bob",  # user: tag 3|LEN
    "22 01", b"s",  # session: tag 4|LEN
)

# BootRequest: 1 process_description, 2 process_restriction
METADATA_BYTES = h(
    "0a 03", "0a 01", b"x",  # 1 uuid: ProcessUUID{1: "x"}
    "12 01", b"u",  # 2 user
    "1a 01", b"s",  # 3 session (optional string: same encoding)
    "22 01", b"n",  # 4 name
    "2a 01", b"h",  # 5 hostname
    "32 05", b"1.2.3",  # 6 tree_id
)  # 5 + 3 + 3 + 3 + 3 + 7 = 24 = 0x18 bytes
DESCRIPTION_BYTES = h(
    "0a 18", METADATA_BYTES,  # 1 metadata
    "12 06", "0a 01", b"K", "12 01", b"V",  # 2 env: one map entry {1 key, 2 value}
    "1a 0a", "0a 05", b"sleep", "12 01", b"1",  # 3 executable_and_arguments[0]: ExecAndArgs{1 exec, 2 args}
    "22 02", b"/w",  # 4 process_execution_directory
    "2a 02", b"/l",  # 5 process_logs_path
)  # 26 + 8 + 12 + 4 + 4 = 54 = 0x36 bytes
RESTRICTION_BYTES = h(
    "0a 09", b"localhost",  # 1 allowed_hosts[0]
    "12 01", b"t",  # 2 allowed_host_types[0]
)  # 11 + 3 = 14 = 0x0e bytes
BOOT = pm.BootRequest(
    process_description=pm.ProcessDescription(
        metadata=pm.ProcessMetadata(uuid=pm.ProcessUUID(uuid="x"), user="u", session="s", name="n", hostname="h",
                                    tree_id="1.2.3"),
        env={"K": "V"},
        executable_and_arguments=[pm.ProcessDescription.ExecAndArgs(exec="sleep", args=["1"])],
        process_execution_directory="/w",
        process_logs_path="/l",
    ),
    process_restriction=pm.ProcessRestriction(allowed_hosts=["localhost"], allowed_host_types=["t"]),
)
BOOT_BYTES = h("0a 36", DESCRIPTION_BYTES, "12 0e", RESTRICTION_BYTES)

# ProcessInstance: 1 process_description, 2 process_restriction, 3 status_code, 4 return_code (int32), 5 uuid
DEAD_INSTANCE = pm.ProcessInstance(
    process_description=pm.ProcessDescription(metadata=pm.ProcessMetadata(name="n")),
    process_restriction=pm.ProcessRestriction(allowed_hosts=["h"]),
    status_code=pm.ProcessInstance.DEAD,
    return_code=-3,
    uuid=pm.ProcessUUID(uuid="x"),
)
DEAD_INSTANCE_BYTES = h(
    "0a 05", "0a 03", "22 01", b"n",  # 1 description{1 metadata{4 name}}
    "12 03", "0a 01", b"h",  # 2 restriction{1 allowed_hosts}
    "18 01",  # 3 status_code DEAD = 1: tag 3|VARINT
    "20 fd ff ff ff ff ff ff ff ff 01",  # 4 return_code -3: negative int32 = 10-byte two's complement varint
    "2a 03", "0a 01", b"x",  # 5 uuid
)
# RUNNING = 0 and return_code 0 are proto3 defaults: absent on the wire.
RUNNING_INSTANCE = pm.ProcessInstance(uuid=pm.ProcessUUID(uuid="x"))
RUNNING_INSTANCE_BYTES = h("2a 03", "0a 01", b"x")

# LogRequest: 1 query, 2 how_far (int32); LogLine: 1 uuid, 2 line
LOG_REQUEST = pm.LogRequest(query=pm.ProcessQuery(uuids=[pm.ProcessUUID(uuid="x")]), how_far=300)
LOG_REQUEST_BYTES = h("0a 05", "0a 03", "0a 01", b"x", "10 ac 02")  # 300 = 0b10_0101100 -> ac 02
LOG_LINE = pm.LogLine(uuid=pm.ProcessUUID(uuid="x"), line="hi")
LOG_LINE_BYTES = h("0a 03", "0a 01", b"x", "12 02", b"hi")

# Request: 1 token (Token{1 token, 2 user_name}), 2 data (Any{1 type_url, 2 value})
QUERY_TYPE_URL = b"type.googleapis.com/dunedaq.druncschema.ProcessQuery"  # 20 + 32 = 52 = 0x34 bytes
REQUEST = request_response_pb2.Request(token=token_pb2.Token(token="a-token", user_name="a"),
                                       data=any_of(pm.ProcessQuery(names=[".*"])))
REQUEST_BYTES = h(
    "0a 0c", "0a 07", b"a-token", "12 01", b"a",  # 1 token
    "12 3c", "0a 34", QUERY_TYPE_URL, "12 04", "12 02", b".*",  # 2 data: Any{type_url, value=ProcessQuery{2 names}}
)

# Response: 1 name, 2 token, 3 data, 4 flag (enum), 5 children (repeated Response)
PLAIN_TYPE_URL = b"type.googleapis.com/dunedaq.druncschema.PlainText"  # 20 + 29 = 49 = 0x31 bytes
RESPONSE = request_response_pb2.Response(
    name="process_manager", data=any_of(generic_pb2.PlainText(text="no")),
    flag=request_response_pb2.DRUNC_EXCEPTION_THROWN,
    children=[request_response_pb2.Response(name="c", flag=request_response_pb2.FAILED)],
)
RESPONSE_BYTES = h(
    "0a 0f", b"process_manager",  # 1 name
    "1a 39", "0a 31", PLAIN_TYPE_URL, "12 04", "0a 02", b"no",  # 3 data: Any{PlainText{1 text}}
    "20 05",  # 4 flag DRUNC_EXCEPTION_THROWN = 5 (released druncschema 0.8.x numbering)
    "2a 05", "0a 01", b"c", "20 01",  # 5 children[0]: Response{1 name, 4 flag FAILED = 1}
)

CASES = {
    "ProcessQuery": (QUERY, QUERY_BYTES),
    "BootRequest": (BOOT, BOOT_BYTES),
    "ProcessInstance DEAD -3": (DEAD_INSTANCE, DEAD_INSTANCE_BYTES),
    "ProcessInstance RUNNING": (RUNNING_INSTANCE, RUNNING_INSTANCE_BYTES),
    "LogRequest": (LOG_REQUEST, LOG_REQUEST_BYTES),
    "LogLine": (LOG_LINE, LOG_LINE_BYTES),
    "Request with Token and Any(ProcessQuery)": (REQUEST, REQUEST_BYTES),
    "Response with flag and children": (RESPONSE, RESPONSE_BYTES),
}


@pytest.mark.parametrize("message, expected", CASES.values(), ids=CASES.keys())
def test_serializes_to_the_hand_derived_bytes(message, expected):
    assert message.SerializeToString(deterministic=True).hex(" ") == expected.hex(" ")


@pytest.mark.parametrize("message, expected", CASES.values(), ids=CASES.keys())
def test_hand_derived_bytes_parse_back(message, expected):
    assert type(message).FromString(expected) == message


def test_hand_lengths_add_up():
    assert (len(METADATA_BYTES), len(DESCRIPTION_BYTES), len(RESTRICTION_BYTES)) == (0x18, 0x36, 0x0e)
    assert (len(QUERY_TYPE_URL), len(PLAIN_TYPE_URL)) == (0x34, 0x31)


def test_the_simulators_prebuilt_ps_entries_match_the_serializer():
    """ps answers from cached `values` entries (tag 1|LEN + length + instance), not from ProcessInstanceList."""
    processes = [_Process(uuid="x", boot=BOOT), _Process(uuid="y" * 200, boot=BOOT)]  # > 127 bytes: 2-byte length
    processes[0].set_state(pm.ProcessInstance.DEAD, -3)
    entries = b"".join(p.list_entry() for p in processes)
    expected = pm.ProcessInstanceList(values=[p.instance() for p in processes]).SerializeToString()
    assert entries == expected
    assert entries[:1] == b"\x0a"
