"""Sessions page and overview at scale: N sessions × M processes (default 50 × 200 = 10,000) in the shared caches.

The caches are filled directly (a fake poller-service heartbeat keeps the web side from polling anything), then
the Sessions table's and the overview's refresh callbacks are called through the real Flask app: the first
(full) answer, then unchanged ticks, whose server time and body size are printed. Then the process table changes
(one status) and --tabs tabs tick once each: the first computes the per-session summary of the new version, the
others read it. The polls per second do not depend on the tabs: a tick reads caches only (the poller counts stay
0 here; in production the poller service makes them at the refresh period).

    /work/main/.venv/bin/python benchmarks/bench_sessions.py [--sessions 50] [--processes 200] [--ticks 50]
                                                             [--tabs 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--processes", type=int, default=200, help="per session")
    parser.add_argument("--ticks", type=int, default=50)
    parser.add_argument("--tabs", type=int, default=20, help="tabs ticking after one change of the process table")
    args = parser.parse_args()

    from dash_calls import post, server_callbacks
    from support import csrf_token, login, make_services, make_settings

    from app import create_app
    from components import sessions_page as ui
    from pages import home

    tmp = Path(tempfile.mkdtemp(prefix="bench-sessions-"))
    settings = make_settings(tmp, process_manager_url="127.0.0.1:1", csc_url="http://127.0.0.1:1",
                             csc_session="s-0")
    services = make_services(settings)
    app = create_app(settings, services)
    feed, feeds = services.process_feed, services.controller_feeds

    def beat():
        feed._beat(time.time())
        feeds._beat(time.time())

    beat()
    names = [f"s-{i}" for i in range(args.sessions)]
    rows = {}
    for s in names:
        for j in range(args.processes):
            uuid = f"{s}-{j:05d}"
            rows[uuid] = {"uuid": uuid, "name": f"app-{j}", "user": "daq", "session": s, "host": f"h{j % 20}",
                          "status": "RUNNING" if j % 50 else "DEAD", "exit": None, "tree_id": f"1.{j}.1",
                          "executable": "sleep 600"}
    now = time.time()
    version = 1
    feed.cache.set(feed._key("rows"), (version, rows))
    feed._write_meta("bench", version, now, now, None, None, len(rows), {})
    for s in names:
        head = {"name": "root", "state": "running", "sub_state": "idle", "busy": False, "in_error": False,
                "in_charge": "alice"}
        feeds._write_meta(s, "e", 1, now, now, None, None, True, "127.0.0.1:2", "", {"nodes": 10}, head)

    client = app.server.test_client()
    login(client, "viewer")
    client.get("/")
    token = csrf_token(client)
    callbacks = server_callbacks(app)

    def find(input_id):
        return next((k, s) for k, s in callbacks.items() if any(i["id"] == input_id for i in s["inputs"]))

    for label, tick, shown, extra in (("sessions table", ui.TICK, ui.SHOWN, {f"{ui.PICK}.value": "s-1"}),
                                      ("overview", home.TICK, home.SHOWN, {})):
        key, spec = find(tick)
        beat()
        first = post(client, key, spec, token=token, values={f"{tick}.n_intervals": 1, **extra})
        signature = first.json["response"][shown]["data"]
        times, sizes = [], []
        for n in range(args.ticks):
            if n % 10 == 0:
                beat()
            started = time.perf_counter()
            r = post(client, key, spec, token=token, values={f"{tick}.n_intervals": n + 2, f"{shown}.data": signature,
                                                             **extra})
            times.append((time.perf_counter() - started) * 1000)
            sizes.append(len(r.get_data()))
        print(f"{label}: {args.sessions} sessions × {args.processes} processes; first answer "
              f"{len(first.get_data()):,} B; unchanged tick median {statistics.median(times):.1f} ms, "
              f"p95 {sorted(times)[int(len(times) * 0.95) - 1]:.1f} ms, body {max(sizes)} B "
              f"(status {r.status_code})")
        version += 1
        changed = rows[f"{names[0]}-00001"]
        changed["status"] = "DEAD" if changed["status"] == "RUNNING" else "RUNNING"
        feed.cache.set(feed._key("rows"), (version, rows))
        feed._write_meta("bench", version, time.time(), time.time(), None, None, len(rows), {})
        beat()
        tabs = []
        for n in range(args.tabs):
            started = time.perf_counter()
            post(client, key, spec, token=token, values={f"{tick}.n_intervals": n + 2, f"{shown}.data": signature,
                                                         **extra})
            tabs.append((time.perf_counter() - started) * 1000)
        rest = f", the other {len(tabs) - 1} tabs median {statistics.median(tabs[1:]):.1f} ms" if len(tabs) > 1 \
            else ""
        print(f"{label}: after one process-table change, the first tab {tabs[0]:.1f} ms (computes the per-session "
              f"summary of the new version){rest} (full answers)")
    print(f"drunc polls made by the web side: ps {feed.polls}, tree sweeps {feeds.sweeps}")
    services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
