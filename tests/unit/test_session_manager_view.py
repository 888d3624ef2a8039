"""viewmodels.session_manager: a read of the session manager as the panel's state, its texts, and the checks of
a start or stop (pure functions, no gRPC)."""

from __future__ import annotations

import json

import pytest

from drunc_client.errors import BackendUnavailable, DruncFlagError, SessionManagerNotUsable
from drunc_client.session_manager import ConfigurationInfo, SessionInfo, SessionManagerDescription
from viewmodels import session_manager as vm

DESCRIPTION = SessionManagerDescription(type="session_manager", name="session_manager", session="sm",
                                        commands=("describe", "list_all_sessions"))
SESSIONS = [SessionInfo("np04", "daq", "np04-daq-config", "np04.data.xml"), SessionInfo("idle", "")]
CONFIGS = [ConfigurationInfo("local-1x1-config", "", "example.data.xml"), ConfigurationInfo("np04-daq-config", "2", "")]
UNKNOWN = SessionManagerNotUsable("h:50000", "describe", "UNKNOWN: takes 2 positional arguments but 3 were given")


def state(layout="0.11", description=DESCRIPTION, sessions=SESSIONS, configurations=CONFIGS, address="h:50000",
          forced=False):
    return vm.build_state(address, layout, forced, description, sessions, configurations, "12:00:00")


def test_an_answering_session_manager_is_usable_and_json_safe():
    s = state()
    assert s["status"] == "ok" and vm.usable(s) and json.loads(json.dumps(s)) == s
    assert vm.headline(s) == ("success", "answers", "session_manager at h:50000")
    assert vm.session_rows(s) == [
        {"name": "np04", "actor": "daq", "configuration": "np04-daq-config (np04.data.xml)"},
        {"name": "idle", "actor": "nobody", "configuration": "none"}]
    assert vm.configuration_rows(s)[1] == {"name": "np04-daq-config", "location": "—", "kind": "OKS v2"}
    assert [o["value"] for o in vm.start_options(s)] == ["local-1x1-config", "np04-daq-config"]
    assert vm.stop_options(s)[0] == {"label": "np04 · daq", "value": "np04"}


def test_the_0_8_layout_does_not_report_a_sessions_configuration():
    s = state(layout="0.8", sessions=[SessionInfo("np04", "daq")])
    assert vm.session_rows(s)[0]["configuration"] == "not reported (druncschema 0.8)"


def test_layout_texts():
    assert vm.layout_text("0.8") == "druncschema 0.8 (drunc 0.10.x)"
    assert vm.layout_text("0.11", forced=True) == "druncschema 0.11 (drunc 0.13.2 / 0.14.0) · forced by DRUNC_SCHEMA"
    assert vm.layout_text("") == "druncschema layout unknown"


def test_drunc_0_13_is_not_usable_but_lists_configurations_when_they_answer():
    s = state(description=UNKNOWN, sessions=UNKNOWN)
    assert s["status"] == "not_usable" and not vm.usable(s)
    colour, badge, why = vm.headline(s)
    assert badge == "session manager not usable (drunc 0.13.x)" and "gRPC UNKNOWN" in why
    assert [r["name"] for r in vm.configuration_rows(s)] == ["local-1x1-config", "np04-daq-config"]
    assert vm.session_rows(s) is None and vm.stop_options(s) == []
    # 0.13.2 itself: list_all_configs is unimplemented too
    bare = state(description=UNKNOWN, sessions=UNKNOWN, configurations=UNKNOWN)
    assert vm.configuration_rows(bare) is None and "not implemented" in vm.configurations_note(bare)


def test_none_configured_and_nothing_answering():
    none = state(address="")
    assert none["status"] == "none" and "drunc 0.10.x ships none" in vm.headline(none)[2]
    down = vm.build_state("h:50000", BackendUnavailable("h:50000", "connection refused"), False, None, None, None,
                          "12:00:00")
    assert down["status"] == "unreachable" and "Nothing answers at h:50000" in vm.headline(down)[2]
    refused = state(description=DruncFlagError("sm", "describe", "FAILED", "boom"))
    assert refused["status"] == "error" and vm.headline(refused)[0] == "danger"


@pytest.mark.parametrize("name, config, message", [
    ("", "local-1x1-config", "Give the new session a name"),
    ("bad name", "local-1x1-config", "A session name is letters"),
    ("-x", "local-1x1-config", "A session name is letters"),
    ("np04", "local-1x1-config", "already runs a session named np04"),
    ("new", None, "Choose one of the session manager's configurations"),
    ("new", "other", "other is not one of the session manager's configurations"),
])
def test_a_start_is_checked_before_anything_is_sent(name, config, message):
    with pytest.raises(vm.InputError, match=message):
        vm.check_start(state(), name, config)


def test_a_valid_start_and_stop_list_what_they_act_on():
    s = state()
    name, entry = vm.check_start(s, "  run-2 ", "local-1x1-config")
    assert name == "run-2"
    lines = vm.start_lines(s, name, entry, "alice")
    assert lines[:3] == ["Session: run-2", "Configuration: local-1x1-config (example.data.xml)",
                         "Actor: alice (the session manager records who started it)"]
    assert "druncschema 0.11" in lines[3]
    session = vm.check_stop(s, "np04")
    assert vm.stop_lines(s, session)[:3] == ["Session: np04", "Actor: daq", "Configuration: np04-daq-config"]
    with pytest.raises(vm.InputError, match="not one of the session manager's sessions"):
        vm.check_stop(s, "gone")


def test_nothing_is_started_or_stopped_on_an_unusable_session_manager():
    s = state(description=UNKNOWN, sessions=UNKNOWN)
    with pytest.raises(vm.InputError, match="does not answer as it should"):
        vm.check_start(s, "new", "local-1x1-config")
    with pytest.raises(vm.InputError, match="does not answer as it should"):
        vm.check_stop(s, "np04")
    with pytest.raises(vm.InputError):
        vm.check_stop(None, "np04")
