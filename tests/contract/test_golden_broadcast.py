"""Golden bytes for the two Kafka record values, derived by hand from field numbers and wire types.

A tag byte is (field_number << 3) | wire_type, wire type 0 = varint, 2 = length-delimited. Strings are written as
ASCII literals; every tag and length is a hex literal worked out below. A renumbered field in a .proto
re-declaration, or a helper that fills the wrong field, changes these bytes.
"""

from __future__ import annotations

from drunc_client.generated.druncschema import broadcast_pb2, generic_pb2
from drunc_client.generated.ersschema import issue_pb2
from simulator.broadcast import broadcast_message

H = bytes.fromhex

# BroadcastMessage{emitter{process "process_manager", session "root"}, type FSM_STATUS_UPDATE (17),
#                  data Any(PlainText{text "ready"})}
#   emitter   field 1, LEN: 0a, len 2+15 + 2+4 = 23 = 0x17
#     process field 1, LEN: 0a 0f "process_manager"      (15 chars)
#     session field 2, LEN: 12 04 "root"
#   type      field 2, VARINT: 10 11                        (17)
#   data      field 3, LEN: 1a, len 2+49 + 2+7 = 60 = 0x3c
#     type_url field 1, LEN: 0a 31 "type.googleapis.com/dunedaq.druncschema.PlainText"  (20 + 29 = 49 chars)
#     value    field 2, LEN: 12 07, PlainText{text field 1, LEN: 0a 05 "ready"}
TYPE_URL = b"type.googleapis.com/dunedaq.druncschema.PlainText"
GOLDEN_BROADCAST = (
    H("0a17") + H("0a0f") + b"process_manager" + H("1204") + b"root"
    + H("1011")
    + H("1a3c") + H("0a31") + TYPE_URL + H("1207") + H("0a05") + b"ready"
)
# The same with type ACK (0): proto3 leaves the type field out.
GOLDEN_ACK = (
    H("0a17") + H("0a0f") + b"process_manager" + H("1204") + b"root"
    + H("1a3c") + H("0a31") + TYPE_URL + H("1207") + H("0a05") + b"ready"
)


def test_broadcast_message_golden_bytes():
    assert len(TYPE_URL) == 0x31
    message = broadcast_pb2.BroadcastMessage(
        emitter=broadcast_pb2.Emitter(process="process_manager", session="root"),
        type=broadcast_pb2.FSM_STATUS_UPDATE)
    message.data.Pack(generic_pb2.PlainText(text="ready"))
    assert message.SerializeToString() == GOLDEN_BROADCAST
    assert broadcast_message("process_manager", "root", broadcast_pb2.FSM_STATUS_UPDATE, "ready"
                             ).SerializeToString() == GOLDEN_BROADCAST


def test_ack_has_no_type_field_on_the_wire():
    assert broadcast_message("process_manager", "root", broadcast_pb2.ACK, "ready").SerializeToString() == GOLDEN_ACK
    decoded = broadcast_pb2.BroadcastMessage.FromString(GOLDEN_ACK)
    assert decoded.type == broadcast_pb2.ACK


def test_broadcast_golden_bytes_decode():
    decoded = broadcast_pb2.BroadcastMessage.FromString(GOLDEN_BROADCAST)
    assert (decoded.emitter.process, decoded.emitter.session) == ("process_manager", "root")
    assert broadcast_pb2.BroadcastType.Name(decoded.type) == "FSM_STATUS_UPDATE"
    text = generic_pb2.PlainText()
    assert decoded.data.Unpack(text) and text.text == "ready"


# IssueChain{final, causes[1], session "s1", application "app"}
#
# final.context = Context{file_name "f.cpp" (2), function_name "fn" (3), host_name "h" (4), line_number 42 (5),
#                         package_name "pkg" (6), process_id 1234 (11), user_name "u" (14), application_name "app" (15)}
#   12 05 "f.cpp"   field 2 LEN                    7 bytes
#   1a 02 "fn"      field 3 LEN                    4
#   22 01 "h"       field 4 LEN                    3
#   28 2a           field 5 VARINT 42              2
#   32 03 "pkg"     field 6 LEN                    5
#   58 d2 09        field 11 VARINT (88 = 0x58); 1234 = 9*128 + 82 -> 0x52|0x80 = d2, then 09     3
#   72 01 "u"       field 14 LEN (14*8+2 = 114 = 0x72)                                            3
#   7a 03 "app"     field 15 LEN (15*8+2 = 122 = 0x7a)                                            5
#   total 32 = 0x20
CONTEXT = (H("1205") + b"f.cpp" + H("1a02") + b"fn" + H("2201") + b"h" + H("282a") + H("3203") + b"pkg"
           + H("58d209") + H("7201") + b"u" + H("7a03") + b"app")
# final = SimpleIssue{context (1), name "x::Y" (2), inheritance ["ers::Issue", "x::Y"] (3), message "hi" (4),
#                     severity "ERROR" (5), time 2**60 ns (6, uint64), parameters {"k": "v"} (11)}
#   0a 20 <context>                             34 bytes
#   12 04 "x::Y"                                 6
#   1a 0a "ers::Issue"  1a 04 "x::Y"            12 + 6
#   22 02 "hi"                                   4
#   2a 05 "ERROR"                                7
#   30 80 80 80 80 80 80 80 80 10               10   2**60: eight empty 7-bit groups, then 2**(60-56) = 0x10
#   5a 06 0a 01 "k" 12 01 "v"                    8   (11*8+2 = 90 = 0x5a; map entry key 1, value 2)
#   total 87 = 0x57
TIME_NS = 2**60  # 2006-07-14, in nanoseconds
FINAL = (H("0a20") + CONTEXT + H("1204") + b"x::Y" + H("1a0a") + b"ers::Issue" + H("1a04") + b"x::Y"
         + H("2202") + b"hi" + H("2a05") + b"ERROR" + H("30808080808080808010") + H("5a06") + H("0a01") + b"k"
         + H("1201") + b"v")
# cause = SimpleIssue{name "a::B" (2), message "c" (4), severity "WARNING" (5)}: 6 + 3 + 9 = 18 = 0x12
CAUSE = H("1204") + b"a::B" + H("2201") + b"c" + H("2a07") + b"WARNING"
# chain: 0a 57 <final>; 12 12 <cause>; session field 10 LEN (82 = 0x52) 02 "s1"; application field 11 LEN 5a 03 "app"
GOLDEN_ISSUE_CHAIN = H("0a57") + FINAL + H("1212") + CAUSE + H("5202") + b"s1" + H("5a03") + b"app"


def _issue_chain() -> issue_pb2.IssueChain:
    context = issue_pb2.Context(host_name="h", application_name="app", file_name="f.cpp", line_number=42,
                                function_name="fn", process_id=1234, user_name="u", package_name="pkg")
    final = issue_pb2.SimpleIssue(context=context, name="x::Y", inheritance=["ers::Issue", "x::Y"], message="hi",
                                  severity="ERROR", time=TIME_NS, parameters={"k": "v"})
    cause = issue_pb2.SimpleIssue(name="a::B", message="c", severity="WARNING")
    return issue_pb2.IssueChain(final=final, causes=[cause], session="s1", application="app")


def test_issue_chain_golden_bytes():
    assert len(CONTEXT) == 0x20 and len(FINAL) == 0x57 and len(CAUSE) == 0x12
    assert _issue_chain().SerializeToString() == GOLDEN_ISSUE_CHAIN


def test_issue_chain_golden_bytes_decode():
    chain = issue_pb2.IssueChain.FromString(GOLDEN_ISSUE_CHAIN)
    assert (chain.session, chain.application, chain.module) == ("s1", "app", "")
    final = chain.final
    assert (final.name, final.message, final.severity, final.time) == ("x::Y", "hi", "ERROR", TIME_NS)
    assert list(final.inheritance) == ["ers::Issue", "x::Y"] and dict(final.parameters) == {"k": "v"}
    ctx = final.context
    assert (ctx.host_name, ctx.application_name, ctx.file_name, ctx.line_number, ctx.function_name,
            ctx.process_id, ctx.user_name, ctx.package_name) == ("h", "app", "f.cpp", 42, "fn", 1234, "u", "pkg")
    assert [(c.name, c.message, c.severity) for c in chain.causes] == [("a::B", "c", "WARNING")]
