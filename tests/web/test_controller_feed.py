"""The shared controller-tree poller against the simulator (controllers found through its connectivity service):
versions, deltas by path, the lease, demand from many tabs, not-registered sessions, an unreachable root, the
poller service and its fallback, observations. Every test runs on both druncschema layouts."""

from __future__ import annotations

import threading
import time
from concurrent import futures

import pytest

from drunc_client.backends import DruncBackends
from polling import controller_feed as feed_module
from polling.controller_feed import NODE_FIELDS, ControllerFeeds
from polling.process_feed import ProcessFeed

SESSION = "tree-session"


@pytest.fixture(params=["0.8", "0.11"])
def csc_sim(request, tmp_path):
    """The simulator in each druncschema layout (0.11: drunc 0.13.2; the feed detects it per endpoint)."""
    from simulator.run import SimulatorConfig, start_simulator

    sim = start_simulator(SimulatorConfig(processes=2, segments=2, apps=2, session=SESSION, connectivity_port=0,
                                          log_dir=tmp_path / "sim-logs", schema=request.param))
    yield sim
    sim.stop(0)


def backends_for(sim) -> DruncBackends:
    return DruncBackends(process_manager_url=sim.addresses["process_manager"], controller_url="",
                         session_manager_url="", timeout=2.0, csc_url=f"http://{sim.addresses['connectivity']}",
                         csc_session=SESSION)


def make_feeds(tmp_path, sim, process_feed=None) -> ControllerFeeds:
    return ControllerFeeds(tmp_path / "cache", backends_for(sim), timeout=2.0, process_feed=process_feed)


@pytest.fixture
def feeds(tmp_path, csc_sim):
    f = make_feeds(tmp_path, csc_sim)
    yield f
    f.close()


def wait_for(condition, seconds: float = 5.0):
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return value


def test_a_sweep_reads_the_whole_tree_with_hosts_and_who_is_in_charge(tmp_path, csc_sim):
    processes = ProcessFeed(tmp_path / "cache", backends_for(csc_sim), timeout=2.0)
    processes.poll_once(force=True)
    f = make_feeds(tmp_path, csc_sim, processes)
    try:
        assert f.poll_once(SESSION, force=True)
        snap = f.snapshot(SESSION)
        assert snap.ok and snap.registered and snap.version == 1 and len(snap.nodes) == 7
        root = snap.root_node
        assert set(NODE_FIELDS) <= set(root) and root["path"] == "root-controller" and root["depth"] == 0
        assert [n["order"] for n in snap.nodes] == list(range(7))
        by_name = {n["name"]: n for n in snap.nodes}
        app = by_name["segment-controller-0-app-1"]
        assert app["kind"] == "application" and app["parent"] == "root-controller/segment-controller-0"
        assert app["host"], "joined by name from the process table"
        assert by_name["segment-controller-1-app-1"]["host"] == "", "no process of that name"
        assert all(n["in_charge"] for n in snap.nodes if n["kind"] == "controller")
        assert snap.counts["nodes"] == 7 and snap.root == csc_sim.addresses["controller"]
    finally:
        f.close()
        processes.close()


def test_versions_deltas_and_observations(feeds, csc_sim):
    since = time.time() - 1
    feeds.poll_once(SESSION, force=True)
    first = feeds.snapshot(SESSION)
    assert feeds.changes(SESSION, first.epoch, first.version).kind == "none"
    assert feeds.changes(SESSION, "other", first.version).kind == "full"
    feeds.poll_once(SESSION, force=True)
    assert feeds.snapshot(SESSION).version == first.version, "an unchanged tree keeps its version"
    assert len(feeds.observations(SESSION, since)) == 7, "the first sweep records every node's state"

    feeds.backends.controller("tester", session=SESSION).take_control()
    feeds.backends.controller("tester", session=SESSION).execute("conf")
    feeds.poll_once(SESSION, force=True)
    changes = feeds.changes(SESSION, first.epoch, first.version)
    assert changes.kind == "delta" and changes.snapshot.version == first.version + 1
    updated = {r["path"]: r for r in changes.delta.update}
    assert updated["root-controller"]["state"] == "configured" and updated["root-controller"]["in_charge"] == "tester"
    assert not changes.delta.add and not changes.delta.remove
    configured = [o for o in feeds.observations(SESSION, since) if o[2] == "configured"]
    assert {o[1] for o in configured} == {n["path"] for n in first.nodes}


def test_sweeps_never_overlap_across_workers_sharing_the_cache(tmp_path, csc_sim):
    workers = [make_feeds(tmp_path, csc_sim) for _ in range(6)]
    barrier = threading.Barrier(len(workers))

    def sweep(f):
        barrier.wait()
        return f.poll_once(SESSION, force=True)

    with futures.ThreadPoolExecutor(len(workers)) as pool:
        results = list(pool.map(sweep, workers))
    assert sum(results) == 1 and sum(f.sweeps for f in workers) == 1
    for f in workers:
        f.close()


def test_twenty_tabs_cost_one_sweep_per_period(feeds):
    feeds.snapshot(SESSION)  # the first sweep
    first = feeds.sweeps
    deadline = time.monotonic() + 3.2
    while time.monotonic() < deadline:
        for _ in range(20):
            feeds.watch(SESSION, 1.0)
            snap = feeds.snapshot(SESSION)
            feeds.changes(SESSION, snap.epoch, snap.version)
        time.sleep(0.1)
    assert 2 <= feeds.sweeps - first <= 5, feeds.sweeps


def test_a_session_not_registered_is_a_state_not_an_error(feeds):
    snap = feeds.snapshot("nobody-booted-this")
    assert not snap.registered and snap.error is None and snap.nodes == () and snap.root is None
    assert "not registered in the connectivity service" in snap.message


def test_not_a_session_name_returns_at_once(feeds):
    started = time.monotonic()
    snap = feeds.snapshot("bad name; rm -rf")
    assert time.monotonic() - started < 0.5 and "not a session name" in snap.error
    feeds.watch("bad name; rm -rf", 1.0)
    assert feeds.demand() == {}


def test_an_unreachable_root_keeps_the_last_tree(feeds, csc_sim):
    feeds.poll_once(SESSION, force=True)
    good = feeds.snapshot(SESSION)
    csc_sim.servers[1].stop(0).wait()  # the root controller's server (the process manager's is first)
    feeds.poll_once(SESSION, force=True)
    snap = feeds.snapshot(SESSION)
    assert not snap.ok and snap.registered and snap.error and snap.failed_since and snap.ok_at == good.ok_at
    assert snap.nodes == good.nodes and snap.version == good.version
    feeds.poll_once(SESSION, force=True)
    assert feeds.snapshot(SESSION).failed_since == snap.failed_since, "the outage start is kept"


def test_the_poller_thread_stops_when_nobody_watches(feeds, monkeypatch):
    monkeypatch.setattr(feed_module, "IDLE_EXIT", 0.3)
    monkeypatch.setattr(feed_module, "DEMAND_HOLD", 0.2)
    monkeypatch.setattr(feed_module, "POKES_KEY", "ctl:pokes-test")  # no poke keeps it busy
    feeds.watch(SESSION, 1.0)
    thread = feeds._thread
    assert thread.is_alive()
    wait_for(lambda: feeds.sweeps >= 1)
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_the_service_sweeps_for_the_workers_which_take_over_when_it_stops(tmp_path, csc_sim, monkeypatch):
    service = make_feeds(tmp_path, csc_sim)
    web = make_feeds(tmp_path, csc_sim)
    stop = threading.Event()
    thread = threading.Thread(target=service.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: service.service_heartbeat() is not None)
        snap = web.snapshot(SESSION)  # the first tab waits for the service's sweep
        assert len(snap.nodes) == 7 and web.sweeps == 0 and web._thread is None
        web.watch(SESSION, 1.0)
        wait_for(lambda: service.sweeps >= 2, 4)
        assert web.sweeps == 0 and web._thread is None, "the web worker only reads the cache"
        refreshed = web.refresh_now(SESSION, wait=3.0)
        assert refreshed.polled_at >= snap.polled_at and web.sweeps == 0
    finally:
        stop.set()
        thread.join(5)
    assert service.service_heartbeat() is None, "a stopping service clears its heartbeat"
    monkeypatch.setattr(feed_module, "HEARTBEAT_EVERY", 0.0)
    web.watch(SESSION, 1.0)
    assert web._thread is not None and web._thread.is_alive()
    wait_for(lambda: web.sweeps >= 1)
    service.close()
    web.close()


def test_python_m_polling_sweeps_the_sessions_tabs_watch(tmp_path, csc_sim):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PROCESS_MANAGER_URL": csc_sim.addresses["process_manager"],
           "CSC_URL": f"http://{csc_sim.addresses['connectivity']}", "CSC_SESSION": "configured-one",
           "DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "polling", "--exit-with-parent", str(os.getpid())],
                            cwd=Path(__file__).resolve().parents[2], env=env, stderr=subprocess.PIPE, text=True)
    web = make_feeds(tmp_path, csc_sim)
    try:
        beat = wait_for(web.service_heartbeat, 15)
        assert beat["pid"] == proc.pid and web.service_running()
        web.watch(SESSION, 1.0)  # a session the service was never told about: the demand names it
        assert web._thread is None
        wait_for(lambda: len(web.snapshot(SESSION).nodes) == 7, 8)
        assert web.sweeps == 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0, proc.stderr.read()
        assert web.service_heartbeat() is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        web.close()
