"""The boot view-models: the form and the JSON file → BootSpecs, or a message for each field."""

from __future__ import annotations

import base64
import json
import shlex
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drunc_client.errors import BackendUnavailable, DruncFlagError, InvalidArguments
from drunc_client.process_manager import BootSpec
from viewmodels.boot import (
    ENTRY,
    FORM,
    MAX_FILE_BYTES,
    MAX_PROCESSES,
    BootDefaults,
    BootFileError,
    BootResult,
    FieldError,
    audit_arguments,
    decode_upload,
    drunc_error_text,
    field_of_validation,
    parse_boot_file,
    parse_boot_form,
    parse_environment,
    parse_hosts,
    parse_tree_id,
    split_arguments,
    summary_text,
    toast_plan,
    upload_digest,
    wire_arguments,
)

GOOD = {
    "name": "writer-1",
    "session": "test",
    "user": "",
    "executable": "bash",
    "arguments": "-c 'while true; do echo hi; sleep 1; done'",
    "environment": "LEVEL=2\n\n# a comment\n  QUOTED=\"a b\"  \nEMPTY=\nEQ=a=b",
    "working_directory": "/tmp/run",
    "log_path": "/tmp/run/writer.log",
    "allowed_hosts": "localhost, np04-srv-001  127.0.0.1,localhost",
    "tree_id": "1.2.3",
}


def form(**changes):
    return parse_boot_form({**GOOD, **changes}, defaults="expert")


def error_of(key, value):
    spec, errors = form(**{key: value})
    assert spec is None, (key, value)
    return errors[key]


# ------------------------------------------------------------------------------------------------- form


def test_a_good_form_gives_the_spec():
    spec, errors = form()
    assert errors == {}
    assert spec == BootSpec(
        name="writer-1",
        user="expert",
        session="test",
        executable="bash",
        arguments=("-c", "'while true; do echo hi; sleep 1; done'"),
        environment={"LEVEL": "2", "QUOTED": "a b", "EMPTY": "", "EQ": "a=b"},
        working_directory="/tmp/run",
        log_path="/tmp/run/writer.log",
        allowed_hosts=("localhost", "np04-srv-001", "127.0.0.1"),
        tree_id="1.2.3",
    )


def test_the_user_defaults_to_the_logged_in_user_and_can_be_changed():
    assert form(user="  ")[0].user == "expert"
    assert form(user=None)[0].user == "expert"
    assert form(user="daq")[0].user == "daq"
    assert parse_boot_form({**GOOD, "user": ""}, defaults="")[1] == {"user": "Required."}


WHEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
DAQ = BootDefaults("np04daq", "/var/log/daq", "{dir}/log_{user}_{session}_{name}_{time}.log", now=WHEN)


def test_optional_fields_may_be_blank_or_missing():
    spec, errors = parse_boot_form({"name": "n", "session": "s", "executable": "sleep", "allowed_hosts": "localhost"},
                                   defaults=DAQ)
    assert errors == {}
    assert (spec.arguments, spec.environment, spec.working_directory, spec.tree_id) == ((), {}, "", "")
    assert spec.user == "np04daq"  # BOOT_DEFAULT_USER, not the web user
    assert spec.log_path == "/var/log/daq/log_np04daq_s_n_20250102T030405Z.log"  # drunc has no default: derived


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("name", "", "Required."),
        ("name", "two words", "spaces or “/”"),
        ("name", "a/b", "spaces or “/”"),
        ("name", "x" * 5000, "Too long"),
        ("session", "", "Required."),
        ("session", "my session", "Must not contain spaces."),
        ("user", "a b", "Must not contain spaces."),
        ("executable", "", "Required."),
        ("executable", "sleep 30", "put its arguments in Arguments"),
        ("arguments", "-c 'unbalanced", "No closing quotation"),
        ("arguments", "trailing\\", "No escaped character"),
        ("environment", "NOEQUALS", "Line 1: “NOEQUALS” is not KEY=VALUE."),
        ("environment", "# c\n1BAD=x", "Line 2: “1BAD” is not a valid variable name"),
        ("environment", "A-B=x", "not a valid variable name"),
        ("environment", "A=1\nA=2", "Line 2: A is already set on line 1."),
        ("environment", "=x", "not a valid variable name"),
        ("working_directory", "/a b", "Must not contain spaces"),
        ("log_path", "/tmp/x y.log", "Must not contain spaces"),
        ("allowed_hosts", "", "Give at least one host"),
        ("allowed_hosts", " , ", "Give at least one host"),
        ("allowed_hosts", "good bad!host", "“bad!host” is not a host name or IP address."),
        ("tree_id", "x", "“x” is not a tree id: use three dot-separated numbers, like 1.2.3."),
        ("tree_id", "1.2", "is not a tree id"),
        ("tree_id", "1.2.3.4", "is not a tree id"),
        ("tree_id", "1.a.3", "is not a tree id"),
    ],
)
def test_each_bad_value_is_a_message_under_its_field(key, value, message):
    assert message in error_of(key, value)


def test_every_bad_field_is_reported_at_once():
    spec, errors = form(name="", session="", tree_id="x", allowed_hosts="")
    assert spec is None
    assert set(errors) == {"name", "session", "tree_id", "allowed_hosts"}


def test_control_characters_are_refused_in_single_line_fields():
    assert "control characters" in error_of("working_directory", "/tmp/a\x07b")


def test_a_tree_id_is_optional_and_stripped():
    assert parse_tree_id("") == ""
    assert parse_tree_id(" 10.0.20 ") == "10.0.20"


# -------------------------------------------------------------------------------------------- arguments


def test_arguments_are_split_like_a_shell_and_quoted_for_drunc():
    argv = split_arguments("-c 'echo \"hi there\"; sleep 1' --flag=a\\ b ''")
    assert argv == ["-c", 'echo "hi there"; sleep 1', "--flag=a b", ""]
    wire = wire_arguments(argv)
    assert wire == ("-c", "'echo \"hi there\"; sleep 1'", "'--flag=a b'", "''")
    assert shlex.split(" ".join(wire)) == argv  # what drunc's shell will hand the process


def test_plain_arguments_are_not_quoted():
    assert wire_arguments(split_arguments("30 --level=2 /tmp/x.log")) == ("30", "--level=2", "/tmp/x.log")


def test_arguments_with_line_breaks_are_refused():
    with pytest.raises(FieldError, match="line breaks"):
        wire_arguments(["a\nb"])


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\x00\n\r", blacklist_categories=("Cs",)))))
def test_any_argument_list_survives_drunc_joining_it_unquoted(argv):
    assert shlex.split(" ".join(wire_arguments(argv))) == argv


# ------------------------------------------------------------------------------------------ environment


def test_environment_lines():
    assert parse_environment("") == {}
    assert parse_environment("  # only a comment\n\n") == {}
    assert parse_environment("A=1\r\nB='x'\nC=\"\"\nD= spaced \n") == {"A": "1", "B": "x", "C": "", "D": "spaced"}


# ---------------------------------------------------------------------------------------------- hosts


def test_hosts_split_on_commas_and_spaces_without_duplicates():
    assert parse_hosts("a,b  c,\n a") == ("a", "b", "c")
    assert parse_hosts(["localhost", "::1", "10.0.0.1"]) == ("localhost", "::1", "10.0.0.1")
    with pytest.raises(FieldError, match="not a host name"):
        parse_hosts("host;rm")
    with pytest.raises(FieldError, match="must not be empty"):
        parse_hosts(["a", " "])
    with pytest.raises(FieldError, match="Too many hosts"):
        parse_hosts([f"h{i}" for i in range(101)])


# ---------------------------------------------------------------------------------- client validation


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "a b"}, "name"),
        ({"user": ""}, "user"),
        ({"session": ""}, "session"),
        ({"executable": " "}, "executable"),
        ({"session": "a b"}, "session"),
        ({"user": "a b"}, "user"),
        ({"arguments": "abc"}, "arguments"),
        ({"allowed_hosts": ()}, "allowed_hosts"),
        ({"environment": {"1A": "x"}}, "environment"),
        ({"environment": {"A": "x\ny"}}, "environment"),
        ({"tree_id": "x"}, "tree_id"),
        ({"log_path": ""}, "log_path"),
        ({"log_path": "/a b"}, "log_path"),
    ],
)
def test_every_message_of_bootspec_validate_maps_to_its_field(changes, field):
    base = {"name": "n", "user": "u", "session": "s", "executable": "e", "log_path": "/l"}
    spec = BootSpec(**{**base, **changes})
    with pytest.raises(InvalidArguments) as info:
        spec.validate()
    assert field_of_validation(str(info.value), spec) == field


def test_an_unknown_validation_message_goes_to_the_form():
    assert field_of_validation("boot: something new") == FORM


# ------------------------------------------------------------------------------------------------ file


def as_file(data) -> bytes:
    return json.dumps(data).encode()


PROCESS = {"name": "sleeper", "session": "test", "executable": "sleep", "arguments": ["30"]}


def test_a_list_of_processes():
    [entry] = parse_boot_file(as_file([PROCESS]), DAQ)
    assert entry.ok and entry.status == "OK"
    assert (entry.index, entry.name, entry.session, entry.user, entry.hosts, entry.command) == (
        1, "sleeper", "test", "np04daq", ("localhost",), "sleep 30")
    log = "/var/log/daq/log_np04daq_test_sleeper_20250102T030405Z.log"
    assert entry.log_path == log  # the preview shows the derived path
    assert entry.spec == BootSpec(name="sleeper", user="np04daq", session="test", executable="sleep",
                                  arguments=("30",), allowed_hosts=("localhost",), log_path=log)


def test_an_object_with_processes_and_every_field():
    full = {
        "name": "w",
        "session": "s",
        "user": "daq",
        "executable": "bash",
        "arguments": "-c 'echo hi; sleep 1'",
        "environment": {"A": "x", "PORT": 8080},
        "working_directory": "/tmp",
        "log_path": "/tmp/w.log",
        "allowed_hosts": "localhost, 127.0.0.1",
        "tree_id": "1.0.4",
    }
    [entry] = parse_boot_file(as_file({"processes": [full]}), "expert")
    assert entry.ok
    assert entry.spec == BootSpec(name="w", user="daq", session="s", executable="bash",
                                  arguments=("-c", "'echo hi; sleep 1'"), environment={"A": "x", "PORT": "8080"},
                                  working_directory="/tmp", log_path="/tmp/w.log",
                                  allowed_hosts=("localhost", "127.0.0.1"), tree_id="1.0.4")
    assert entry.command == "bash -c 'echo hi; sleep 1'"


def test_arguments_in_a_list_are_each_one_literal_argument():
    [entry] = parse_boot_file(as_file([{**PROCESS, "executable": "bash",
                                        "arguments": ["-c", "while true; do echo hi; sleep 1; done", 3]}]), "u")
    assert entry.spec.arguments == ("-c", "'while true; do echo hi; sleep 1; done'", "3")


def test_a_utf8_bom_and_nulls_for_optional_fields_are_accepted():
    data = b"\xef\xbb\xbf" + as_file([{**PROCESS, "user": None, "tree_id": None, "environment": None}])
    [entry] = parse_boot_file(data, "expert")
    assert entry.ok and entry.user == "expert"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"  \n", "The file is empty."),
        (b'[{"name": "a",\n  "session": }]', "Not valid JSON: Expecting value at line 2, column 14."),
        (b"\xff\xfe", "not UTF-8 text (byte 0xff at offset 0)"),
        (b"[" * 100_000, "nested too deeply"),
        (b"42", 'must be a list of processes, or an object {"processes": [...]}, not a number'),
        (b'"x"', "not a string"),
        (b'{"procs": []}', "this object has no “processes” key"),
        (b'{"processes": [], "extra": 1, "more": 2}', "Unknown top-level key(s) 'extra', 'more'"),
        (b'{"processes": {"a": 1}}', "“processes” must be a list, not an object."),
        (b"[]", "The file lists no processes."),
        (b'{"processes": []}', "The file lists no processes."),
    ],
)
def test_file_errors(content, message):
    with pytest.raises(BootFileError) as info:
        parse_boot_file(content, "u")
    assert message in str(info.value)


def test_too_many_processes():
    with pytest.raises(BootFileError, match=f"lists {MAX_PROCESSES + 1} processes; at most {MAX_PROCESSES}"):
        parse_boot_file(as_file([PROCESS] * (MAX_PROCESSES + 1)), "u")
    assert len(parse_boot_file(as_file([PROCESS] * MAX_PROCESSES), "u")) == MAX_PROCESSES


def test_too_big():
    content = as_file([{**PROCESS, "environment": {"PAD": "x" * MAX_FILE_BYTES}}])
    with pytest.raises(BootFileError, match="too big .* the limit is 1 MB"):
        parse_boot_file(content, "u")


@pytest.mark.parametrize(
    ("entry", "key", "message"),
    [
        ("just a string", ENTRY, "Must be an object with the process fields, not a string."),
        ([PROCESS], ENTRY, "not a list"),
        ({**PROCESS, "nmae": "x", "cmd": "y"}, ENTRY, "Unknown key(s) 'nmae', 'cmd'; the keys are name, session"),
        ({**PROCESS, "name": 7}, "name", "Must be a string, not a number."),
        ({**PROCESS, "name": "a b"}, "name", "spaces"),
        ({k: v for k, v in PROCESS.items() if k != "session"}, "session", "Required."),
        ({**PROCESS, "executable": ["sleep"]}, "executable", "Must be a string, not a list."),
        ({**PROCESS, "arguments": {"a": 1}}, "arguments", "Must be a list of strings or a string, not an object."),
        ({**PROCESS, "arguments": ["a", True]}, "arguments", "Argument 2 must be a string, not true/false."),
        ({**PROCESS, "arguments": "'open"}, "arguments", "No closing quotation"),
        ({**PROCESS, "environment": ["A=1"]}, "environment", "Must be an object of NAME: value, not a list."),
        ({**PROCESS, "environment": {"A B": "1"}}, "environment", "“A B” is not a valid variable name"),
        ({**PROCESS, "environment": {"A": None}}, "environment", "The value of A must be a string, not null."),
        ({**PROCESS, "environment": {"A": "1\n2"}}, "environment", "single line"),
        ({**PROCESS, "allowed_hosts": 3}, "allowed_hosts", "not a number"),
        ({**PROCESS, "allowed_hosts": []}, "allowed_hosts", "Give at least one host"),
        ({**PROCESS, "allowed_hosts": ["ok", 1]}, "allowed_hosts", "Host 2 must be a string, not a number."),
        ({**PROCESS, "tree_id": "x"}, "tree_id", "is not a tree id"),
        ({**PROCESS, "tree_id": 123}, "tree_id", "Must be a string, not a number."),
        ({**PROCESS, "log_path": "/a b"}, "log_path", "Must not contain spaces"),
    ],
)
def test_entry_errors_name_the_field(entry, key, message):
    [result] = parse_boot_file(as_file([entry]), "u")
    assert not result.ok and result.spec is None
    assert message in result.errors[key]
    assert message in result.status


def test_valid_and_invalid_entries_are_all_previewed():
    entries = parse_boot_file(as_file([PROCESS, {**PROCESS, "name": "b", "tree_id": "x"}, 5]), "u")
    assert [(e.index, e.ok) for e in entries] == [(1, True), (2, False), (3, False)]
    assert entries[1].name == "b" and entries[1].status.startswith("Tree id: ")
    assert entries[2].status.startswith("Entry: ")


# ------------------------------------------------------------------------------------------- the upload


def data_url(content: bytes, kind: str = "application/json") -> str:
    return f"data:{kind};base64," + base64.b64encode(content).decode()


def test_decode_upload():
    assert decode_upload(data_url(b"[1]")) == b"[1]"
    assert decode_upload(data_url(b"[1]", kind="")) == b"[1]"
    for bad in (None, 3, "no comma", "data:application/json,[1]", "data:application/json;base64,@@@@"):
        with pytest.raises(BootFileError, match="could not be read"):
            decode_upload(bad)
    with pytest.raises(BootFileError, match="too big"):
        decode_upload("data:application/json;base64," + "A" * (MAX_FILE_BYTES * 4 // 3 + 8))


def test_upload_digest():
    assert upload_digest(None) is None and upload_digest("") is None
    assert upload_digest("data:x") == upload_digest("data:x") != upload_digest("data:y")


# ---------------------------------------------------------------------------------------------- results


def test_audit_arguments_clip_long_environment_values():
    spec = BootSpec(name="n", user="u", session="s", executable="e", arguments=("a",),
                    environment={"LONG": "x" * 1000, "SHORT": "y"})
    args = audit_arguments(spec)
    assert len(args["environment"]["LONG"]) == 200 and args["environment"]["SHORT"] == "y"
    assert args["arguments"] == ["a"] and args["allowed_hosts"] == ["localhost"]
    json.dumps(args)


def test_drunc_error_text_keeps_the_flag_and_the_server_message():
    trace = "Traceback (most recent call last):\n  File x\nsimulator.rpc.DruncException: No allowed host\n\n"
    flagged = DruncFlagError("process_manager", "boot", "DRUNC_EXCEPTION_THROWN", trace)
    assert drunc_error_text(flagged) == "DRUNC_EXCEPTION_THROWN: No allowed host"
    assert drunc_error_text(DruncFlagError("pm", "boot", "NOT_EXECUTED", "")) == "NOT_EXECUTED"
    down = BackendUnavailable("localhost:1", "connection refused")
    assert drunc_error_text(down) == "Process manager unavailable: localhost:1 unreachable: connection refused"


def test_toast_plan_caps_at_ten():
    results = [BootResult(f"p{i}", i % 5 != 0, "x") for i in range(13)]
    shown, rest = toast_plan(results)
    assert len(shown) == 10 and [r.name for r in rest] == ["p10", "p11", "p12"]
    assert toast_plan(results[:10]) == (results[:10], [])
    assert summary_text(rest) == "2 booted: p11, p12. 1 not booted: p10 (x)."
