"""Embedded back-ends for `python app.py` (demo mode): the drunc simulator as a child process.

The app never imports the simulator: it talks to it over gRPC like to a real drunc. The child is stopped
(and stops every process it booted) when the demo exits.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent
READY_TIMEOUT = 60.0


class DemoBackendError(RuntimeError):
    pass


def start_simulator(extra_args: list[str] | None = None) -> tuple[subprocess.Popen, dict[str, str]]:
    """Start `python -m simulator` on free ports; return the process and its addresses from the READY line."""
    args = [sys.executable, "-m", "simulator", "--kafka", "none", "--pm-port", "0", "--controller-port", "0",
            "--session-manager-port", "0", "--processes", "6", "--tree", "2x3", "--transition-seconds", "1.0",
            "--exit-with-parent", str(os.getpid()), *(extra_args or [])]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    found: dict[str, str] = {}
    lines: list[str] = []

    def read():
        for line in proc.stdout:
            if line.startswith("READY ") and not found:
                found.update(part.split("=", 1) for part in line.split()[1:])
                ready.set()
            elif not found:
                lines.append(line.rstrip())
        ready.set()

    ready = threading.Event()
    threading.Thread(target=read, daemon=True, name="simulator-output").start()
    ready.wait(READY_TIMEOUT)
    if not found:
        stop(proc)
        tail = "; ".join(lines[-3:]) or "no output"
        raise DemoBackendError(f"the drunc simulator did not start ({tail})")
    atexit.register(stop, proc)
    return proc, found


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def controller_children(addresses: dict[str, str]) -> dict[str, str]:
    text = addresses.get("controllers", "")
    return dict(item.split("@", 1) for item in text.split(",") if "@" in item)
