"""Many browser tabs on the Process Manager page against gunicorn as shipped: latency, bytes, resets, ps rhythm.

Starts the drunc simulator (`--virtual`, N processes, no churn... unless --churn), the poller service
(`python -m polling`, when the code has one) and `gunicorn app:server` with gunicorn.conf.py as it is (workers,
threads, keep-alive), on a free port with a temporary DATA_DIR, SQLite and SECRET_KEY, in demo mode (demo users).
Each tab is a thread with one keep-alive HTTP connection, as a browser has: it logs in through the form (CSRF
token), loads the page and the Dash dependencies, then posts the table's refresh callback once a second with
the version it was last given, with the X-CSRFToken header from the `_csrf_token` cookie. A reset is a
connection the server closed or reset under a request (ConnectionResetError, RemoteDisconnected, BrokenPipe):
the tab reconnects at its next tick. `ps` per second comes from the shared cache (each new `polled_at`).

Run: .venv/bin/python benchmarks/bench_load.py [--tabs 100] [--seconds 30] [--processes 10000]
     .venv/bin/python benchmarks/bench_load.py --code /path/to/other/checkout    (the "before" figures)
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import demo  # noqa: E402
from drunc_client.backends import DruncBackends  # noqa: E402
from polling.process_feed import ProcessFeed  # noqa: E402

TICK, VERSION, REFRESH = "pm-tick", "pm-version", "pm-refresh"
PAGE = "/process-manager"
RESETS = (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)


class Tab:
    """One browser tab: a keep-alive connection, its cookies, and the table version it shows."""

    def __init__(self, port: int, password: str):
        self.port = port
        self.password = password
        self.conn: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}
        self.shown = None
        self.samples: list[tuple[float, float, int]] = []  # (time, ms, wire bytes) of each refresh
        self.first: tuple[float, int] | None = None  # the first refresh (the whole table): ms, bytes
        self.resets: list[float] = []  # when
        self.errors: list[tuple[float, str]] = []  # when, what

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        head = {"Accept-Encoding": "gzip", **(headers or {})}
        if self.cookies:
            head["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body=body, headers=head)
            response = self.conn.getresponse()
            raw = response.read()
        except RESETS:
            self.conn.close()
            self.conn = None
            raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        data = gzip.decompress(raw) if response.getheader("Content-Encoding") == "gzip" else raw
        return response.status, data, len(raw)

    def open_page(self) -> None:
        _, page, _ = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1).decode()
        form = urlencode({"username": "viewer", "password": self.password, "csrf_token": token}).encode()
        status, _, _ = self.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise RuntimeError(f"login answered {status}")
        self.request("GET", PAGE)
        self.request("GET", "/_dash-layout")

    def refresh_body(self, spec: dict) -> bytes:
        values = {f"{TICK}.n_intervals": 1, f"{VERSION}.data": self.shown, f"{REFRESH}.value": "1"}
        key = spec["output"]
        outputs = [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True))
                   for part in key.strip(".").split("...")]
        return json.dumps({
            "output": key,
            "outputs": outputs if key.startswith("..") else outputs[0],
            "inputs": [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in spec["inputs"]],
            "state": [{**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in spec["state"]],
            "changedPropIds": [f"{TICK}.n_intervals"],
        }).encode()

    def refresh(self, spec: dict) -> None:
        headers = {"Content-Type": "application/json", "X-CSRFToken": self.cookies.get("_csrf_token", "")}
        started = time.perf_counter()
        try:
            status, data, wire = self.request("POST", "/_dash-update-component", self.refresh_body(spec), headers)
        except RESETS:
            self.resets.append(time.time())
            return
        except OSError as exc:
            self.errors.append((time.time(), f"{type(exc).__name__}: {exc}"))
            return
        ms = (time.perf_counter() - started) * 1000
        if status not in (200, 204):
            self.errors.append((time.time(), f"HTTP {status}"))
            return
        if status == 200:
            shown = json.loads(data).get("response", {}).get(VERSION, {}).get("data")
            if shown:
                self.shown = shown
        if self.first is None:
            self.first = (ms, wire)
        else:
            self.samples.append((time.time(), ms, wire))

    def run(self, spec: dict, until: list[float], period: tuple[float, float]) -> None:
        """Tick every `period` seconds (a random wait in [low, high]) until until[0] (set once every tab is
        open). Browsers fire a tab's timers late now and then (background tabs, a busy main thread)."""
        low, high = period
        while time.time() < until[0]:
            started = time.monotonic()
            self.refresh(spec)
            wait = low + (high - low) * secrets.randbelow(1001) / 1000
            time.sleep(max(0.0, wait - (time.monotonic() - started)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(args: list[str], cwd: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=demo.die_with_parent(signal.SIGTERM))


def wait_healthy(port: int, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer /health")


class PollWatch:
    """Samples the shared cache's `polled_at` (poll start times) to count the polls, whoever makes them."""

    def __init__(self, data_dir: Path, address: str):
        backends = DruncBackends(process_manager_url=address, controller_url="", session_manager_url="")
        self.feed = ProcessFeed(data_dir / "cache", backends)
        self.seen: set[float] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True, name="poll-watch")

    def run(self) -> None:
        while not self.stop.wait(0.05):
            state = self.feed.state()
            if state and state.polled_at:
                self.seen.add(state.polled_at)

    def figures(self, start: float, end: float) -> tuple[float, float]:
        """(polls per second, longest gap between poll starts) within [start, end]."""
        times = sorted(t for t in self.seen if start <= t <= end)
        gaps = [b - a for a, b in zip([start, *times], [*times, end], strict=True)]
        return len(times) / (end - start), max(gaps)


def period_range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds or LOW-HIGH, got {text!r}") from None
    if not 0 < bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"expected 0 < LOW <= HIGH, got {text!r}")
    return bounds


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tabs", type=int, default=100, help="browser tabs (default 100)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds (default 30)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of ticking before measuring (default 5)")
    parser.add_argument("--period", type=period_range, default=(1.0, 1.0), metavar="S or LOW-HIGH",
                        help="seconds between a tab's refreshes, or a random wait in LOW-HIGH per refresh "
                        "(default 1; 1-2 mimics late timers, where gunicorn's default 2 s keep-alive resets)")
    parser.add_argument("--processes", type=int, default=10_000, help="virtual processes (default 10000)")
    parser.add_argument("--churn", type=float, default=0.0, help="simulator churn per process per second")
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="checkout whose app.py and gunicorn.conf.py to serve (default: this one)")
    parser.add_argument("--no-service", action="store_true", help="do not start python -m polling")
    args = parser.parse_args()
    code = args.code.resolve()
    password = "bench-" + secrets.token_hex(4)

    sim, addresses = demo.start_simulator(["--virtual", "--processes", str(args.processes), "--churn",
                                           str(args.churn), "--seed", "1", "--kafka", "none"])
    data_dir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    port = free_port()
    env = {**os.environ, "DATA_DIR": str(data_dir), "DATABASE_URL": f"sqlite:///{data_dir / 'app.sqlite3'}",
           "SECRET_KEY": secrets.token_hex(32), "RUNCONTROL_DEMO": "1", "DEMO_PASSWORD": password,
           "PROCESS_MANAGER_URL": addresses["process_manager"], "CONTROLLER_URL": addresses["controller"],
           "SESSION_MANAGER_URL": addresses["session_manager"], "GUNICORN_BIND": f"127.0.0.1:{port}",
           "LOG_LEVEL": "WARNING", "PYTHONPATH": str(code)}
    children = []
    service = not args.no_service and (code / "polling" / "__main__.py").is_file()
    try:
        if service:
            children.append(start([sys.executable, "-m", "polling", "--exit-with-parent", str(os.getpid())],
                                  code, env))
        gunicorn = start([sys.executable, "-m", "gunicorn", "app:server"], code, env)
        children.append(gunicorn)
        wait_healthy(port, gunicorn)
        watch = PollWatch(data_dir, addresses["process_manager"])
        watch.thread.start()

        tabs = [Tab(port, password) for _ in range(args.tabs)]
        until = [float("inf")]
        threads = []
        opened = time.perf_counter()
        spec = None
        for tab in tabs:  # one after the other, as a shift opens them: each ticks as soon as its page is there
            tab.open_page()
            if spec is None:
                _, deps, _ = tab.request("GET", "/_dash-dependencies")
                spec = next(d for d in json.loads(deps) if any(i["id"] == TICK for i in d["inputs"]))
            threads.append(threading.Thread(target=tab.run, args=(spec, until, args.period), daemon=True))
            threads[-1].start()
        opened = time.perf_counter() - opened
        begin = time.time() + args.warmup
        end = begin + args.seconds
        until[0] = end
        for thread in threads:
            thread.join()
        watch.stop.set()

        samples = [s for t in tabs for s in t.samples if begin <= s[0] <= end]
        ms = [s[1] for s in samples]
        wire = [s[2] for s in samples]
        firsts = [t.first for t in tabs if t.first]
        resets = sum(begin <= r <= end for t in tabs for r in t.resets)
        resets_opening = sum(r < begin for t in tabs for r in t.resets)
        errors = [text for t in tabs for when, text in t.errors if begin <= when <= end]
        errors_opening = sum(when < begin for t in tabs for when, _ in t.errors)
        ps_rate, ps_gap = watch.figures(begin, end)
        every = "-".join(dict.fromkeys(f"{p:g}" for p in args.period))
        print(f"code {code}  |  {args.tabs} tabs every {every} s, {args.processes} processes, "
              f"{args.seconds:.0f} s measured after {args.warmup:.0f} s  |  "
              f"poller: {'service' if service else 'in the web workers'}  |  tabs opened in {opened:.1f} s")
        print(f"first refresh (whole table): median {statistics.median(f[0] for f in firsts):.0f} ms, "
              f"{statistics.median(f[1] for f in firsts) / 1024:.0f} KiB on the wire")
        header = ("refreshes", "req/s", "p50 ms", "p95 ms", "p99 ms", "bytes/req", "KiB/s", "errors", "resets",
                  "ps/s", "max ps gap s")
        row = (len(samples), f"{len(samples) / args.seconds:.1f}", f"{percentile(ms, 0.5):.0f}",
               f"{percentile(ms, 0.95):.0f}", f"{percentile(ms, 0.99):.0f}",
               f"{statistics.median(wire):.0f}" if wire else "-", f"{sum(wire) / 1024 / args.seconds:.1f}",
               len(errors), resets, f"{ps_rate:.2f}", f"{ps_gap:.2f}")
        widths = [max(len(h), len(str(v))) for h, v in zip(header, row, strict=True)]
        print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
        print("  ".join(str(v).rjust(w) for v, w in zip(row, widths, strict=True)))
        if resets_opening:
            print(f"resets while the tabs were opening or warming up: {resets_opening}")
        if errors_opening:
            print(f"errors while the tabs were opening or warming up: {errors_opening}")
        if errors:
            print("errors:", ", ".join(f"{errors.count(e)} × {e}" for e in sorted(set(errors))[:5]))
    finally:
        for proc in reversed(children):
            demo.stop(proc)
        demo.stop(sim)
    return 0


if __name__ == "__main__":
    sys.exit(main())
