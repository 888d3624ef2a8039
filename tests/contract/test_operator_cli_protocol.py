"""`python -m drunc_client`'s protocol commands against an in-process simulator, with the controllers found
through its connectivity service by session name (no controller address given): describe, terminate,
sequence, who, take-control, surrender, include, exclude, and one-line errors."""

from __future__ import annotations

import pytest

from drunc_client.__main__ import main
from simulator.run import SimulatorConfig, start_simulator

SESSION = "cli-session"


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    simulator = start_simulator(SimulatorConfig(processes=2, segments=2, apps=1, session=SESSION,
                                                connectivity_port=0, log_dir=tmp_path_factory.mktemp("cli-logs")))
    yield simulator
    simulator.stop(0)


@pytest.fixture(autouse=True)
def no_environment(monkeypatch):
    for name in ("CONTROLLER_URL", "CONTROLLER_ADDRESSES", "CSC_URL", "CSC_SESSION"):
        monkeypatch.delenv(name, raising=False)


def run(sim, capsys, *args, session: str = SESSION):
    code = main(["--pm", sim.addresses["process_manager"], "--sm", sim.addresses["session_manager"],
                 "--csc", sim.addresses["connectivity"], "--session", session, "--user", "cli-test", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(code: int, err: str, message: str) -> None:
    assert code == 2, err
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_describe_each_service(sim, capsys):
    code, out, _ = run(sim, capsys, "describe")
    assert code == 0
    assert f"process manager  {sim.addresses['process_manager']}" in out
    assert f"session manager  {sim.addresses['session_manager']}" in out
    assert f"controller       {sim.addresses['controller']}" in out
    assert "segment-controller-1-app-0" in out and f"session {SESSION}" in out
    assert f"{SESSION}: 3 controller(s)" in out
    for service, expected in (("pm", "commands: describe"), ("sm", "list_session"),
                              ("controller", "root-controller"), ("connectivity", "segment-controller-1")):
        code, out, _ = run(sim, capsys, "describe", service)
        assert code == 0 and expected in out


def test_describe_all_names_a_service_that_is_down(sim, capsys):
    code, out, _ = run(sim, capsys, "--sm", "127.0.0.1:1", "describe")
    assert code == 1
    assert "sm: down: 127.0.0.1:1 unreachable" in out and "process manager" in out


def test_control_include_exclude_and_a_sequence(sim, capsys):
    code, out, _ = run(sim, capsys, "who")
    assert code == 0 and out.strip() == "controller_init_token"
    code, out, _ = run(sim, capsys, "take-control")
    assert code == 0 and "segment-controller-1-app-0: EXECUTED_SUCCESSFULLY" in out
    code, out, _ = run(sim, capsys, "who", "--node", "segment-controller-1")
    assert code == 0 and out.strip() == "cli-test"

    code, out, _ = run(sim, capsys, "exclude", "--node", "segment-controller-1")
    assert code == 0 and "segment-controller-1: EXECUTED_SUCCESSFULLY" in out
    code, out, _ = run(sim, capsys, "status")
    line = next(x for x in out.splitlines() if x.split()[0] == "segment-controller-1")
    assert "excluded" in line
    code, _, err = run(sim, capsys, "exclude", "--node", "segment-controller-1")
    one_line_error(code, err, "exclude refused")
    code, out, _ = run(sim, capsys, "include", "--node", "segment-controller-1")
    assert code == 0 and "included" in out

    code, out, _ = run(sim, capsys, "sequence", "start_run", "run_number=42", "run_type=TEST")
    assert code == 0 and out.splitlines() == ["conf: ok", "start: ok", "enable_triggers: ok"]
    code, out, _ = run(sim, capsys, "status")
    assert out.splitlines()[0].split()[-1] == "running"
    code, out, _ = run(sim, capsys, "sequence", "shutdown")
    assert code == 0 and out.splitlines()[-1] == "scrap: ok"

    code, out, _ = run(sim, capsys, "surrender")
    assert code == 0 and "surrendered control" in out
    code, out, _ = run(sim, capsys, "who")
    assert out.strip() == "(nobody)"
    code, _, err = run(sim, capsys, "surrender")
    one_line_error(code, err, "NOT_EXECUTED_NOT_IN_CONTROL")


@pytest.mark.parametrize("schema", ["0.8", "0.11"])
def test_terminate_needs_its_confirmation_flag(tmp_path, capsys, schema):
    """On both layouts (0.11: terminate without payload, the layout detected by one describe)."""
    sim = start_simulator(SimulatorConfig(processes=2, segments=1, apps=1, session=SESSION, connectivity_port=0,
                                          log_dir=tmp_path / "logs", schema=schema))
    try:
        code, out, _ = run(sim, capsys, "describe")
        assert code == 0 and out.count(f"schema {schema}") == 3  # process manager, controller, session manager
        if schema == "0.11":
            assert f"  log: {tmp_path / 'logs' / 'process_manager.log'}" in out
        code, _, err = run(sim, capsys, "terminate")
        one_line_error(code, err, "add --yes to confirm")
        code, out, _ = run(sim, capsys, "ps")
        assert out.count("RUNNING") == 2
        code, out, _ = run(sim, capsys, "terminate", "--yes")
        assert code == 0 and out.count("DEAD") == 2
        code, out, _ = run(sim, capsys, "ps")
        assert out.strip() == "(none)"
    finally:
        sim.stop(0)


@pytest.mark.parametrize(
    "args,message",
    [
        (["sequence", "start_run"], "run_number"),
        (["sequence", "start_run", "colour=red"], "unknown argument(s) colour"),
        (["who", "--node", "no-such-controller"], "no address for controller 'no-such-controller'"),
        (["--csc", "127.0.0.1:1", "status"], "connectivity service http://127.0.0.1:1 unreachable"),
        (["--csc", "", "status"], "--session needs the connectivity service"),
    ],
)
def test_errors_are_one_line(sim, capsys, args, message):
    code, _, err = run(sim, capsys, *args)
    one_line_error(code, err, message)


def test_a_session_that_is_not_registered(sim, capsys):
    code, _, err = run(sim, capsys, "status", session="not-booted")
    one_line_error(code, err, "session 'not-booted': root-controller is not registered in the connectivity service")
    code, out, _ = run(sim, capsys, "describe", "connectivity", session="not-booted")
    assert code == 0 and "root-controller is not registered" in out


def test_the_controller_option_still_overrides(sim, capsys):
    children = ",".join(f"{k}@{v}" for k, v in sim.controller_addresses.items())
    code = main(["--controller", sim.addresses["controller"], "--controllers", children, "--user", "u", "status"])
    out = capsys.readouterr().out
    assert code == 0 and "segment-controller-1-app-0" in out


def test_describe_shows_the_layout_of_each_server(sim, capsys):
    code, out, _ = run(sim, capsys, "describe")
    assert code == 0
    for service in ("process manager", "session manager", "controller      "):
        line = next(x for x in out.splitlines() if x.startswith(service))
        assert "  schema 0.8" in line, line


@pytest.mark.parametrize("value", ["0.9", "banana"])
def test_a_bad_schema_is_a_one_line_error(sim, capsys, monkeypatch, value):
    code, _, err = run(sim, capsys, "--schema", value, "describe", "pm")
    one_line_error(code, err, f"--schema (default $DRUNC_SCHEMA): unknown druncschema layout {value!r}")
    monkeypatch.setenv("DRUNC_SCHEMA", value)
    code, _, err = run(sim, capsys, "ps")
    one_line_error(code, err, "known: auto, 0.8, 0.11")


def test_a_forced_schema_comes_from_drunc_schema_and_is_checked_against_the_answer(sim, capsys, monkeypatch):
    monkeypatch.setenv("DRUNC_SCHEMA", "0.8")
    code, out, _ = run(sim, capsys, "describe", "pm")
    assert code == 0 and "schema 0.8" in out
    code, _, err = run(sim, capsys, "--schema", "0.11", "describe", "pm")  # the option wins over the variable
    one_line_error(code, err, "describe answered in the druncschema 0.8 layout, but 0.11 is forced")
