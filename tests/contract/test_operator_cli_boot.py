"""`python -m drunc_client boot` never sends an empty log path (drunc has no default: the process would die, exit 2)
and runs the process as the configured DAQ account, against an in-process simulator."""

from __future__ import annotations

import re
import time

import pytest

from drunc_client.__main__ import main
from drunc_client.process_manager import ProcessManagerClient
from simulator.run import SimulatorConfig, start_simulator


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    simulator = start_simulator(SimulatorConfig(processes=0, log_dir=tmp_path_factory.mktemp("cli-boot-logs")))
    yield simulator
    simulator.stop(0)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for variable in ("BOOT_LOG_DIR", "BOOT_LOG_PATTERN", "BOOT_DEFAULT_USER"):
        monkeypatch.delenv(variable, raising=False)


def boot(sim, capsys, *args):
    code = main(["--pm", sim.addresses["process_manager"], "--user", "cli-web-user", "boot", "--session", "cli",
                 *args, "--", "sleep", "30"])
    out = capsys.readouterr()
    return code, out.out, out.err


def booted(sim, name: str):
    [process] = [p for p in ProcessManagerClient(sim.addresses["process_manager"], "t").ps() if p.name == name]
    return process


def test_without_log_the_path_is_derived_from_the_settings_and_the_process_lives(sim, capsys, tmp_path,
                                                                                monkeypatch):
    monkeypatch.setenv("BOOT_LOG_DIR", str(tmp_path))
    monkeypatch.setenv("BOOT_DEFAULT_USER", "np04daq")
    code, out, err = boot(sim, capsys, "--name", "cli-derived")
    assert code == 0, err
    process = booted(sim, "cli-derived")
    assert process.user == "np04daq"
    assert re.fullmatch(re.escape(str(tmp_path)) + r"/log_np04daq_cli_cli-derived_\d{8}T\d{6}Z\.log",
                        process.log_path)
    time.sleep(0.3)
    assert booted(sim, "cli-derived").status == "RUNNING"  # with an empty path it would be DEAD, exit 2


def test_the_pattern_and_the_process_user_options(sim, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("BOOT_LOG_DIR", str(tmp_path))
    monkeypatch.setenv("BOOT_LOG_PATTERN", "{dir}/{session}/{name}.log")
    monkeypatch.setenv("BOOT_DEFAULT_USER", "np04daq")
    code, _, err = boot(sim, capsys, "--name", "cli-pattern", "--process-user", "other")
    assert code == 0, err
    process = booted(sim, "cli-pattern")
    assert (process.user, process.log_path) == ("other", str(tmp_path / "cli" / "cli-pattern.log"))


def test_without_a_default_user_the_process_runs_as_the_cli_user(sim, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("BOOT_LOG_DIR", str(tmp_path))
    code, _, err = boot(sim, capsys, "--name", "cli-own-user")
    assert code == 0, err
    assert booted(sim, "cli-own-user").user == "cli-web-user"


@pytest.mark.parametrize(("env", "args", "message"), [
    ({}, ["--log", ""], "log_path must not be empty: drunc has no default"),
    ({}, ["--log", "/tmp/a b.log"], "must not contain spaces"),
    ({"BOOT_LOG_PATTERN": "{dir}/{who}.log"}, [], "BOOT_LOG_PATTERN has an unknown placeholder {who}"),
    ({"BOOT_LOG_DIR": "relative"}, [], "BOOT_LOG_DIR must be an absolute path"),
])
def test_no_empty_or_unusable_log_path_is_sent(sim, capsys, monkeypatch, env, args, message):
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    code, _, err = boot(sim, capsys, "--name", "cli-refused", *args)
    assert code == 2
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "cli-refused" not in {p.name for p in ProcessManagerClient(sim.addresses["process_manager"], "t").ps()}
