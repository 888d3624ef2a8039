"""Background job figures: how long a transition's job takes to start, and how many jobs fail, in a web worker
that is busy with gRPC (as a gunicorn worker is: pollers and other requests call drunc all the time).

The drunc simulator runs in this process (its gRPC servers' threads), and `--pollers` threads sweep the controller
tree over gRPC without pause, so every job starts while other threads are inside gRPC calls. Jobs are the FSM
panel's Run button (the background callback run_command) through the Flask test client, as the renderer posts it,
alternating conf and scrap, each polled to its answer every 50 ms as the renderer does.

    first job      the first job of the app (with the job runner, it includes starting the runner)
    request        the POST that starts a job, until its answer (the job handle)
    job start      from the POST to the job's first line of work (its "attempted" audit row, written by the job)
    result         from the POST to the polled answer
    failed         jobs whose audit outcome is not "ok", or that did not answer within --timeout (before the job
                   runner, jobs forked from this busy process failed with "Stream removed" or hung)

Run: .venv/bin/python benchmarks/bench_jobs.py [--jobs 40] [--pollers 2]       (smoke: --jobs 6 --pollers 1)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from dash_calls import _job_handle, body_for, poll_job, server_callbacks  # noqa: E402
from support import csrf_token, login, make_services, make_settings  # noqa: E402

from app import create_app  # noqa: E402
from components import controller_ids as ids  # noqa: E402
from components import fsm_panel as ui  # noqa: E402
from simulator.run import SimulatorConfig, start_simulator  # noqa: E402

COMMANDS = (("conf", False), ("scrap", True))


def run_job(app, client, headers, key, spec, name, disruptive, services, timeout):
    pending = {"name": name, "fields": [], "disruptive": disruptive, "session": ""}
    body = body_for(key, spec, {f"{ui.RUN}.n_clicks": 1, f"{ui.PENDING}.data": pending,
                                f"{ui.CONFIRM}.value": True, f"{ids.SESSION}.data": ""})
    before = services.audit.query(action="controller", limit=1)
    last_id = before[0].id if before else 0
    posted = datetime.now(UTC)
    start = time.perf_counter()
    response = client.post("/_dash-update-component", json=body, headers=headers)
    request_ms = (time.perf_counter() - start) * 1000
    handle = _job_handle(response)
    if handle is None:
        return request_ms, None, None, f"no job handle: {response.status_code}"
    try:
        answer = poll_job(client, body, headers, handle, timeout)
    except AssertionError:  # a job that hangs (forked with another thread's lock held) holds the root's lock
        app._background_manager.terminate_job(handle["job"].split("~")[0])
        for held in services.controller_locks.active():
            services.controller_locks.release(held)
        return request_ms, None, None, f"no answer in {timeout:g} s (killed, lock released)"
    result_ms = (time.perf_counter() - start) * 1000
    events = [e for e in services.audit.query(action="controller", limit=1) if e.id > last_id]
    if not events:
        return request_ms, None, result_ms, "no audit event: the job died before its first line of work"
    event = events[0]
    started_ms = (event.time.replace(tzinfo=UTC) - posted).total_seconds() * 1000
    toasts = json.dumps((answer.json or {}).get("sideUpdate", {}).get("toasts", ""))
    error = None if event.outcome == "ok" else f"{event.outcome}: {event.detail or toasts}"[:160]
    return request_ms, started_ms, result_ms, error


def figures(name: str, values: list[float]) -> str:
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
    return (f"  {name:<10} median {statistics.median(values):7.1f} ms   p90 {p90:7.1f} ms   "
            f"max {values[-1]:7.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40, help="jobs to run (default 40)")
    parser.add_argument("--pollers", type=int, default=2, help="threads sweeping the tree over gRPC (default 2)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds a job may take (default 20)")
    args = parser.parse_args()
    if args.jobs < 2 or args.pollers < 0:
        parser.error("--jobs must be at least 2 and --pollers at least 0")

    with tempfile.TemporaryDirectory() as tmp:
        sim = start_simulator(SimulatorConfig(processes=0, segments=2, apps=2, log_dir=Path(tmp) / "sim-logs"))
        settings = make_settings(Path(tmp), process_manager_url=sim.addresses["process_manager"],
                                 controller_url=sim.addresses["controller"],
                                 session_manager_url=sim.addresses["session_manager"],
                                 controller_addresses=tuple(sim.controller_addresses.items()))
        services = make_services(settings)
        stop = threading.Event()
        try:
            app = create_app(settings, services)
            services.drunc.controller("shifter").take_control()
            services.controller_feeds.refresh_now()
            client = app.server.test_client()
            login(client, "shifter")
            client.get("/")
            headers = {"X-CSRFToken": csrf_token(client)}
            key, spec = next((k, s) for k, s in server_callbacks(app).items()
                             if s["callback"].__name__ == "run_command")

            def sweep():
                while not stop.is_set():
                    services.controller_feeds.poll_once(services.controller_feeds.default_session, force=True)

            pollers = [threading.Thread(target=sweep, daemon=True) for _ in range(args.pollers)]
            for thread in pollers:
                thread.start()
            rows = []
            for i in range(args.jobs):
                name, disruptive = COMMANDS[i % 2]
                rows.append(run_job(app, client, headers, key, spec, name, disruptive, services, args.timeout))
        finally:
            stop.set()
            services.close()
            sim.stop(0)

    first, rest = rows[0], rows[1:]
    failed = [r[3] for r in rows if r[3]]
    print(f"{args.jobs} jobs, {args.pollers} poller threads calling gRPC meanwhile")
    print(f"  first job  request {first[0]:.1f} ms, job start {first[1] or float('nan'):.1f} ms, "
          f"result {first[2] or float('nan'):.1f} ms")
    print(f"the other {len(rest)}:")
    print(figures("request", [r[0] for r in rest]))
    print(figures("job start", [r[1] for r in rest if r[1] is not None]))
    print(figures("result", [r[2] for r in rest if r[2] is not None]))
    print(f"  failed     {len(failed)} of {args.jobs}")
    for error in failed[:5]:
        print(f"    {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
