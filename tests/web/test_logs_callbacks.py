"""The log panel callbacks through the Flask test client, against the in-process drunc simulator."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from dash_calls import post, server_callbacks
from support import csrf_token

from components import log_viewer as ids
from drunc_client.errors import DruncFlagError


def _callback(app, input_id):
    return next((k, s) for k, s in server_callbacks(app).items() if any(i["id"] == input_id for i in s["inputs"]))


def _show(app, client, trigger, lines=100, request=None, state=None):
    key, spec = _callback(app, ids.REQUEST)
    values = {f"{ids.REQUEST}.data": request, f"{ids.LINES}.value": lines, f"{ids.RELOAD}.n_clicks": None,
              f"{ids.INTERVAL}.n_intervals": 1, f"{ids.STATE}.data": state}
    response = post(client, key, spec, token=csrf_token(client), values=values, triggered=trigger)
    assert response.status_code in (200, 204), response.get_data(as_text=True)[:500]
    return response.json if response.status_code == 200 else {}


def _open(app, client, uuid, lines=100):
    return _show(app, client, f"{ids.REQUEST}.data", lines, request={"uuid": uuid, "t": 1})


def _out(body, component, prop):
    return body["response"][component][prop]


def _wait_for_log(pm, uuid, timeout=10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            lines = pm.logs(uuid, lines=10)
            if lines:
                return lines
        except DruncFlagError:
            pass
        assert time.monotonic() < deadline, "the simulator's process wrote no log line"
        time.sleep(0.2)


@pytest.fixture
def pm(sim_services):
    return sim_services.drunc.process_manager("t")


@pytest.fixture
def process(pm):
    first = sorted(pm.ps(), key=lambda p: p.name)[0]
    _wait_for_log(pm, first.uuid)
    return first


@pytest.fixture
def shifter(sim_app, logged_in):
    return logged_in(sim_app.server.test_client(), "shifter")


def test_open_shows_the_last_lines_then_follow_appends_only_new_ones(sim_app, shifter, process, pm):
    body = _open(sim_app, shifter, process.uuid)
    assert _out(body, ids.PANEL, "is_open") is True
    assert _out(body, ids.TITLE, "children") == f"{process.name} · {process.uuid[:8]}"
    lines = _out(body, ids.PRE, "children")
    assert lines and all(line.endswith("\n") for line in lines)
    assert any("heartbeat" in line for line in lines)
    assert "UTC" in _out(body, ids.STATUS, "children")
    assert _out(body, ids.MESSAGE, "children") is None
    state = _out(body, ids.STATE, "data")
    assert (state["uuid"], state["name"], state["n"], state["count"]) == (process.uuid, process.name, 100,
                                                                          len(lines))

    # The process echoes a heartbeat every 2 s: the next tick appends just that (a Patch, not the whole text).
    shown = len(pm.logs(process.uuid, lines=100))
    deadline = time.monotonic() + 10
    while len(pm.logs(process.uuid, lines=100)) == shown and time.monotonic() < deadline:
        time.sleep(0.2)
    tick = _show(sim_app, shifter, f"{ids.INTERVAL}.n_intervals", state=state)
    patch = _out(tick, ids.PRE, "children")
    assert patch["__dash_patch_update"] == "__dash_patch_update"
    [extend] = [op for op in patch["operations"] if op["operation"] == "Extend"]
    assert extend["params"]["value"] and all("heartbeat" in line for line in extend["params"]["value"])
    assert _out(tick, ids.STATE, "data")["count"] == len(lines) + len(extend["params"]["value"])
    assert ids.PANEL not in tick["response"], "a tick does not reopen the panel"


def test_nothing_new_only_refreshes_the_time(sim_app, shifter, process):
    state = _out(_open(sim_app, shifter, process.uuid), ids.STATE, "data")
    tick = _show(sim_app, shifter, f"{ids.INTERVAL}.n_intervals", state={**state, "tail": state["tail"]})
    # Either nothing new (status only) or a heartbeat arrived meanwhile (an append); never a full re-render.
    assert "UTC" in _out(tick, ids.STATUS, "children")
    children = tick["response"].get(ids.PRE, {}).get("children")
    assert children is None or "__dash_patch_update" in children


def test_a_larger_line_count_reads_again(sim_app, shifter, process):
    state = _out(_open(sim_app, shifter, process.uuid), ids.STATE, "data")
    body = _show(sim_app, shifter, f"{ids.LINES}.value", lines=1000, state=state)
    assert isinstance(_out(body, ids.PRE, "children"), list)
    assert _out(body, ids.STATE, "data")["n"] == 1000
    # A tick that superseded such a re-read (state still for 100 lines) re-reads instead of appending.
    tick = _show(sim_app, shifter, f"{ids.INTERVAL}.n_intervals", lines=1000, state=state)
    assert isinstance(_out(tick, ids.PRE, "children"), list)
    assert _out(tick, ids.STATE, "data")["n"] == 1000


def test_a_viewer_is_refused_and_audited(sim_app, sim_services, logged_in, process):
    viewer = logged_in(sim_app.server.test_client(), "viewer")
    body = _open(sim_app, viewer, process.uuid)
    assert body.get("response", {}) == {}
    assert "Not allowed" in str(body["sideUpdate"]["toasts"])
    [denied] = sim_services.audit.query(username="viewer", outcome="denied")
    assert (denied.action, denied.target, denied.detail) == ("read:show_logs", process.uuid,
                                                             "missing permission process.logs")


def test_an_unknown_uuid_is_a_clear_message(sim_app, shifter):
    body = _open(sim_app, shifter, "00000000-0000-4000-8000-000000000000")
    assert _out(body, ids.PANEL, "is_open") is True
    assert _out(body, ids.PRE, "children") == []
    message = str(_out(body, ids.MESSAGE, "children"))
    assert "No process with uuid 00000000-0000-4000-8000-000000000000" in message
    assert "toasts" not in str(body.get("sideUpdate", {}))


def test_a_process_without_a_log_file_is_a_clear_message(sim_app, shifter, process):
    Path(process.log_path).unlink()  # the process keeps writing to the unlinked file: the path is gone
    body = _open(sim_app, shifter, process.uuid)
    assert _out(body, ids.PANEL, "is_open") is True
    assert "no log yet" in str(_out(body, ids.MESSAGE, "children"))
    assert "sideUpdate" not in body or "toasts" not in body["sideUpdate"]


def test_backend_down_is_a_message_in_the_panel_not_a_toast(sim_app, shifter, process, simulator):
    state = _out(_open(sim_app, shifter, process.uuid), ids.STATE, "data")
    simulator.stop(0)
    tick = _show(sim_app, shifter, f"{ids.INTERVAL}.n_intervals", state=state)
    assert "unreachable" in str(_out(tick, ids.MESSAGE, "children"))
    assert ids.PRE not in tick["response"], "the lines shown stay"
    assert _out(tick, ids.STATUS, "children").startswith("tried ")
    assert "sideUpdate" not in tick or "toasts" not in tick["sideUpdate"]


def test_download_reads_the_last_lines_fresh(sim_app, shifter, process):
    state = _out(_open(sim_app, shifter, process.uuid), ids.STATE, "data")
    key, spec = _callback(sim_app, ids.DOWNLOAD_BUTTON)
    values = {f"{ids.DOWNLOAD_BUTTON}.n_clicks": 1, f"{ids.STATE}.data": state, f"{ids.LINES}.value": 100}
    body = post(shifter, key, spec, token=csrf_token(shifter), values=values).json
    data = _out(body, ids.DOWNLOAD, "data")
    assert data["filename"] == f"{process.name}-{process.uuid[:8]}.log"
    assert "heartbeat" in data["content"] and data["content"].endswith("\n")

    values[f"{ids.STATE}.data"] = None
    body = post(shifter, key, spec, token=csrf_token(shifter), values=values).json
    assert "Open a process" in str(body["sideUpdate"]["toasts"])
