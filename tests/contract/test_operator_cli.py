"""`python -m drunc_client` against an in-process simulator: readable tables, one-line errors."""

from __future__ import annotations

import pytest

from drunc_client.__main__ import main
from simulator.run import SimulatorConfig, start_simulator


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    simulator = start_simulator(SimulatorConfig(processes=2, log_dir=tmp_path_factory.mktemp("cli-logs")))
    yield simulator
    simulator.stop(0)


def run(sim, capsys, *args):
    controllers = ",".join(f"{k}@{v}" for k, v in sim.controller_addresses.items())
    code = main(["--pm", sim.addresses["process_manager"], "--controller", sim.addresses["controller"],
                 "--controllers", controllers, "--user", "cli-test", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ps_prints_a_table(sim, capsys):
    code, out, _ = run(sim, capsys, "ps")
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["UUID", "NAME", "USER"]
    assert "segment-controller-0-app-0" in out and "RUNNING" in out


def test_boot_logs_kill(sim, capsys, tmp_path):
    code, out, _ = run(sim, capsys, "boot", "--name", "cli-echo", "--session", "cli", "--log",
                       str(tmp_path / "e.log"), "--", "bash", "-c", "'echo hello-cli; sleep 30'")
    assert code == 0, out
    uuid = out.splitlines()[1].split()[0]
    import time

    for _ in range(50):
        if (tmp_path / "e.log").exists() and "hello-cli" in (tmp_path / "e.log").read_text():
            break
        time.sleep(0.1)
    code, out, _ = run(sim, capsys, "logs", uuid, "--lines", "5")
    assert code == 0 and "hello-cli" in out
    code, out, _ = run(sim, capsys, "kill", uuid)
    assert code == 0 and "DEAD" in out


def test_status_walks_the_whole_tree(sim, capsys):
    code, out, _ = run(sim, capsys, "status")
    assert code == 0
    assert "root-controller" in out and "segment-controller-1-app-1" in out and "(idle)" not in out


def test_fsm_lists_and_runs_transitions(sim, capsys):
    code, out, _ = run(sim, capsys, "fsm")
    assert code == 0 and out.strip() == "conf()"
    code, out, _ = run(sim, capsys, "fsm", "--take-control", "conf")
    assert code == 0 and "root-controller: FSM_EXECUTED_SUCCESSFULLY" in out
    code, _, err = run(sim, capsys, "fsm", "start")
    assert code == 2 and err.startswith("error: ") and "run_number" in err
    code, out, _ = run(sim, capsys, "fsm", "start", "run_number=7", "run_type=TEST")
    assert code == 0


@pytest.mark.parametrize(
    "args,message",
    [
        (["--pm", "127.0.0.1:1", "ps"], "127.0.0.1:1 unreachable"),
        (["kill"], "needs at least one uuid"),
        (["logs", "no-such-uuid"], "logs refused"),
        (["boot", "--name", "x", "--session", "s"], "boot needs the command"),
        (["--controllers", "bad", "status"], "name@host:port"),
    ],
)
def test_errors_are_one_line(sim, capsys, args, message):
    code, _, err = run(sim, capsys, *args)
    assert code == 2
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
