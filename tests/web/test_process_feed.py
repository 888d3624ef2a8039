"""The shared ps poller against the simulator: versions, deltas, the lease, outages and demand."""

from __future__ import annotations

import threading
import time
from concurrent import futures

import grpc
import pytest

from drunc_client.backends import DruncBackends
from polling import process_feed as feed_module
from polling.process_feed import ProcessFeed


def make_feed(tmp_path, address) -> ProcessFeed:
    backends = DruncBackends(process_manager_url=address, controller_url="", session_manager_url="", timeout=2.0)
    return ProcessFeed(tmp_path / "cache", backends, timeout=2.0)


@pytest.fixture
def feed(tmp_path, simulator):
    f = make_feed(tmp_path, simulator.addresses["process_manager"])
    yield f
    f.close()


def test_versions_and_changes(feed, simulator):
    assert feed.state() is None and feed.changes(None, None).kind == "none"
    assert feed.poll_once(force=True)
    state = feed.state()
    assert (state.version, state.total, state.ok) == (1, 4, True)
    full = feed.changes(None, None)
    assert full.kind == "full" and len(full.rows) == 4
    assert feed.changes(state.epoch, 1).kind == "none"
    assert feed.changes("other-epoch", 1).kind == "full"

    feed.poll_once(force=True)
    assert feed.state().version == 1, "an unchanged table keeps its version"

    victim = full.rows[0]["uuid"]
    feed.backends.process_manager("t").kill(uuids=[victim])
    feed.poll_once(force=True)
    changes = feed.changes(state.epoch, 1)
    assert changes.kind == "delta" and changes.delta.remove == [victim] and changes.state.version == 2
    assert changes.state.counts == {"RUNNING": 3, "DEAD": 0}


def test_polls_never_overlap_across_feeds_sharing_the_cache(tmp_path, simulator):
    address = simulator.addresses["process_manager"]
    feeds = [make_feed(tmp_path, address) for _ in range(6)]  # six gunicorn workers
    barrier = threading.Barrier(len(feeds))

    def poll(f):
        barrier.wait()
        return f.poll_once()

    with futures.ThreadPoolExecutor(len(feeds)) as pool:
        results = list(pool.map(poll, feeds))
    assert sum(results) == 1 and sum(f.polls for f in feeds) == 1
    for f in feeds:
        f.close()


def test_an_outage_keeps_the_last_rows_and_recovers(feed, simulator):
    feed.poll_once(force=True)
    address = simulator.addresses["process_manager"]
    simulator.servers[0].stop(0).wait()
    feed.poll_once(force=True)
    state = feed.state()
    assert not state.ok and address in state.error and state.failed_since and state.ok_at
    assert len(feed.rows()[1]) == 4 and state.version == 1
    feed.poll_once(force=True)
    assert feed.state().failed_since == state.failed_since, "the outage start is kept"

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    simulator.process_manager.add_to_server(server)
    server.add_insecure_port(address)
    server.start()
    simulator.servers[0] = server
    deadline = time.monotonic() + 5  # the channel reconnects after its (short) back-off
    while not feed.state().ok and time.monotonic() < deadline:
        feed.poll_once(force=True)
        time.sleep(0.1)
    assert feed.state().ok and feed.state().failed_since is None


def test_twenty_tabs_cost_the_same_ps_calls_as_one(feed):
    deadline = time.monotonic() + 3.2
    while time.monotonic() < deadline:
        for _ in range(20):
            feed.watch(1.0)
            feed.changes(None, None)
        time.sleep(0.1)
    assert 2 <= feed.polls <= 5, feed.polls


def test_the_poller_thread_stops_when_nobody_watches(feed, monkeypatch):
    monkeypatch.setattr(feed_module, "IDLE_EXIT", 0.3)
    monkeypatch.setattr(feed_module, "DEMAND_HOLD", 0.2)
    feed.watch(1.0)
    thread = feed._thread
    assert thread.is_alive()
    thread.join(timeout=5)
    assert not thread.is_alive() and feed.polls >= 1


def test_an_unconfigured_feed_does_nothing(tmp_path):
    f = make_feed(tmp_path, "")
    f.watch(1.0)
    f.poke()
    assert not f.configured and f.refresh_now() is None and f._thread is None
