"""drunc client figures against the simulator running as its own process (real gRPC over loopback).

- ps round trip (all processes) at 10 / 1,000 / 10,000 virtual processes, with the response size;
- the time to walk a controller tree of 10 segments x 10 applications (get_status + get_children_status at
  every controller);
- the simulator's resident memory at each size.
Run: .venv/bin/python benchmarks/bench_drunc_client.py
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drunc_client.controller import ControllerClient  # noqa: E402
from drunc_client.process_manager import ProcessManagerClient  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str]) -> tuple[subprocess.Popen, dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "simulator", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 60
    for line in proc.stdout:
        if line.startswith("READY "):
            return proc, dict(part.split("=", 1) for part in line.split()[1:])
        if time.time() > deadline:
            break
    proc.kill()
    raise RuntimeError("simulator did not start")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    user = os.environ.get("USER", "bench")
    for n in (10, 1_000, 10_000):
        ports = [str(free_port()) for _ in range(3)]
        proc, addresses = start(["--virtual", "--processes", str(n), "--pm-port", ports[0], "--controller-port",
                                 ports[1], "--session-manager-port", ports[2], "--tree", "1x1"])
        try:
            client = ProcessManagerClient(addresses["process_manager"], user, timeout=30)
            rows = client.ps()
            assert len(rows) == n, (len(rows), n)
            ms = median_ms(client.ps, 20 if n <= 1000 else 7)
            print(f"ps round trip, {n:>6,} processes: {ms:8.1f} ms median  (simulator RSS {rss_mib(proc.pid):.0f} MiB)")
        finally:
            proc.terminate()
            proc.wait(10)

    ports = [free_port(), free_port()]
    proc, addresses = start(["--tree", "10x10", "--pm-port", str(ports[0]), "--controller-port", "0",
                             "--session-manager-port", str(ports[1])])
    try:
        # child controller addresses come from the simulator's READY line (a connectivity service's job in a
        # real deployment)
        children = dict(item.split("@", 1) for item in addresses["controllers"].split(","))
        root = ControllerClient(addresses["controller"], user, timeout=30, child_addresses=children)
        tree = root.tree()
        count = _count(tree)
        ms = median_ms(root.tree, 10)
        print(f"tree walk, 10 segments x 10 apps ({count} nodes): {ms:.1f} ms median")
    finally:
        proc.terminate()
        proc.wait(10)


def _count(node) -> int:
    return 1 + sum(_count(c) for c in node.children)


if __name__ == "__main__":
    main()
