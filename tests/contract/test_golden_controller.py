"""Golden bytes for controller messages: the expected encodings are written by hand from the field numbers and
wire types of protocol section 7 (tag byte = field_number << 3 | wire_type; wire type 0 = varint, 2 = length-
delimited), so a field-number slip in our .proto re-declaration fails here instead of on a real deployment.

Every length byte below is counted by hand and noted next to it. ASCII payloads are written as b"..." for
readability; everything else is hex.
"""

from __future__ import annotations

import pytest

from drunc_client.generated.druncschema import broadcast_pb2, generic_pb2, request_response_pb2
from drunc_client.generated.druncschema import controller_pb2 as ctl
from drunc_client.transport import pack


def h(text: str) -> bytes:
    return bytes.fromhex(text)


URL = b"type.googleapis.com/dunedaq.druncschema."  # 20 + 20 = 40 bytes
INT_URL = URL + b"int_msg"  # 47 = 0x2f
STRING_URL = URL + b"string_msg"  # 50 = 0x32
FSM_RESPONSE_URL = URL + b"FSMCommandResponse"  # 58 = 0x3a
KAFKA_URL = URL + b"KafkaBroadcastHandlerConfiguration"  # 74 = 0x4a


def test_url_lengths_used_below():
    assert (len(INT_URL), len(STRING_URL), len(FSM_RESPONSE_URL), len(KAFKA_URL)) == (0x2f, 0x32, 0x3a, 0x4a)


def check(message, expected: bytes) -> None:
    assert message.SerializeToString(deterministic=True).hex(" ") == expected.hex(" ")
    assert type(message).FromString(expected) == message


def test_fsm_command_with_int_argument():
    command = ctl.FSMCommand(command_name="start")
    command.arguments["run_number"].CopyFrom(pack(generic_pb2.int_msg(value=1)))
    # int_msg{value=1}: field 1 varint → 08 01
    any_ = h("0a 2f") + INT_URL + h("12 02") + h("08 01")  # Any: 2+47 + 2+2 = 53 = 0x35
    entry = h("0a 0a") + b"run_number" + h("12 35") + any_  # map entry: key=1, value=2: 2+10 + 2+53 = 67 = 0x43
    check(command, h("0a 05") + b"start" + h("12 43") + entry)  # command_name=1 (0a), arguments=2 (12)


def test_fsm_command_children_nodes_and_optional_data():
    command = ctl.FSMCommand(command_name="conf", children_nodes=["a"], data="")
    # children_nodes = 3 (1a), data = 4 (22): optional, so an empty string is still sent
    check(command, h("0a 04") + b"conf" + h("1a 01") + b"a" + h("22 00"))


def test_fsm_command_response():
    response = ctl.FSMCommandResponse(flag=ctl.FSM_INVALID_TRANSITION, command_name="start")
    check(response, h("08 02") + h("12 05") + b"start")  # flag=1 varint 2, command_name=2
    # FSM_EXECUTED_SUCCESSFULLY (0) is the proto3 default: not on the wire
    check(ctl.FSMCommandResponse(command_name="start"), h("12 05") + b"start")
    check(ctl.FSMCommandResponse(flag=ctl.FSM_NOT_EXECUTED_EXCLUDED), h("08 03"))


def test_flag_numbers_are_those_of_the_released_schema():
    """druncschema v0.8.0, v0.8.1 (fddaq-v5.1.0) and v0.8.2, what drunc 0.10.x runs: no NODE_IN_ERROR, and
    FSMResponseFlag stops at 3. The development branch (and 0.9+) numbers 5-8 differently."""
    response_flags = {v.name: v.number for v in request_response_pb2.ResponseFlag.DESCRIPTOR.values}
    assert response_flags == {
        "EXECUTED_SUCCESSFULLY": 0, "FAILED": 1, "NOT_EXECUTED_NOT_IMPLEMENTED": 2, "NOT_EXECUTED_NOT_IN_CONTROL": 3,
        "NOT_EXECUTED_NOT_AUTHORISED": 4, "DRUNC_EXCEPTION_THROWN": 5, "UNHANDLED_EXCEPTION_THROWN": 6,
        "NOT_EXECUTED_BAD_REQUEST_FORMAT": 7}
    fsm_flags = {v.name: v.number for v in ctl.FSMResponseFlag.DESCRIPTOR.values}
    assert fsm_flags == {"FSM_EXECUTED_SUCCESSFULLY": 0, "FSM_FAILED": 1, "FSM_INVALID_TRANSITION": 2,
                         "FSM_NOT_EXECUTED_EXCLUDED": 3}
    # On the wire: Response.flag is field 4 (tag 20).
    check(request_response_pb2.Response(flag=request_response_pb2.DRUNC_EXCEPTION_THROWN), h("20 05"))
    check(request_response_pb2.Response(flag=request_response_pb2.UNHANDLED_EXCEPTION_THROWN), h("20 06"))
    check(request_response_pb2.Response(flag=request_response_pb2.NOT_EXECUTED_BAD_REQUEST_FORMAT), h("20 07"))


def test_unknown_flag_numbers_still_parse():
    """A server speaking the development numbering may send 8 (or 4 for the FSM flag): proto3 enums are open,
    so the number survives parsing for the client to show as "flag N"."""
    assert request_response_pb2.Response.FromString(h("20 08")).flag == 8
    assert ctl.FSMCommandResponse.FromString(h("08 04")).flag == 4


def test_response_carrying_fsm_command_response_and_children():
    response = request_response_pb2.Response(name="root", flag=request_response_pb2.EXECUTED_SUCCESSFULLY)
    response.data.Pack(ctl.FSMCommandResponse(command_name="conf"))
    response.children.add(name="seg", flag=request_response_pb2.NOT_EXECUTED_NOT_IN_CONTROL)
    inner = h("12 04") + b"conf"  # 6 bytes
    any_ = h("0a 3a") + FSM_RESPONSE_URL + h("12 06") + inner  # 2+58 + 2+6 = 68 = 0x44
    child = h("0a 03") + b"seg" + h("20 03")  # name=1, flag=4 (20) = 3: 5+2 = 7
    # name=1, data=3 (1a), flag 0 not sent, children=5 (2a)
    check(response, h("0a 04") + b"root" + h("1a 44") + any_ + h("2a 07") + child)


def test_argument_with_default_and_choices():
    argument = ctl.Argument(name="run_type", presence=ctl.Argument.OPTIONAL, type=ctl.Argument.STRING,
                            help="Run type")
    argument.default_value.Pack(generic_pb2.string_msg(value="TEST"))
    argument.choices.add().Pack(generic_pb2.string_msg(value="TEST"))
    argument.choices.add().Pack(generic_pb2.string_msg(value="PROD"))

    def string_any(value: bytes) -> bytes:  # 2+50 + 2+6 = 60 = 0x3c
        return h("0a 32") + STRING_URL + h("12 06") + h("0a 04") + value

    check(argument,
          h("0a 08") + b"run_type"  # name = 1
          + h("10 01")  # presence = 2, OPTIONAL = 1
          + h("18 02")  # type = 3, STRING = 2
          + h("22 3c") + string_any(b"TEST")  # default_value = 4
          + h("2a 3c") + string_any(b"TEST")  # choices = 5, repeated
          + h("2a 3c") + string_any(b"PROD")
          + h("32 08") + b"Run type")  # help = 6


def test_mandatory_int_argument_sends_only_name_and_help():
    # MANDATORY = 0 and INT = 0 are defaults: absent. No default_value, no choices.
    argument = ctl.Argument(name="run_number", presence=ctl.Argument.MANDATORY, type=ctl.Argument.INT, help="Run")
    check(argument, h("0a 0a") + b"run_number" + h("32 03") + b"Run")


def test_argument_with_zero_default_is_present():
    argument = ctl.Argument(name="x", presence=ctl.Argument.OPTIONAL, type=ctl.Argument.FLOAT)
    argument.default_value.Pack(generic_pb2.float_msg(value=0.0))
    float_url = URL + b"float_msg"  # 49 = 0x31; the float_msg value 0.0 is empty
    check(argument, h("0a 01") + b"x" + h("10 01 18 01") + h("22 33 0a 31") + float_url)


def test_fsm_commands_description():
    description = ctl.FSMCommandsDescription(type="controller", name="r", session="s", commands=[
        ctl.FSMCommandDescription(name="conf", data_type=["d"], help="h", return_type="t",
                                  arguments=[ctl.Argument(name="a")])])
    command = (h("0a 04") + b"conf" + h("12 01") + b"d" + h("1a 01") + b"h" + h("22 01") + b"t"
               + h("2a 03") + h("0a 01") + b"a")  # 6+3+3+3+5 = 20 = 0x14
    check(description, h("0a 0a") + b"controller" + h("12 01") + b"r" + h("1a 01") + b"s" + h("22 14") + command)


def test_status_mid_transition():
    status = ctl.Status(name="root-controller", state="configured (preparing-start)", sub_state="preparing-start",
                        in_error=True, included=True)
    check(status,
          h("0a 0f") + b"root-controller"  # name = 1, 15 bytes
          + h("12 1c") + b"configured (preparing-start)"  # state = 2, 10+1+1+15+1 = 28
          + h("1a 0f") + b"preparing-start"  # sub_state = 3, 15 bytes
          + h("20 01")  # in_error = 4
          + h("28 01"))  # included = 5


def test_children_status():
    children = ctl.ChildrenStatus(children_status=[
        ctl.Status(name="app-0", state="initial", sub_state="idle", included=True),
        ctl.Status(name="seg-1", state="ready", sub_state="ready", in_error=True),
    ])
    first = h("0a 05") + b"app-0" + h("12 07") + b"initial" + h("1a 04") + b"idle" + h("28 01")  # 7+9+6+2 = 24
    second = h("0a 05") + b"seg-1" + h("12 05") + b"ready" + h("1a 05") + b"ready" + h("20 01")  # 7+7+7+2 = 23
    check(children, h("0a 18") + first + h("0a 17") + second)  # children_status = 1, repeated


@pytest.mark.parametrize("session, encoded", [
    ("test-session", h("1a 0c") + b"test-session"),  # session = 3, 12 bytes
    ("", h("1a 00")),  # optional: set to "" is still sent
    (None, b""),  # unset: absent
])
def test_description_optional_session(session, encoded):
    description = request_response_pb2.Description(type="controller", name="root-controller", commands=[
        request_response_pb2.CommandDescription(name="ls", help="List children", return_type="PlainTextVector")])
    if session is not None:
        description.session = session
    command = h("0a 02") + b"ls" + h("1a 0d") + b"List children" + h("22 0f") + b"PlainTextVector"  # 4+15+17 = 36
    check(description,
          h("0a 0a") + b"controller"  # type = 1
          + h("12 0f") + b"root-controller"  # name = 2
          + encoded
          + h("22 24") + command)  # commands = 4


def test_description_with_kafka_broadcast():
    description = request_response_pb2.Description(type="controller", name="r")
    description.broadcast.Pack(broadcast_pb2.KafkaBroadcastHandlerConfiguration(
        kafka_address="localhost:9092", topic="control.s.r"))
    config = h("0a 0e") + b"localhost:9092" + h("12 0b") + b"control.s.r"  # 2+14 + 2+11 = 29 = 0x1d
    any_ = h("0a 4a") + KAFKA_URL + h("12 1d") + config  # 2+74 + 2+29 = 107 = 0x6b
    check(description, h("0a 0a") + b"controller" + h("12 01") + b"r" + h("2a 6b") + any_)  # broadcast = 5
