"""Process table figures: server time and bytes per refresh, the shared poller's cost, ps calls with 20 tabs.

For 100 / 1,000 / 10,000 virtual processes (`python -m simulator --virtual` in its own process, over real
gRPC), the refresh callback is called through the Flask test client as a browser tab does, once a second: a
first full load, then ticks on an unchanged table (no churn), then ticks while about 1% of the processes change
state every second (`--churn 0.01`). The shared poller runs in the app process meanwhile, as it does in one
gunicorn worker. Then 1 and 20 tabs (logged-in clients in threads) tick once a second and the ps calls are
counted.

Run: .venv/bin/python benchmarks/bench_process_table.py [--sizes 100,1000,10000] [--tabs 20] [--seconds 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from dash_calls import body_for, server_callbacks  # noqa: E402
from support import csrf_token, login, make_services, make_settings  # noqa: E402

import demo  # noqa: E402
from app import create_app  # noqa: E402
from components import process_table as ids  # noqa: E402


class Tab:
    """One browser tab: a logged-in client and the table version it shows."""

    def __init__(self, app):
        self.key, self.spec = next((k, s) for k, s in server_callbacks(app).items()
                                   if any(i["id"] == ids.TICK for i in s["inputs"]))
        self.client = app.server.test_client()
        login(self.client, "viewer")
        self.client.get("/")
        self.headers = {"X-CSRFToken": csrf_token(self.client)}
        self.shown = None

    def tick(self) -> tuple[float, int, bool]:
        """(server ms, response bytes, whether rows changed)."""
        body = body_for(self.key, self.spec, values={f"{ids.TICK}.n_intervals": 1, f"{ids.VERSION}.data": self.shown,
                                                     f"{ids.REFRESH}.value": "1"},
                        triggered=f"{ids.TICK}.n_intervals")
        start = time.perf_counter()
        response = self.client.post("/_dash-update-component", json=body, headers=self.headers)
        elapsed = (time.perf_counter() - start) * 1000
        data = response.get_data()
        shown = response.json["response"].get(ids.VERSION, {}).get("data") if response.status_code == 200 else None
        if shown:
            self.shown = shown
        return elapsed, len(data), bool(shown)


def app_for(size: int, churn: float):
    proc, addresses = demo.start_simulator(["--virtual", "--processes", str(size), "--churn", str(churn),
                                            "--seed", "1", "--kafka", "none"])
    settings = make_settings(Path(tempfile.mkdtemp()), process_manager_url=addresses["process_manager"])
    services = make_services(settings)
    return proc, services, create_app(settings, services)


def every_second(tab: Tab, seconds: float) -> list[tuple[float, int, bool]]:
    out = []
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        started = time.monotonic()
        out.append(tab.tick())
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    return out


def fmt(samples, what: str) -> str:
    if not samples:
        return f"{what}: no samples"
    times = sorted(t for t, _, _ in samples)
    p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
    size = statistics.median(b for _, b, _ in samples)
    size_text = f"{size:.0f} B" if size < 2048 else f"{size / 1024:.1f} KiB"
    return f"{what}: median {statistics.median(times):.2f} ms (p90 {p90:.2f}), {size_text}"


def measure(size: int, seconds: float) -> None:
    proc, services, app = app_for(size, 0.0)
    try:
        feed = services.process_feed
        start = time.perf_counter()
        feed.refresh_now()
        first = (time.perf_counter() - start) * 1000
        tab = Tab(app)
        full_ms, full_bytes, _ = tab.tick()
        unchanged = every_second(tab, seconds)
        polls = statistics.median(feed.poll_seconds) * 1000
        print(f"{size:>6} processes | first poll {first:6.0f} ms | full load {full_ms:6.1f} ms, "
              f"{full_bytes / 1024:.0f} KiB | poll, unchanged {polls:5.0f} ms")
        print(f"{'':>6}           | {fmt(unchanged, 'unchanged refresh')}")
        services.close()
    finally:
        demo.stop(proc)
    proc, services, app = app_for(size, 0.01)
    try:
        tab = Tab(app)
        tab.tick()
        samples = every_second(tab, seconds)
        changed = [s for s in samples if s[2]]
        polls = statistics.median(services.process_feed.poll_seconds) * 1000
        print(f"{'':>6}           | {fmt(changed, '~1% changed per second')} | poll with changes {polls:5.0f} ms")
        services.close()
    finally:
        demo.stop(proc)


def tabs_figure(n_tabs: int, seconds: float, size: int = 1000) -> None:
    proc, services, app = app_for(size, 0.0)
    try:
        for tabs in (1, n_tabs):
            clients = [Tab(app) for _ in range(tabs)]  # log in first: scrypt takes a while
            services.process_feed.polls = 0
            results: list = []

            def run(tab: Tab, out: list = results) -> None:
                out.extend(every_second(tab, seconds))

            threads = [threading.Thread(target=run, args=(c,)) for c in clients]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            polls = services.process_feed.polls
            print(f"{tabs:>3} tabs ticking every second for {seconds:.0f} s ({size} processes): {polls} ps calls = "
                  f"{polls / seconds:.2f}/s; {len(results)} refreshes, "
                  f"median {statistics.median(t for t, _, _ in results):.2f} ms")
        services.close()
    finally:
        demo.stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--tabs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        measure(size, args.seconds)
    tabs_figure(args.tabs, args.seconds)


if __name__ == "__main__":
    main()
