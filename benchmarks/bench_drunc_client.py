"""drunc client figures against the simulator running as its own process (real gRPC over loopback).

- ps round trip (all processes) at 10 / 1,000 / 10,000 virtual processes, with the response size;
- the time to walk a controller tree of 10 segments x 10 applications (get_status + get_children_status at
  every controller);
- the simulator's resident memory at each size.
Run: .venv/bin/python benchmarks/bench_drunc_client.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import demo  # noqa: E402  (starts `python -m simulator` on free ports and reads its READY line)
from drunc_client.controller import ControllerClient  # noqa: E402
from drunc_client.process_manager import ProcessManagerClient  # noqa: E402


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
        # later flags override the demo's defaults
        proc, addresses = demo.start_simulator(["--virtual", "--processes", str(n), "--tree", "1x1"])
        try:
            client = ProcessManagerClient(addresses["process_manager"], user, timeout=30)
            rows = client.ps()
            assert len(rows) == n, (len(rows), n)
            ms = median_ms(client.ps, 20 if n <= 1000 else 7)
            print(f"ps round trip, {n:>6,} processes: {ms:8.1f} ms median  (simulator RSS {rss_mib(proc.pid):.0f} MiB)")
        finally:
            demo.stop(proc)

    proc, addresses = demo.start_simulator(["--processes", "0", "--tree", "10x10"])
    try:
        # child controller addresses come from the simulator's READY line (a connectivity service's job in a
        # real deployment)
        children = demo.controller_children(addresses)
        root = ControllerClient(addresses["controller"], user, timeout=30, child_addresses=children)
        tree = root.tree()
        count = _count(tree)
        ms = median_ms(root.tree, 10)
        print(f"tree walk, 10 segments x 10 apps ({count} nodes): {ms:.1f} ms median")
    finally:
        demo.stop(proc)


def _count(node) -> int:
    return 1 + sum(_count(c) for c in node.children)


if __name__ == "__main__":
    main()
