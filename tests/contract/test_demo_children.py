"""`python app.py` leaves nothing behind: the broker, simulator (and what it booted), consumer and poller service
all end with the demo, whether it is stopped by SIGTERM to its process group or killed by SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_VARS = ("PROCESS_MANAGER_URL", "CONTROLLER_URL", "SESSION_MANAGER_URL", "KAFKA_ADDRESS", "DATABASE_URL",
             "SECRET_KEY")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def alive(procs: list[psutil.Process]) -> list[str]:
    """The processes still running (a zombie has ended: only its exit status waits for a reaper)."""
    left = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{proc.pid} {' '.join(proc.cmdline())[:80]}")
        except psutil.NoSuchProcess:
            pass
    return left


@pytest.fixture
def demo(tmp_path):
    """Start the demo in a session of its own; yield (process, its descendants once it serves)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in DEMO_VARS}
    env.update(DATA_DIR=str(tmp_path), LOG_LEVEL="WARNING")
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    descendants: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 25
        while True:
            assert proc.poll() is None, f"the demo exited with {proc.returncode}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the demo did not serve within 25 s"
            time.sleep(0.2)
        descendants = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in descendants)
        for child in ("-m simulator", "-m polling"):
            assert child in names, f"the demo did not start {child}: {names}"
        yield proc, descendants
    finally:
        for p in [*descendants, psutil.Process(proc.pid) if proc.poll() is None else None]:
            try:
                if p is not None:
                    p.kill()
            except psutil.NoSuchProcess:
                pass
        proc.wait(5)


def wait_until_gone(procs: list[psutil.Process], seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := alive(procs)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_sigterm_to_the_demo_stops_every_child(demo):
    proc, descendants = demo
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(15) == 0, "SIGTERM is a clean stop"
    assert wait_until_gone(descendants, 5) == []


def test_a_killed_demo_leaves_no_child_behind(demo):
    proc, descendants = demo
    proc.kill()  # the app process only: no atexit, no signal handler
    proc.wait(5)
    assert wait_until_gone(descendants, 8) == []
