"""Derived boot log paths (drunc has no default: a process booted without one dies at once) and their settings."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

import settings
from drunc_client.log_paths import (
    DEFAULT_LOG_PATTERN,
    LogPathError,
    check_directory,
    check_pattern,
    derive_log_path,
    safe_part,
)
from viewmodels.boot import BootDefaults, parse_boot_file, parse_boot_form

WHEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
SAFE = re.compile(r"^/[A-Za-z0-9._/+@%,=:-]*$")


def test_the_default_pattern_follows_drunc_s_naming_with_a_utc_time():
    path = derive_log_path(DEFAULT_LOG_PATTERN, "/tmp", session="np04-hd", name="ru-01", user="np04daq", when=WHEN)
    assert path == "/tmp/log_np04daq_np04-hd_ru-01_20250102T030405Z.log"
    local = WHEN.astimezone(timezone(timedelta(hours=2)))
    assert derive_log_path(DEFAULT_LOG_PATTERN, "/tmp", session="s", name="n", user="u", when=local).endswith(
        "_20250102T030405Z.log")


def test_every_placeholder_and_a_trailing_slash_in_the_directory():
    pattern = "{dir}/{session}/{user}/{name}.{time}.log"
    assert derive_log_path(pattern, "/data/logs/", session="s", name="n", user="u", when=WHEN) == (
        "/data/logs/s/u/n.20250102T030405Z.log")


@pytest.mark.parametrize(("value", "part"), [
    ("np04;rm -rf", "np04_rm_-rf"),
    ("a/b", "a_b"),
    ("$(reboot)", "__reboot_"),
    ("..", "__"),
    (".", "_"),
    ("", "_"),
    ("ünïcode", "_n_code"),
    ("x" * 300, "x" * 100),
])
def test_session_name_and_user_are_sanitised_for_a_path_and_a_shell(value, part):
    assert safe_part(value) == part


@given(st.text(max_size=50), st.text(max_size=50), st.text(max_size=50))
def test_any_session_name_and_user_give_one_safe_absolute_path_under_the_directory(session, name, user):
    path = derive_log_path("{dir}/{session}/{name}_{user}.log", "/logs", session=session, name=name, user=user,
                           when=WHEN)
    assert SAFE.match(path) and path.startswith("/logs/")
    assert ".." not in path.split("/") and path.count("/") == 3


@pytest.mark.parametrize(("pattern", "message"), [
    ("{dir}/{host}_{name}.log", "unknown placeholder {host}"),
    ("{dir}/log.log", "must contain {name}"),
    ("{dir}/{name!r}.log", "must not carry a format"),
    ("{dir}/{time:%Y}_{name}.log", "must not carry a format"),
    ("{dir}/{name", "not a valid pattern"),
    ("{name}.log", "absolute path"),
    ("{dir}/my logs/{name}.log", "absolute path"),
    ("{dir}/$HOME/{name}.log", "absolute path"),
    ("{dir}/../{name}.log", "absolute path"),
])
def test_a_bad_pattern_is_refused_with_a_reason(pattern, message):
    with pytest.raises(LogPathError, match=re.escape(message)):
        check_pattern(pattern)


@pytest.mark.parametrize("directory", ["tmp", "/tmp/a b", "/tmp/$X", "~/logs", "/var/../etc", "/tmp;rm"])
def test_a_bad_directory_is_refused(directory):
    with pytest.raises(LogPathError):
        check_directory(directory)


def test_settings_defaults_and_validation():
    env = {"SECRET_KEY": "k" * 32}
    default = settings.from_env(env)
    assert (default.boot_log_dir, default.boot_log_pattern) == ("/tmp", DEFAULT_LOG_PATTERN)
    assert default.boot_default_user  # the account running the web server
    custom = settings.from_env({**env, "BOOT_LOG_DIR": "/data/log/", "BOOT_LOG_PATTERN": "{dir}/{name}-{time}.log",
                                "BOOT_DEFAULT_USER": "np04daq"})
    assert (custom.boot_log_dir, custom.boot_log_pattern, custom.boot_default_user) == (
        "/data/log", "{dir}/{name}-{time}.log", "np04daq")
    for variable, value in (("BOOT_LOG_DIR", "relative"), ("BOOT_LOG_PATTERN", "{dir}/{nope}"),
                            ("BOOT_DEFAULT_USER", "two words"), ("BOOT_DEFAULT_USER", "-rf")):
        with pytest.raises(settings.SettingsError, match=f"^{variable} "):
            settings.from_env({**env, variable: value})


# ------------------------------------------------------------------------------------------- view-models

DAQ = BootDefaults("np04daq", "/var/log/daq", "{dir}/{session}_{name}_{time}.log", now=WHEN)
FORM = {"name": "ru-01", "session": "np04;hd", "executable": "sleep", "arguments": "5", "allowed_hosts": "localhost"}


def test_the_form_derives_a_blank_log_path_and_keeps_a_given_one():
    spec, errors = parse_boot_form({**FORM, "log_path": "  "}, DAQ)
    assert errors == {} and spec.log_path == "/var/log/daq/np04_hd_ru-01_20250102T030405Z.log"
    assert spec.session == "np04;hd"  # only the path is sanitised, not what drunc is told
    spec, _ = parse_boot_form({**FORM, "log_path": "/data/mine.log"}, DAQ)
    assert spec.log_path == "/data/mine.log"


def test_the_form_derives_nothing_while_the_name_is_wrong():
    spec, errors = parse_boot_form({**FORM, "name": ""}, DAQ)
    assert spec is None and set(errors) == {"name"}


def test_a_derivation_that_cannot_work_is_shown_under_the_log_path():
    broken = BootDefaults("u", "relative/dir", DEFAULT_LOG_PATTERN, now=WHEN)
    spec, errors = parse_boot_form(FORM, broken)
    assert spec is None and errors["log_path"].startswith("Cannot derive a log path")


def test_every_process_of_a_file_gets_its_own_path_with_one_time():
    content = json.dumps([{"name": "a", "session": "s", "executable": "sleep"},
                          {"name": "b", "session": "s", "executable": "sleep", "user": "other"},
                          {"name": "c", "session": "s", "executable": "sleep", "log_path": "/given.log"}]).encode()
    entries = parse_boot_file(content, DAQ)
    assert [e.log_path for e in entries] == ["/var/log/daq/s_a_20250102T030405Z.log",
                                             "/var/log/daq/s_b_20250102T030405Z.log", "/given.log"]
    assert [e.spec.log_path for e in entries] == [e.log_path for e in entries]
    assert [e.user for e in entries] == ["np04daq", "other", "np04daq"]


def test_a_bare_user_name_uses_the_default_directory_and_pattern_now():
    spec, _ = parse_boot_form(FORM, "daq")
    assert re.fullmatch(r"/tmp/log_daq_np04_hd_ru-01_\d{8}T\d{6}Z\.log", spec.log_path)


def test_the_hint_shows_the_pattern_as_an_operator_reads_it():
    assert DAQ.log_hint == "/var/log/daq/<session>_<name>_<time>.log"
