"""Boot callbacks through the Flask test client, against the in-process drunc simulator."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path

import pytest
from dash_calls import post, server_callbacks
from support import csrf_token

from components import boot_form as ui
from pages.context import PageContext
from viewmodels.boot import FIELDS

FORM_VALUES = {
    "name": "boot-test",
    "session": "test",
    "user": "",
    "executable": "bash",
    "arguments": "-c 'while true; do echo hi; sleep 1; done'",
    "environment": "LEVEL=2",
    "working_directory": "",
    "log_path": "",
    "allowed_hosts": "localhost",
    "tree_id": "1.2.3",
}


def _callback(app, input_id):
    return next((k, s) for k, s in server_callbacks(app).items() if any(i["id"] == input_id for i in s["inputs"]))


def _toasts(body) -> str:
    return json.dumps(body.get("sideUpdate", {}).get("toasts", ""))


def _names(services) -> list[str]:
    return [p.name for p in services.drunc.process_manager("t").ps()]


def submit_form(app, client, **changes):
    key, spec = _callback(app, ui.FORM)
    values = {f"{ui.FORM}.n_submit": 1}
    for field in FIELDS:
        values[f"{ui.FIELD_IDS[field]}.value"] = {**FORM_VALUES, **changes}[field]
    response = post(client, key, spec, token=csrf_token(client), values=values, triggered=f"{ui.FORM}.n_submit")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.json


def data_url(data) -> str:
    return "data:application/json;base64," + base64.b64encode(json.dumps(data).encode()).decode()


def preview(app, client, contents, filename="procs.json"):
    key, spec = _callback(app, ui.UPLOAD)
    response = post(client, key, spec, token=csrf_token(client),
                    values={f"{ui.UPLOAD}.contents": contents, f"{ui.UPLOAD}.filename": filename})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.json


def boot_file(app, client, contents, digest, filename="procs.json"):
    key, spec = _callback(app, ui.FILE_SUBMIT)
    values = {f"{ui.FILE_SUBMIT}.n_clicks": 1, f"{ui.UPLOAD}.contents": contents, f"{ui.UPLOAD}.filename": filename,
              f"{ui.FILE_DIGEST}.data": digest}
    response = post(client, key, spec, token=csrf_token(client), values=values,
                    triggered=f"{ui.FILE_SUBMIT}.n_clicks")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.json


@pytest.fixture
def expert(sim_app, logged_in):
    return logged_in(sim_app.server.test_client(), "expert")


# ------------------------------------------------------------------------------------------------- form


def test_an_expert_boots_from_the_form(sim_app, sim_services, expert, monkeypatch):
    pokes = []
    monkeypatch.setattr(sim_services.process_feed, "poke", lambda: pokes.append(1))
    body = submit_form(sim_app, expert)
    [booted] = [p for p in sim_services.drunc.process_manager("t").ps() if p.name == "boot-test"]
    # blank user: BOOT_DEFAULT_USER (the DAQ account), not the web user "expert"
    assert (booted.user, booted.session, booted.tree_id, booted.status) == ("daq", "test", "1.2.3", "RUNNING")
    # blank log path: derived (drunc has no default; without one the process would be DEAD, exit 2)
    log_dir = sim_services.settings.boot_log_dir
    assert re.fullmatch(re.escape(log_dir) + r"/log_daq_test_boot-test_\d{8}T\d{6}Z\.log", booted.log_path)
    time.sleep(0.3)
    [still] = sim_services.drunc.process_manager("t").ps(uuids=[booted.uuid])
    assert still.status == "RUNNING" and Path(booted.log_path).is_file()
    assert booted.executable == "bash -c 'while true; do echo hi; sleep 1; done'"
    assert pokes == [1]
    response = body["response"]
    assert response[ui.MODAL] == {"is_open": False}, "the modal closes after a boot"
    assert response[ui.FIELD_IDS["tree_id"]] == {"invalid": False}
    assert response[ui.FORM_ERROR] == {"children": "", "is_open": False}
    toasts = _toasts(body)
    assert "Booted boot-test" in toasts and booted.uuid in toasts and "localhost" in toasts
    [event] = sim_services.audit.query(action="process.boot")
    assert (event.username, event.target, event.outcome) == ("expert", "boot-test", "ok")
    assert event.arguments["executable"] == "bash" and event.arguments["environment"] == {"LEVEL": "2"}
    assert event.arguments["allowed_hosts"] == ["localhost"] and event.arguments["user"] == "daq"
    assert event.arguments["log_path"] == booted.log_path and booted.log_path in toasts


def test_a_given_user_and_log_path_are_sent_as_typed(sim_app, sim_services, expert, tmp_path):
    log = tmp_path / "mine" / "given.log"
    submit_form(sim_app, expert, name="given-log", user="np04daq", log_path=str(log))
    [booted] = [p for p in sim_services.drunc.process_manager("t").ps() if p.name == "given-log"]
    assert (booted.user, booted.log_path) == ("np04daq", str(log))


def test_the_form_explains_the_user_and_prefills_the_configured_daq_account(sim_settings):
    settings = sim_settings.with_overrides(boot_default_user="np04daq", boot_log_dir="/data/logs")
    modal = ui.boot_modal(PageContext("expert", frozenset({"process.boot"}), settings=settings))
    tree = json.loads(json.dumps(modal.to_plotly_json(), default=lambda o: o.to_plotly_json()))
    text = json.dumps(tree)
    assert "the unix account on the daq host that runs the process (ssh)" in text.lower()
    assert "np04daq (BOOT_DEFAULT_USER)" in text
    assert "/data/logs/log_<user>_<session>_<name>_<time>.log" in text
    assert "process manager's default" not in text  # drunc has none
    fields = {}

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props", {})
            if props.get("id") in ui.FIELD_IDS.values():
                fields[props["id"]] = props.get("value")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    assert fields[ui.FIELD_IDS["user"]] == "np04daq"  # not the web user's name
    assert fields[ui.FIELD_IDS["log_path"]] == ""


def test_an_invalid_value_shows_under_its_field_and_boots_nothing(sim_app, sim_services, expert):
    before = _names(sim_services)
    body = submit_form(sim_app, expert, tree_id="x", name="bad name")
    response = body["response"]
    assert response[ui.FIELD_IDS["tree_id"]] == {"invalid": True}
    assert "is not a tree id" in response[ui.FEEDBACK_IDS["tree_id"]]["children"]
    assert response[ui.FIELD_IDS["name"]] == {"invalid": True}
    assert response[ui.FIELD_IDS["session"]] == {"invalid": False}
    assert response[ui.FORM_ERROR] == {"children": "Nothing was booted: fix the 2 marked fields.", "is_open": True}
    assert ui.MODAL not in response, "the modal stays open"
    assert "toasts" not in body.get("sideUpdate", {})
    assert _names(sim_services) == before
    [event] = sim_services.audit.query(action="process.boot")
    assert event.outcome == "failed" and "Tree id" in event.detail and event.target == "bad name"


def test_a_shifter_is_refused_and_audited(sim_app, sim_services, logged_in):
    shifter = logged_in(sim_app.server.test_client(), "shifter")
    before = _names(sim_services)
    body = submit_form(sim_app, shifter, name="sneaky")
    assert body.get("response", {}) == {}
    assert "Not allowed" in _toasts(body)
    assert _names(sim_services) == before
    [event] = sim_services.audit.query(username="shifter", outcome="denied")
    assert (event.action, event.target, event.detail) == ("process.boot", "sneaky", "missing permission process.boot")


def test_a_drunc_refusal_is_a_danger_toast_with_the_flag(sim_app, sim_services, expert):
    before = _names(sim_services)
    body = submit_form(sim_app, expert, name="far-away", allowed_hosts="elsewhere.example.org")
    toasts = _toasts(body)
    assert "Boot failed: far-away" in toasts and "DRUNC_EXCEPTION_THROWN" in toasts
    assert "only starts processes on this machine" in toasts and "danger" in toasts
    assert body["response"][ui.FORM_ERROR]["is_open"] is True
    assert ui.MODAL not in body["response"]
    assert _names(sim_services) == before
    [event] = sim_services.audit.query(action="process.boot")
    assert event.outcome == "failed" and event.detail.startswith("DRUNC_EXCEPTION_THROWN: ")


# ------------------------------------------------------------------------------------------------- file

FILE = {"processes": [
    {"name": "file-a", "session": "test", "executable": "sleep", "arguments": ["30"], "tree_id": "1.3.1"},
    {"name": "file-b", "session": "test", "user": "np04daq", "executable": "bash",
     "arguments": "-c 'while true; do echo hi; sleep 1; done'", "environment": {"X": "1"},
     "allowed_hosts": ["127.0.0.1"]},
]}


def test_a_file_is_previewed_then_booted(sim_app, sim_services, expert):
    contents = data_url(FILE)
    shown = preview(sim_app, expert, contents)["response"]
    table = json.dumps(shown[ui.PREVIEW])
    assert "file-a" in table and "file-b" in table and "np04daq" in table and "127.0.0.1" in table and "OK" in table
    log_dir = sim_services.settings.boot_log_dir
    assert re.search(re.escape(log_dir) + r"/log_daq_test_file-a_\d{8}T\d{6}Z\.log", table), "derived, shown"
    assert shown[ui.FILE_SUBMIT] == {"children": "Boot 2 processes", "disabled": False}
    assert "all valid" in json.dumps(shown[ui.FILE_STATUS])
    assert not {"file-a", "file-b"} & set(_names(sim_services)), "a preview boots nothing"
    digest = shown[ui.FILE_DIGEST]["data"]

    body = boot_file(sim_app, expert, contents, digest)
    ps = {p.name: p for p in sim_services.drunc.process_manager("t").ps()}
    assert ps["file-a"].status == "RUNNING" and ps["file-b"].user == "np04daq" and ps["file-a"].user == "daq"
    assert ps["file-a"].log_path.startswith(log_dir + "/log_daq_test_file-a_")
    assert ps["file-b"].log_path.startswith(log_dir + "/log_np04daq_test_file-b_")
    assert body["response"] == {ui.MODAL: {"is_open": False}, ui.UPLOAD: {"contents": None}}
    toasts = _toasts(body)
    assert "Booted file-a" in toasts and "Booted file-b" in toasts and ps["file-b"].uuid in toasts
    [event] = sim_services.audit.query(action="process.boot")
    assert (event.target, event.outcome) == ("procs.json", "ok")
    assert event.arguments == {"source": "file", "file": "procs.json", "count": 2, "names": ["file-a", "file-b"],
                               "booted": ["file-a", "file-b"]}


def test_a_file_with_an_invalid_entry_cannot_be_booted(sim_app, sim_services, expert):
    bad = {"processes": [FILE["processes"][0], {**FILE["processes"][1], "tree_id": "x", "colour": "red"}]}
    contents = data_url(bad)
    shown = preview(sim_app, expert, contents)["response"]
    table = json.dumps(shown[ui.PREVIEW])
    assert "is not a tree id" in table and "Unknown key(s) 'colour'" in table
    assert shown[ui.FILE_SUBMIT]["disabled"] is True
    assert "1 invalid" in json.dumps(shown[ui.FILE_STATUS])
    before = _names(sim_services)
    body = boot_file(sim_app, expert, contents, shown[ui.FILE_DIGEST]["data"])  # a forged click
    assert "Not done" in _toasts(body) and "nothing was booted" in _toasts(body)
    assert body.get("response", {}) == {}
    assert _names(sim_services) == before
    [event] = sim_services.audit.query(action="process.boot")
    assert event.outcome == "failed" and event.arguments["count"] == 2


def test_only_the_previewed_file_is_booted(sim_app, sim_services, expert):
    shown = preview(sim_app, expert, data_url(FILE))["response"]
    other = data_url({"processes": [{**FILE["processes"][0], "name": "swapped"}]})
    body = boot_file(sim_app, expert, other, shown[ui.FILE_DIGEST]["data"])
    assert "changed since its preview" in _toasts(body)
    assert "swapped" not in _names(sim_services)


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        ("data:application/json;base64," + base64.b64encode(b'[{"name": "a",\n "x": }]').decode(),
         "Not valid JSON: Expecting value at line 2, column 7."),
        (data_url({"procs": []}), "no “processes” key"),
        ("data:application/json;base64,!!!", "could not be read"),
    ],
)
def test_a_bad_file_is_explained(sim_app, expert, contents, message):
    shown = preview(sim_app, expert, contents, filename="bad.json")["response"]
    assert message in json.dumps(shown[ui.FILE_STATUS], ensure_ascii=False)
    assert "bad.json" in json.dumps(shown[ui.FILE_STATUS])
    assert shown[ui.PREVIEW] == {"children": None}
    assert shown[ui.FILE_SUBMIT]["disabled"] is True


def test_a_cleared_upload_clears_the_preview(sim_app, expert):
    shown = preview(sim_app, expert, None)["response"]
    assert shown[ui.PREVIEW] == {"children": None} and shown[ui.FILE_SUBMIT]["disabled"] is True


def test_many_results_are_capped_at_ten_toasts_plus_a_summary(sim_app, sim_services, expert):
    processes = [{"name": f"many-{i:02d}", "session": "many", "executable": "sleep", "arguments": ["30"]}
                 for i in range(11)]
    processes.append({"name": "many-far", "session": "many", "executable": "sleep", "allowed_hosts": "elsewhere"})
    contents = data_url(processes)
    shown = preview(sim_app, expert, contents, filename="many.json")["response"]
    body = boot_file(sim_app, expert, contents, shown[ui.FILE_DIGEST]["data"], filename="many.json")
    toasts = _toasts(body)
    assert toasts.count("Booted many-") == 10
    assert "2 more processes" in toasts and "1 booted: many-10" in toasts and "1 not booted: many-far" in toasts
    assert sum(n.startswith("many-") for n in _names(sim_services)) == 11
    [event] = sim_services.audit.query(action="process.boot")
    assert event.outcome == "failed" and event.detail.startswith("1 of 12 not booted: many-far: DRUNC_EXCEPTION")
    assert event.arguments["count"] == 12 and len(event.arguments["booted"]) == 11
    assert body["response"][ui.MODAL] == {"is_open": False}
