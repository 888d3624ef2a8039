"""Controller tree figures: the cost of one sweep, sweeps per period with many tabs, an unchanged refresh's server
time and bytes, and the time from a transition's completion to the page showing it.

The simulator runs in its own process (`python -m simulator --tree SxA`, default 10 segment controllers × 99
applications = 1,001 nodes, found through its connectivity service, as in production); the app runs here with
its own poller thread (as in one gunicorn worker without the poller service). Tabs are logged-in Flask test
clients in threads, each calling the tree's refresh callback once per period as a browser tab does, at phases
spread over the period (tabs are opened at different moments; all in phase they would queue behind each other in
this one process, which measures the GIL, not the tick). An unchanged tick alone costs about 1.2 ms (profiled:
most of it the login-session check every request makes).

    sweep          median / p90 of one sweep (tree walk + who_is_in_charge per controller + hosts), forced
    tabs           N tabs for S seconds at period P: sweeps made, and sweeps per period (goal 1)
    unchanged      server time and bytes of a refresh when nothing changed (goals ≤ 10 ms, ≤ 200 B)
    other ticks    the page's other parts (FSM, control, run banner), each ticking with what it shows: server time
                   and bytes of an unchanged tick (they read the same snapshot, never drunc)
    latency        a transition executed with the client directly (as drunc's shell would): from its completion
                   (execute() returned) to the first tick of a tab that shows the root in the new state
                   (goal: within one refresh period); and through the UI's own path (refresh_now after the
                   action, then the tick the CHANGED store triggers)

Run: .venv/bin/python benchmarks/bench_controller_tree.py [--tree 10x99] [--tabs 20] [--seconds 10]
     [--period 1] [--transitions 6] [--transition-seconds 1.0] [--schema 0.8|0.11|0.11-bugs]
     (smoke: --tree 2x5 --tabs 3 --seconds 3)
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
from components import controller_ids as shared  # noqa: E402
from components import controller_session as ids  # noqa: E402
from components import controller_tree as tree_ids  # noqa: E402


class Tab:
    """One browser tab on the Controller page: a logged-in client and the tree version it shows."""

    def __init__(self, app, session: str, refresh: str):
        self.key, self.spec = next((k, s) for k, s in server_callbacks(app).items()
                                   if any(i["id"] == ids.TICK for i in s["inputs"]))
        self.client = app.server.test_client()
        login(self.client, "viewer")
        self.client.get("/")
        self.headers = {"X-CSRFToken": csrf_token(self.client)}
        self.session = session
        self.refresh = refresh
        self.shown = None
        self.root_state = None

    def tick(self) -> tuple[float, int, bool]:
        """(server ms, response bytes, whether the tree changed)."""
        body = body_for(self.key, self.spec,
                        values={f"{ids.TICK}.n_intervals": 1, f"{ids.VERSION}.data": self.shown,
                                f"{shared.SESSION}.data": self.session, f"{ids.REFRESH}.value": self.refresh},
                        triggered=f"{ids.TICK}.n_intervals")
        start = time.perf_counter()
        response = self.client.post("/_dash-update-component", json=body, headers=self.headers)
        elapsed = (time.perf_counter() - start) * 1000
        data = response.get_data()
        out = response.json["response"] if response.status_code == 200 else {}
        shown = out.get(ids.VERSION, {}).get("data")
        if shown:
            self.shown = shown
        grid = out.get(tree_ids.GRID, {})
        rows = grid.get("rowData") or (grid.get("rowTransaction") or {}).get("update") or []
        root = next((r for r in rows if r.get("depth") == 0), None)
        if root is not None:
            self.root_state = root["state"]
        return elapsed, len(data), bool(shown)


class PartTab:
    """One part of the Controller page ticking in a tab: its tick callback, fed back the signature it stores."""

    def __init__(self, app, client, headers, name: str, tick: str, shown: str):
        self.key, self.spec = next((k, s) for k, s in server_callbacks(app).items()
                                   if s["callback"].__name__ == name)
        self.client, self.headers, self.name, self.tick_id, self.shown_id = client, headers, name, tick, shown
        self.shown = None

    def tick(self) -> tuple[float, int]:
        body = body_for(self.key, self.spec, values={f"{self.tick_id}.n_intervals": 1, f"{shared.SESSION}.data": "",
                                                     f"{self.shown_id}.data": self.shown},
                        triggered=f"{self.tick_id}.n_intervals")
        start = time.perf_counter()
        response = self.client.post("/_dash-update-component", json=body, headers=self.headers)
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code == 200:
            self.shown = (response.json["response"].get(self.shown_id) or {}).get("data", self.shown)
        return elapsed, len(response.get_data())


def other_ticks(app, tab: Tab, rounds: int) -> None:
    from components import control_panel as cp
    from components import fsm_panel as fsm
    from components import run_panel as rp

    parts = [PartTab(app, tab.client, tab.headers, "fsm_tick", fsm.TICK, fsm.VIEW),
             PartTab(app, tab.client, tab.headers, "refresh_control", cp.TICK, cp.SHOWN),
             PartTab(app, tab.client, tab.headers, "refresh_banner", rp.TICK, rp.SHOWN)]
    for part in parts:
        first = part.tick()
        samples = [part.tick() for _ in range(rounds)]
        print(f"    {part.name}: first {first[1] / 1024:.1f} KiB; unchanged {fmt_ms([t for t, _ in samples])}, "
              f"{statistics.median(b for _, b in samples):.0f} B")


def every(period: float, tab: Tab, stop: threading.Event, samples: list, phase: float = 0.0) -> None:
    from callbacks.controller_tree import BUSY_MS

    stop.wait(phase)  # tabs opened at different moments tick at different phases, as browsers do
    while not stop.is_set():
        started = time.monotonic()
        samples.append(tab.tick())
        # as the page's clientside interval does: faster while the tab shows nodes mid-transition
        wait = min(period, BUSY_MS / 1000) if (tab.shown or {}).get("b") else period
        stop.wait(max(0.0, wait - (time.monotonic() - started)))


def pct(values, q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def fmt_ms(values) -> str:
    return f"median {statistics.median(values):.2f} ms, p90 {pct(values, 0.9):.2f} ms, max {max(values):.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", default="10x99", help="segment controllers x applications (default 10x99)")
    parser.add_argument("--tabs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the tabs tick (default 10)")
    parser.add_argument("--period", type=float, default=1.0, choices=(1.0, 5.0), help="the tabs' refresh period")
    parser.add_argument("--sweeps", type=int, default=20, help="forced sweeps timed (default 20)")
    parser.add_argument("--transitions", type=int, default=6, help="transitions timed for the latency (default 6)")
    parser.add_argument("--transition-seconds", type=float, default=1.0,
                        help="how long each simulated transition takes per node (default 1.0)")
    parser.add_argument("--schema", default="0.8", choices=("0.8", "0.11", "0.11-bugs"),
                        help="the simulator's druncschema layout (0.11-bugs: drunc 0.13.2's bugs; default 0.8)")
    args = parser.parse_args(argv)
    refresh = "1" if args.period == 1.0 else "5"

    layout = ["--schema", args.schema.split("-")[0]] + (["--drunc-bugs"] if args.schema.endswith("-bugs") else [])
    proc, addresses = demo.start_simulator(["--tree", args.tree, "--processes", "0",
                                            "--transition-seconds", str(args.transition_seconds), *layout])
    session = addresses["session"]
    settings = make_settings(Path(tempfile.mkdtemp()), process_manager_url=addresses["process_manager"],
                             csc_url=f"http://{addresses['connectivity']}", csc_session=session)
    services = make_services(settings)
    app = create_app(settings, services)
    feeds = services.controller_feeds
    try:
        print(f"controller tree {args.tree} (session {session}, druncschema {args.schema}), {args.tabs} tabs at "
              f"{args.period:g} s, "
              f"transitions of {args.transition_seconds:g} s per node")
        first = feeds.refresh_now(session, wait=30)
        print(f"  nodes: {len(first.nodes)} ({sum(n['kind'] == 'controller' for n in first.nodes)} controllers)")

        # 1. one sweep
        client = services.drunc.controller("bench", session=session)
        walk = []
        for _ in range(max(3, args.sweeps // 2)):
            t = time.perf_counter()
            client.tree()
            walk.append((time.perf_counter() - t) * 1000)
        feeds.sweep_seconds = []
        for _ in range(args.sweeps):
            feeds.poll_once(session, force=True)
        sweeps = [s * 1000 for s in feeds.sweep_seconds]
        print(f"  one sweep (walk + in charge + hosts + cache): {fmt_ms(sweeps)}")
        print(f"    of which ControllerClient.tree(): {fmt_ms(walk)}")

        # 2. many tabs: sweeps per period, unchanged refresh cost
        tabs = [Tab(app, session, refresh) for _ in range(args.tabs)]
        for tab in tabs:
            tab.tick()  # the first, full load
        full = tabs[0]
        print(f"  first load of a tab: {Tab(app, session, refresh).tick()[1] / 1024:.1f} KiB")
        stop = threading.Event()
        samples: list[list] = [[] for _ in tabs]
        before = feeds.sweeps
        threads = [threading.Thread(target=every, args=(args.period, tab, stop, out, i * args.period / len(tabs)),
                                    daemon=True)
                   for i, (tab, out) in enumerate(zip(tabs, samples, strict=True))]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(args.seconds)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        made = feeds.sweeps - before
        periods = elapsed / args.period
        print(f"  {args.tabs} tabs for {elapsed:.1f} s: {made} sweeps in {periods:.1f} periods = "
              f"{made / periods:.2f} sweeps per period (goal 1, whatever the number of tabs)")
        unchanged = [(t, b) for out in samples for t, b, changed in out if not changed]
        if unchanged:
            print(f"  unchanged refresh ({len(unchanged)} ticks): server {fmt_ms([t for t, _ in unchanged])}; "
                  f"{statistics.median(b for _, b in unchanged):.0f} B (max {max(b for _, b in unchanged)} B) "
                  "(goals ≤ 10 ms, ≤ 200 B)")

        print("  the page's other ticks (one tab, nothing changing):")
        other_ticks(app, tabs[0], max(10, args.sweeps))

        # 3. completion → display
        owner = services.drunc.controller("bench", session=session)
        owner.take_control()
        stop = threading.Event()
        watcher = threading.Thread(target=every, args=(args.period, full, stop, []), daemon=True)

        def wait_for_state(state: str, since: float, limit: float = 60.0) -> float | None:
            deadline = time.monotonic() + limit
            while time.monotonic() < deadline:
                if full.root_state == state:  # written by the watcher thread's tick
                    return time.monotonic() - since
                time.sleep(0.01)
            return None

        watcher.start()
        latencies, ui = [], []
        try:
            for i in range(args.transitions):
                transition, state = ("conf", "configured") if i % 2 == 0 else ("scrap", "initial")
                owner.execute(transition)
                done = time.monotonic()
                latency = wait_for_state(state, done)
                if latency is not None:
                    latencies.append(latency)
                time.sleep(args.period * 0.37 * (1 + i % 3))  # start the next one at varied phases of the tick
        finally:
            stop.set()
            watcher.join()
        if latencies:
            print(f"  transition completion → tab shows it (client direct, {len(latencies)} transitions): "
                  f"median {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
                  f"(goal ≤ {args.period * 1000:.0f} ms)")
        for _ in range(min(4, args.transitions)):
            transition, state = ("conf", "configured") if full.root_state == "initial" else ("scrap", "initial")
            owner.execute(transition)
            done = time.monotonic()
            feeds.refresh_now(session)  # what an action callback does, then the CHANGED bump ticks every part
            full.tick()
            if full.root_state == state:
                ui.append(time.monotonic() - done)
        if ui:
            print(f"  through the UI's action path (refresh_now + the CHANGED tick): "
                  f"median {statistics.median(ui) * 1000:.0f} ms, max {max(ui) * 1000:.0f} ms")
    finally:
        services.close()
        demo.stop(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
