"""`python -m drunc_client` on the drunc behaviours of issue 11 (points 3 and 6), against a fresh simulated
controller tree per test over real gRPC: the exit code follows the node's real outcome, and an unreachable child
prints as "unreachable", not "excluded"."""

from __future__ import annotations

import pytest

from drunc_client.__main__ import main
from drunc_client.controller import ControllerClient
from simulator.controller import build_tree, serve_tree, stop_tree

USER = "cli-fidelity"


@pytest.fixture
def tree():
    root = build_tree(2, 1, session="cli-fidelity")
    servers, addresses = serve_tree(root)
    yield root, addresses
    stop_tree(root, servers)


def run(addresses, capsys, *args):
    controllers = ",".join(f"{k}@{v}" for k, v in addresses.items())
    code = main(["--pm", "127.0.0.1:1", "--controller", addresses["root-controller"], "--controllers", controllers,
                 "--user", USER, "--timeout", "2", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def lines_of(out: str) -> dict[str, str]:
    return {line.split()[0]: line for line in out.splitlines() if line.strip()}


def test_transition_over_an_excluded_child_exits_non_zero(tree, capsys):
    _, addresses = tree
    segment = ControllerClient(addresses["segment-controller-0"], USER)
    segment.take_control()
    segment.exclude()
    code, out, _ = run(addresses, capsys, "fsm", "--take-control", "conf")
    assert code == 1, out
    assert "root-controller: FSM_EXECUTED_SUCCESSFULLY" in out
    assert "segment-controller-0: FSM_NOT_EXECUTED_EXCLUDED" in out
    assert "FAILED: segment-controller-0: FSM_NOT_EXECUTED_EXCLUDED; root-controller is in error" in out
    code, out, _ = run(addresses, capsys, "status")
    assert code == 0 and "IN ERROR" in lines_of(out)["root-controller"]
    # The root in error refuses the next transition: a one-line error, exit 2.
    code, _, err = run(addresses, capsys, "fsm", "scrap")
    assert code == 2 and "DRUNC_EXCEPTION_THROWN" in err and "is in error" in err
    assert len(err.strip().splitlines()) == 1


def test_successful_transition_exits_zero(tree, capsys):
    _, addresses = tree
    code, out, _ = run(addresses, capsys, "fsm", "--take-control", "conf")
    assert code == 0 and "FAILED" not in out


def test_status_shows_an_unreachable_child_as_unreachable(tree, capsys):
    root, addresses = tree
    segment = ControllerClient(addresses["segment-controller-0"], USER)
    segment.take_control()
    segment.exclude()
    root.make_unreachable("segment-controller-1")
    code, out, _ = run(addresses, capsys, "status")
    assert code == 0, out
    lines = lines_of(out)
    assert "unreachable" in lines["segment-controller-1"] and "excluded" not in lines["segment-controller-1"]
    assert "excluded" in lines["segment-controller-0"] and "unreachable" not in lines["segment-controller-0"]
