"""Background jobs are forked by the worker's job runner, a fresh single-threaded process that never used gRPC,
not by the web worker (whose threads are in the middle of gRPC calls): the job's parent is the runner, the job
survives its runner and its worker, a dead runner is replaced, and a job is still terminated by its pid."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest
from dash_calls import _job_handle, body_for, poll_job, server_callbacks
from support import csrf_token

from components import controller_ids as ids
from components import fsm_panel as ui
from drunc_client import transport


@pytest.fixture
def shifter(sim_app, sim_services, logged_in):
    sim_services.drunc.controller("shifter").take_control()
    sim_services.controller_feeds.refresh_now()
    return logged_in(sim_app.server.test_client(), "shifter")


def _slow(simulator, seconds):
    for node in simulator.root.walk():
        node.transition_seconds = seconds


def _start_conf(app, client):
    key, spec = next((k, s) for k, s in server_callbacks(app).items() if s["callback"].__name__ == "run_command")
    pending = {"name": "conf", "fields": [], "disruptive": False, "session": ""}
    body = body_for(key, spec, {f"{ui.RUN}.n_clicks": 1, f"{ui.PENDING}.data": pending,
                                f"{ui.CONFIRM}.value": True, f"{ids.SESSION}.data": ""})
    headers = {"X-CSRFToken": csrf_token(client)}
    handle = _job_handle(client.post("/_dash-update-component", json=body, headers=headers))
    assert handle is not None
    return body, headers, handle


def _job_of(runner_pid: int) -> psutil.Process:
    deadline = time.monotonic() + 10
    while not (children := psutil.Process(runner_pid).children()):
        assert time.monotonic() < deadline, "the runner started no job"
        time.sleep(0.02)
    [job] = children
    return job


def _wait(predicate, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _state(services):
    return services.controller_feeds.refresh_now().root_node["state"]


def test_a_job_is_forked_by_the_single_threaded_runner_never_by_the_grpc_using_worker(
        sim_app, sim_services, simulator, shifter):
    _slow(simulator, 1.5)
    # This process is the web worker: it holds gRPC channels and has gRPC's and the simulator's threads.
    assert transport._channels and len(os.listdir("/proc/self/task")) > 1
    body, headers, handle = _start_conf(sim_app, shifter)
    manager = sim_app._background_manager
    runner = psutil.Process(manager.runner_pid)
    assert runner.ppid() == os.getpid()
    assert runner.cmdline()[1:3] == ["-m", "job_runner"]  # a fresh interpreter, not a fork of the worker
    job = _job_of(runner.pid)
    assert job.ppid() == runner.pid != os.getpid()
    assert runner.num_threads() == 1  # kernel threads: gRPC's native ones would count
    assert runner.net_connections(kind="inet") == []  # no gRPC connection ever opened there
    _wait(lambda: job.net_connections(kind="inet"), "the job opened no channel of its own", 10)
    assert "done" in poll_job(shifter, body, headers, handle).get_data(as_text=True)
    assert _state(sim_services) == "configured"


def test_a_job_outlives_its_runner_and_the_next_job_gets_a_new_runner(sim_app, sim_services, simulator, shifter):
    _slow(simulator, 1.5)
    body, headers, handle = _start_conf(sim_app, shifter)  # then the tab closes: nobody polls
    manager = sim_app._background_manager
    first = manager.runner_pid
    job = _job_of(first)
    manager.close()  # what the runner sees when its worker exits: end of file on its socket
    assert not psutil.pid_exists(first) or psutil.Process(first).status() == psutil.STATUS_ZOMBIE
    assert job.is_running()
    _wait(lambda: _state(sim_services) == "configured", "the job did not finish without its runner")
    # any worker reads the result from the shared cache
    assert "done" in poll_job(shifter, body, headers, handle).get_data(as_text=True)
    [event] = sim_services.audit.query(action="controller.transition")
    assert event.outcome == "ok" and event.username == "shifter"

    os.kill(manager.start_runner(), signal.SIGKILL)  # a runner that died: the next job starts another
    _wait(lambda: manager.runner_pid is None, "the killed runner is still seen as running", 10)
    _slow(simulator, 0.0)
    key, spec = next((k, s) for k, s in server_callbacks(sim_app).items()
                     if s["callback"].__name__ == "run_command")
    pending = {"name": "scrap", "fields": [], "disruptive": True, "session": ""}
    body = body_for(key, spec, {f"{ui.RUN}.n_clicks": 1, f"{ui.PENDING}.data": pending,
                                f"{ui.CONFIRM}.value": True, f"{ids.SESSION}.data": ""})
    handle = _job_handle(shifter.post("/_dash-update-component", json=body, headers=headers))
    assert "done" in poll_job(shifter, body, headers, handle).get_data(as_text=True)
    assert manager.runner_pid not in (None, first)
    assert _state(sim_services) == "initial"


def test_a_job_is_still_terminated_by_its_pid(sim_app, sim_services, simulator, shifter):
    _slow(simulator, 5.0)
    _start_conf(sim_app, shifter)
    manager = sim_app._background_manager
    job = _job_of(manager.runner_pid)
    assert manager.job_running(job.pid)
    manager.terminate_job(job.pid)
    _wait(lambda: not manager.job_running(job.pid), "the job still runs", 5)


def test_a_runner_that_cannot_start_is_a_plain_refusal_and_the_next_job_starts_one(
        sim_app, sim_services, shifter, monkeypatch):
    from job_runner import client as runner_client

    monkeypatch.setattr(runner_client.sys, "executable", "/nonexistent/python")
    headers = {"X-CSRFToken": csrf_token(shifter)}
    key, spec = next((k, s) for k, s in server_callbacks(sim_app).items() if s["callback"].__name__ == "run_command")
    pending = {"name": "conf", "fields": [], "disruptive": False, "session": ""}
    body = body_for(key, spec, {f"{ui.RUN}.n_clicks": 1, f"{ui.PENDING}.data": pending,
                                f"{ui.CONFIRM}.value": True, f"{ids.SESSION}.data": ""})
    handle = _job_handle(shifter.post("/_dash-update-component", json=body, headers=headers))
    answer = poll_job(shifter, body, headers, handle).get_data(as_text=True)  # at once: it never ran
    assert "Not done" in answer and "cannot start the job runner" in answer and "Nothing was sent" in answer
    assert _state(sim_services) == "initial"
    monkeypatch.undo()
    body, headers, handle = _start_conf(sim_app, shifter)
    assert "done" in poll_job(shifter, body, headers, handle).get_data(as_text=True)
