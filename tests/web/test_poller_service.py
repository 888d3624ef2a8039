"""The poller service (`python -m polling`): it polls for the web workers, which then only read the shared cache,
and the workers poll by themselves again when its heartbeat stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from dash_calls import post, server_callbacks
from support import csrf_token

from components import process_table as ids
from drunc_client.backends import DruncBackends
from polling import process_feed as feed_module
from polling.process_feed import ProcessFeed

ROOT = Path(__file__).resolve().parents[2]


def service_feed(settings) -> ProcessFeed:
    backends = DruncBackends(process_manager_url=settings.process_manager_url, controller_url="",
                             session_manager_url="", timeout=2.0)
    return ProcessFeed(settings.data_dir / "cache", backends, timeout=2.0)


@pytest.fixture
def service(sim_settings):
    """The service's loop in a thread of the test process, on the cache the app uses."""
    feed = service_feed(sim_settings)
    stop = threading.Event()
    thread = threading.Thread(target=feed.serve, args=(stop,), daemon=True)
    thread.start()
    wait_for(lambda: feed.service_heartbeat() is not None)
    yield feed, stop, thread
    stop.set()
    thread.join(5)
    feed.close()


def wait_for(condition, seconds: float = 5.0):
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return value


def tick(app, client, shown=None):
    key, spec = next((k, s) for k, s in server_callbacks(app).items() if any(i["id"] == ids.TICK for i in s["inputs"]))
    response = post(client, key, spec, token=csrf_token(client),
                    values={f"{ids.TICK}.n_intervals": 1, f"{ids.VERSION}.data": shown, f"{ids.REFRESH}.value": "1"},
                    triggered=f"{ids.TICK}.n_intervals")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.json["response"]


def test_the_app_serves_the_services_rows_without_a_poller_thread(sim_app, sim_services, service, logged_in):
    feed, _stop, _thread = service
    client = logged_in(sim_app.server.test_client(), "viewer")
    body = tick(sim_app, client)
    assert len(body[ids.GRID]["rowData"]) == 4
    web = sim_services.process_feed
    wait_for(lambda: feed.polls >= 2, 4)  # the demand the tick wrote keeps the service polling every second
    assert web.polls == 0 and web._thread is None, "the web worker only reads the cache"
    assert feed.service_heartbeat()["polls"] >= 1


def test_refresh_now_waits_for_the_services_poll(sim_services, service, simulator):
    feed, _stop, _thread = service
    web = sim_services.process_feed
    first = web.refresh_now(wait=3.0)
    assert first.total == 4 and web.polls == 0
    victim = web.rows()[1][0]["uuid"]
    web.backends.process_manager("t").kill(uuids=[victim])
    state = web.refresh_now(wait=3.0)
    assert state.total == 3 and web.polls == 0 and feed.polls >= 2


def test_the_workers_poll_again_when_the_heartbeat_stops(sim_services, service, monkeypatch):
    feed, stop, thread = service
    web = sim_services.process_feed
    web.watch(1.0)
    assert web._thread is None
    stop.set()
    thread.join(5)
    assert feed.service_heartbeat() is None, "a stopping service clears its heartbeat"
    monkeypatch.setattr(feed_module, "HEARTBEAT_EVERY", 0.0)  # no remembered answer
    web.watch(1.0)
    assert web._thread is not None and web._thread.is_alive()
    wait_for(lambda: web.polls >= 1)


def test_a_stale_heartbeat_counts_as_no_service(sim_services, monkeypatch):
    web = sim_services.process_feed
    web.cache.set(web._key("service"), {"pid": 1, "at": time.time() - feed_module.SERVICE_STALE - 1,
                                        "started": 0, "polls": 0})
    web.watch(1.0)
    assert web._thread is not None
    wait_for(lambda: web.polls >= 1)


def test_python_m_polling_polls_beats_and_stops_on_sigterm(sim_settings):
    env = {**os.environ, "PROCESS_MANAGER_URL": sim_settings.process_manager_url,
           "DATA_DIR": str(sim_settings.data_dir), "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "polling", "--exit-with-parent", str(os.getpid())], cwd=ROOT,
                            env=env, stderr=subprocess.PIPE, text=True)
    reader = service_feed(sim_settings)
    try:
        beat = wait_for(reader.service_heartbeat, 15)
        assert beat["pid"] == proc.pid and reader.service_running()
        reader.watch(1.0)  # a tab looks: the service polls
        assert reader._thread is None
        assert wait_for(lambda: (reader.state() and reader.state().total), 5) == 4
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0, proc.stderr.read()
        assert reader.service_heartbeat() is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.close()


def test_python_m_polling_refuses_bad_settings(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path), "DRUNC_TIMEOUT_SECS": "soon"}
    result = subprocess.run([sys.executable, "-m", "polling"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        "error: DRUNC_TIMEOUT_SECS must be a number, got 'soon'"]
