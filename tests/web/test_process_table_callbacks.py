"""The Process Manager table and action callbacks through the Flask test client, against the simulator."""

from __future__ import annotations

import json

import pytest
from dash_calls import post, server_callbacks
from support import csrf_token

from components import process_table as ids


def _callback(app, input_id):
    return next((k, s) for k, s in server_callbacks(app).items() if any(i["id"] == input_id for i in s["inputs"]))


def _refresh(app, client, shown=None, refresh="1"):
    key, spec = _callback(app, ids.TICK)
    response = post(client, key, spec, token=csrf_token(client),
                    values={f"{ids.TICK}.n_intervals": 1, f"{ids.VERSION}.data": shown,
                            f"{ids.REFRESH}.value": refresh},
                    triggered=f"{ids.TICK}.n_intervals")
    assert response.status_code in (200, 204), response.get_data(as_text=True)[:300]
    return response


def _toasts(body) -> str:
    return json.dumps(body.get("sideUpdate", {}).get("toasts", ""), ensure_ascii=False)


@pytest.fixture
def shifter(sim_app, logged_in):
    return logged_in(sim_app.server.test_client(), "shifter")


def _first_full(sim_app, client, sim_services):
    sim_services.process_feed.refresh_now()
    body = _refresh(sim_app, client).json["response"]
    return body


def test_first_tick_sends_the_whole_table_then_an_unchanged_one_sends_only_the_time(sim_app, shifter, sim_services):
    body = _first_full(sim_app, shifter, sim_services)
    rows = body[ids.GRID]["rowData"]
    assert len(rows) == 4 and {r["status"] for r in rows} == {"RUNNING"}
    assert body[ids.COUNT]["children"].startswith("4 processes")
    shown = body[ids.VERSION]["data"]
    sim_services.process_feed.refresh_now()
    response = _refresh(sim_app, shifter, shown)
    again = response.json["response"]
    assert list(again) == [ids.STATUS] and again[ids.STATUS]["children"].startswith("updated ")
    assert len(response.get_data()) < 400


def test_kill_through_the_confirmation_removes_the_rows_and_reports_each(sim_app, shifter, sim_services):
    body = _first_full(sim_app, shifter, sim_services)
    rows = body[ids.GRID]["rowData"][:2]
    shown = body[ids.VERSION]["data"]
    key, spec = _callback(sim_app, ids.KILL)
    opened = post(shifter, key, spec, token=csrf_token(shifter),
                  values={f"{ids.KILL}.n_clicks": 1, f"{ids.GRID}.selectedRows": rows},
                  triggered=f"{ids.KILL}.n_clicks").json["response"]
    assert opened[ids.CONFIRM]["is_open"] is True
    listing = json.dumps(opened[ids.CONFIRM_BODY])
    assert all(r["uuid"] in listing and r["name"] in listing for r in rows)
    pending = opened[ids.PENDING]["data"]

    key, spec = _callback(sim_app, ids.CONFIRM_OK)
    done = post(shifter, key, spec, token=csrf_token(shifter),
                values={f"{ids.CONFIRM_OK}.n_clicks": 1, f"{ids.PENDING}.data": pending},
                triggered=f"{ids.CONFIRM_OK}.n_clicks").json
    assert done["response"][ids.CONFIRM]["is_open"] is False
    assert _toasts(done).count("killed (exit code") == 2
    after = _refresh(sim_app, shifter, shown).json["response"]
    removed = {r["uuid"] for r in after[ids.GRID]["rowTransaction"]["remove"]}
    assert removed == {r["uuid"] for r in rows}
    [event] = sim_services.audit.query(action="process.kill")
    assert event.username == "shifter" and event.outcome == "ok" and rows[0]["uuid"][:8] in event.target
    assert set(event.arguments["uuids"]) == removed


def test_flush_of_a_running_process_says_why_nothing_happened(sim_app, shifter, sim_services):
    rows = _first_full(sim_app, shifter, sim_services)[ids.GRID]["rowData"][:1]
    key, spec = _callback(sim_app, ids.CONFIRM_OK)
    done = post(shifter, key, spec, token=csrf_token(shifter),
                values={f"{ids.CONFIRM_OK}.n_clicks": 1,
                        f"{ids.PENDING}.data": {"action": "flush", "targets": rows}},
                triggered=f"{ids.CONFIRM_OK}.n_clicks").json
    assert "only DEAD processes are flushed" in _toasts(done)
    assert sim_services.audit.query(action="process.flush")[0].outcome == "failed"


def test_restart_keeps_the_uuid(sim_app, shifter, sim_services):
    row = _first_full(sim_app, shifter, sim_services)[ids.GRID]["rowData"][0]
    key, spec = _callback(sim_app, ids.CONFIRM_OK)
    done = post(shifter, key, spec, token=csrf_token(shifter),
                values={f"{ids.CONFIRM_OK}.n_clicks": 1,
                        f"{ids.PENDING}.data": {"action": "restart", "targets": [row]}},
                triggered=f"{ids.CONFIRM_OK}.n_clicks").json
    assert "restarted on" in _toasts(done)
    assert [p.status for p in sim_services.drunc.process_manager("t").ps(uuids=[row["uuid"]])] == ["RUNNING"]


def test_a_viewer_cannot_kill_even_with_a_forged_call(sim_app, logged_in, sim_services):
    viewer = logged_in(sim_app.server.test_client(), "viewer")
    rows = _first_full(sim_app, viewer, sim_services)[ids.GRID]["rowData"][:1]
    key, spec = _callback(sim_app, ids.CONFIRM_OK)
    body = post(viewer, key, spec, token=csrf_token(viewer),
                values={f"{ids.CONFIRM_OK}.n_clicks": 1, f"{ids.PENDING}.data": {"action": "kill", "targets": rows}},
                triggered=f"{ids.CONFIRM_OK}.n_clicks").json
    assert "Not allowed" in _toasts(body)
    assert len(sim_services.drunc.process_manager("t").ps()) == 4
    [event] = sim_services.audit.query(username="viewer", outcome="denied")
    assert event.action == "process.kill" and rows[0]["uuid"][:8] in event.target


def test_terminate_needs_the_typed_session_name(sim_app, logged_in, sim_services):
    expert = logged_in(sim_app.server.test_client(), "expert")
    _first_full(sim_app, expert, sim_services)
    key, spec = _callback(sim_app, ids.TERMINATE)
    opened = post(expert, key, spec, token=csrf_token(expert), values={f"{ids.TERMINATE}.n_clicks": 1},
                  triggered=f"{ids.TERMINATE}.n_clicks").json["response"]
    assert opened[ids.TERM_EXPECTED]["data"] == "demo-session"
    key, spec = _callback(sim_app, ids.TERM_OK)
    wrong = post(expert, key, spec, token=csrf_token(expert),
                 values={f"{ids.TERM_OK}.n_clicks": 1, f"{ids.TERM_TEXT}.value": "demo"},
                 triggered=f"{ids.TERM_OK}.n_clicks").json
    assert "Type “demo-session” exactly" in _toasts(wrong)
    assert len(sim_services.drunc.process_manager("t").ps()) == 4
    done = post(expert, key, spec, token=csrf_token(expert),
                values={f"{ids.TERM_OK}.n_clicks": 1, f"{ids.TERM_TEXT}.value": "demo-session"},
                triggered=f"{ids.TERM_OK}.n_clicks").json
    assert _toasts(done).count("terminated (exit code") == 4
    assert sim_services.drunc.process_manager("t").ps() == []
    outcomes = [e.outcome for e in sim_services.audit.query(action="process.terminate")]
    assert outcomes == ["ok", "failed"]


def test_shifter_cannot_terminate(sim_app, shifter, sim_services):
    key, spec = _callback(sim_app, ids.TERM_OK)
    body = post(shifter, key, spec, token=csrf_token(shifter),
                values={f"{ids.TERM_OK}.n_clicks": 1, f"{ids.TERM_TEXT}.value": "demo-session"},
                triggered=f"{ids.TERM_OK}.n_clicks").json
    assert "Not allowed" in _toasts(body)
    assert len(sim_services.drunc.process_manager("t").ps()) == 4
    assert sim_services.audit.query(action="process.terminate")[0].outcome == "denied"


def test_url_filters_round_trip(sim_app, shifter):
    from pages import process_manager
    from pages.context import PageContext

    page = process_manager.layout(PageContext("shifter", frozenset({"view"}), query="?session=demo&q=seg&refresh=5"))
    grid = page[ids.GRID]
    assert grid.filterModel["session"]["filter"] == "demo" and grid.dashGridOptions["quickFilterText"] == "seg"
    assert page[ids.REFRESH].value == "5" and page[ids.TICK].interval == 5000 and page[ids.QUICK].value == "seg"

    key, spec = _callback(sim_app, ids.QUICK)
    synced = post(shifter, key, spec, token=csrf_token(shifter),
                  values={f"{ids.GRID}.filterModel": grid.filterModel, f"{ids.QUICK}.value": "seg2",
                          f"{ids.REFRESH}.value": "5"},
                  triggered=f"{ids.QUICK}.value").json["response"]
    assert synced[ids.URL_SYNC]["data"] == "?session=demo&q=seg2&refresh=5"
