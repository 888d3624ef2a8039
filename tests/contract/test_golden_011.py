"""Golden bytes for the druncschema 0.11 messages that differ from 0.8 (drunc-protocol-0.11.md section 2), written
by hand from the field numbers (tag byte = field_number << 3 | wire_type; 0 = varint, 2 = length-delimited).
Every length byte is counted by hand and noted next to it."""

from __future__ import annotations

from drunc_client.generated.druncschema import generic_pb2
from drunc_client.generated_011.druncschema import authoriser_pb2, request_response_pb2, session_manager_pb2
from drunc_client.generated_011.druncschema import controller_pb2 as ctl


def h(text: str) -> bytes:
    return bytes.fromhex(text)


URL = b"type.googleapis.com/dunedaq.druncschema."  # 40 bytes
PLAIN_URL = URL + b"PlainText"  # 49 = 0x31
ADDRESSED_URL = URL + b"AddressedCommand"  # 56 = 0x38


def check(message, expected: bytes) -> None:
    assert message.SerializeToString(deterministic=True).hex(" ") == expected.hex(" ")
    assert type(message).FromString(expected) == message


def test_url_lengths():
    assert (len(PLAIN_URL), len(ADDRESSED_URL)) == (0x31, 0x38)


def test_addressed_command_with_payload_and_flags():
    command = ctl.AddressedCommand(command_name="describe_fsm", target="seg", execute_along_path=True,
                                   execute_on_all_subsequent_children_in_path=True)
    command.command_data.Pack(generic_pb2.PlainText(text="all"))
    payload = h("0a 03") + b"all"  # PlainText{text=1}: 5 bytes
    any_ = h("0a 31") + PLAIN_URL + h("12 05") + payload  # 2+49 + 2+5 = 58 = 0x3a
    check(command, h("0a 0c") + b"describe_fsm"  # command_name = 1, 12 bytes
          + h("12 3a") + any_  # command_data = 2
          + h("1a 03") + b"seg"  # target = 3
          + h("20 01")  # execute_along_path = 4, varint
          + h("28 01"))  # execute_on_all_subsequent_children_in_path = 5, varint


def test_request_carrying_an_addressed_command():
    request = request_response_pb2.Request()
    request.token.user_name = "al"
    request.data.Pack(ctl.AddressedCommand(command_name="status"))
    inner = h("0a 06") + b"status"  # 8 bytes
    any_ = h("0a 38") + ADDRESSED_URL + h("12 08") + inner  # 2+56 + 2+8 = 68 = 0x44
    check(request, h("0a 04") + h("12 02") + b"al" + h("12 44") + any_)  # token = 1 {user_name = 2}, data = 2


def test_description_is_renumbered():
    description = request_response_pb2.Description(type="controller", name="root", endpoint="grpc://h:1",
                                                   info="det", session="s")
    description.commands.add(name="x")
    check(description,
          h("0a 0a") + b"controller"  # type = 1
          + h("12 04") + b"root"  # name = 2
          + h("1a 0a") + b"grpc://h:1"  # endpoint = 3 (new)
          + h("22 03") + b"det"  # info = 4 (new, optional)
          + h("2a 01") + b"s"  # session = 5 (3 in 0.8)
          + h("32 03") + h("0a 01") + b"x")  # commands = 6 (4 in 0.8)


def test_status_has_no_name():
    status = ctl.Status(state="configured", sub_state="idle", in_error=True, included=True)
    assert "name" not in ctl.Status.DESCRIPTOR.fields_by_name
    check(status, h("12 0a") + b"configured" + h("1a 04") + b"idle" + h("20 01") + h("28 01"))


def test_response_flags_use_the_development_numbering():
    flags = {v.name: v.number for v in request_response_pb2.ResponseFlag.DESCRIPTOR.values}
    assert flags == {
        "EXECUTED_SUCCESSFULLY": 0, "FAILED": 1, "NOT_EXECUTED_NOT_IMPLEMENTED": 2, "NOT_EXECUTED_NOT_IN_CONTROL": 3,
        "NOT_EXECUTED_NOT_AUTHORISED": 4, "NOT_EXECUTED_NODE_IN_ERROR": 5, "DRUNC_EXCEPTION_THROWN": 6,
        "UNHANDLED_EXCEPTION_THROWN": 7, "NOT_EXECUTED_BAD_REQUEST_FORMAT": 8}
    check(request_response_pb2.Response(flag=request_response_pb2.NOT_EXECUTED_BAD_REQUEST_FORMAT), h("20 08"))
    check(ctl.FSMCommandResponse(flag=ctl.FSM_NOT_EXECUTED_IN_ERROR), h("08 04"))


def test_fsm_command_has_no_children_nodes():
    assert "children_nodes" not in ctl.FSMCommand.DESCRIPTOR.fields_by_name
    check(ctl.FSMCommand(command_name="conf", data=""), h("0a 04") + b"conf" + h("22 00"))  # data = 4, optional


def test_expert_action_type():
    assert authoriser_pb2.EXPERT == 4
    check(authoriser_pb2.AuthoriserRequest(action=authoriser_pb2.EXPERT), h("10 04"))


def test_session_manager_messages():
    key = session_manager_pb2.ConfigKey(file="a.xml", session_id="s1")
    key_bytes = h("0a 05") + b"a.xml" + h("12 02") + b"s1"  # 11 = 0x0b
    check(key, key_bytes)
    check(session_manager_pb2.AllConfigKeys(config_keys=[key]), h("0a 0b") + key_bytes)
    session = session_manager_pb2.ActiveSession(name="n", user="u", config_key=key)
    session_bytes = h("0a 01") + b"n" + h("12 01") + b"u" + h("1a 0b") + key_bytes  # 6 + 13 = 19 = 0x13
    check(session, session_bytes)
    check(session_manager_pb2.AllActiveSessions(active_sessions=[session]), h("0a 13") + session_bytes)


# --------------------------------------------------------------------------------- process manager describe

PM_LOG = b"/log/pm.log"  # 11 = 0x0b
DESCRIBE_COMMAND = h("0a 08") + b"describe" + h("12 04") + b"None"  # name = 1, data_type = 2: 10 + 6 = 16 = 0x10
PM_DESCRIPTION_011 = (h("0a 0f") + b"process_manager"  # type = 1, 15 bytes
                      + h("12 0f") + b"process_manager"  # name = 2; endpoint = 3 left empty: not on the wire
                      + h("22 0b") + PM_LOG  # info = 4: the PM's log path
                      + h("2a 05") + b"alice"  # session = 5: the Unix user
                      + h("32 10") + DESCRIBE_COMMAND)  # commands = 6
PM_DESCRIPTION_08 = (h("0a 0f") + b"process_manager" + h("12 0f") + b"process_manager"
                     + h("1a 05") + b"alice"  # session = 3
                     + h("22 10") + DESCRIBE_COMMAND)  # commands = 4


def test_process_manager_description_as_drunc_0_13_2_sends_it():
    """drunc-protocol-0.11.md §3.4 / §9: type and name "process_manager", no endpoint, info = log path."""
    description = request_response_pb2.Description(type="process_manager", name="process_manager",
                                                   info=PM_LOG.decode(), session="alice")
    description.commands.add(name="describe", data_type=["None"])
    check(description, PM_DESCRIPTION_011)


def test_the_simulator_serves_those_bytes_under_schema_0_11(tmp_path):
    from simulator.broadcast import NullBroadcaster
    from simulator.process_manager_011 import ProcessManager011Servicer, _commands_011

    servicer = ProcessManager011Servicer(broadcaster=NullBroadcaster(), log_dir=tmp_path, session="alice",
                                         log_path=PM_LOG.decode())
    response = servicer.describe(request_response_pb2.Request(), None)
    assert response.data.type_url == "type.googleapis.com/dunedaq.druncschema.Description"
    from simulator.process_manager import _varint

    commands = b"".join(h("32") + _varint(c.ByteSize()) + c.SerializeToString() for c in _commands_011())
    assert response.data.value.hex(" ") == (PM_DESCRIPTION_011[:PM_DESCRIPTION_011.index(h("32 10"))]
                                            + commands).hex(" ")


def test_the_layout_of_a_description_is_read_from_its_bytes():
    from drunc_client.generated.druncschema import request_response_pb2 as rr08
    from drunc_client.layouts import description_layout, description_layout_if_certain

    assert rr08.Description.FromString(PM_DESCRIPTION_08).session == "alice"  # the 0.8 bytes are a 0.8 message
    assert description_layout(PM_DESCRIPTION_011) == "0.11"
    assert description_layout(PM_DESCRIPTION_08) == "0.8"
    without_commands = PM_DESCRIPTION_011[:PM_DESCRIPTION_011.index(h("32 10"))]
    assert description_layout(without_commands) == "0.11"  # a log path does not parse as a CommandDescription
    broadcast_08 = PM_DESCRIPTION_08 + h("2a 06 0a 02") + b"t/" + h("12 00")  # broadcast = 5: Any{type_url, value}
    assert description_layout_if_certain(broadcast_08) == "0.8"
    ambiguous = h("0a 01") + b"t" + h("12 01") + b"n" + h("1a 01") + b"s"  # session (0.8) or endpoint (0.11)
    assert description_layout_if_certain(ambiguous) is None and description_layout(ambiguous) == "0.8"
