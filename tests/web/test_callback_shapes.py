"""Whatever a browser sends, every server callback answers: enumerated from the app's own callback map.

Each input of each callback gets each wrong-typed value in turn (the others left empty), as the administrator
(who passes every permission check, so the shapes are what is tested). No exception may be logged, no answer may
be a 500 or a "Server error" toast.
"""

from __future__ import annotations

import json
import logging

import pytest
from dash_calls import post, server_callbacks
from support import csrf_token

from auth.actions import guarded_callback
from auth.shapes import BadShape, In, St, check_values, clicks, integer, list_of, record, text

WRONG = {
    "null": None,
    "int": 7,
    "negative": -1,
    "float": 1.5,
    "bigint": 2**63,
    "nested-bigint": {"id": -(2**70), "v": 2**64, "last_id": 2**63},
    "bool": True,
    "list": [1, "a", None],
    "dict": {"a": 1, "b": [2]},
    "huge": "x" * 100_000,
    "surrogate": "x\ud800",
    "nested-surrogate": {"uuid": "x\ud800", "action": "kill", "targets": [{"uuid": "\udfff", "name": "\ud800"}]},
}


def _errors(caplog) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.fixture
def admin(sim_app, logged_in):
    return logged_in(sim_app.server.test_client(), "admin")


def test_every_input_of_every_callback_takes_any_json(sim_app, sim_services, admin, caplog):
    token = csrf_token(admin)
    callbacks = server_callbacks(sim_app)
    calls = 0
    caplog.set_level(logging.WARNING)
    for key, spec in callbacks.items():
        for dep in spec["inputs"] + spec["state"]:
            name = f"{dep['id']}.{dep['property']}"
            trigger = name if dep in spec["inputs"] else None
            for label, value in WRONG.items():
                response = post(admin, key, spec, token=token, values={name: value}, triggered=trigger)
                calls += 1
                body = response.get_data(as_text=True)
                assert response.status_code in (200, 204), (key, name, label, response.status_code, body[:300])
                assert "Server error" not in body, (key, name, label, body[:500])
                assert not _errors(caplog), (key, name, label, _errors(caplog))
    assert calls > 300
    bad = sim_services.audit.query(username="admin", outcome="failed", limit=5000)
    assert any(e.detail.startswith("bad request: ") for e in bad), "a malformed action call was not audited"
    assert not sim_services.audit.query(outcome="attempted"), "an action call was left without its outcome"


def test_a_bad_shape_is_answered_with_a_short_toast_and_audited_for_an_action(sim_app, sim_services, admin):
    from components import process_table as ids

    key, spec = next((k, s) for k, s in server_callbacks(sim_app).items()
                     if any(i["id"] == ids.CONFIRM_OK for i in s["inputs"]))
    response = post(admin, key, spec, token=csrf_token(admin),
                    values={f"{ids.CONFIRM_OK}.n_clicks": 1, f"{ids.PENDING}.data": ["restart", "everything"]})
    toasts = json.dumps(response.json["sideUpdate"]["toasts"])
    assert "Bad request" in toasts and "nothing was done" in toasts
    assert response.json.get("response", {}) == {}
    [event] = sim_services.audit.query(username="admin", action="process")
    assert event.outcome == "failed" and event.detail.startswith("bad request: pm-pending.data: expected an object")


def test_every_server_callback_declares_the_shape_of_every_input(sim_app):
    for key, spec in server_callbacks(sim_app).items():
        shapes = spec["callback"].input_shapes
        assert len(shapes) == len(spec["inputs"]) + len(spec["state"]), key


def test_an_undeclared_input_cannot_be_registered(sim_app):
    from dash import Input, Output

    with pytest.raises(TypeError, match="declare its shape"):
        guarded_callback(sim_app, None, Output("x", "children"), Input("y", "value"))(lambda value: value)


def test_shapes_clean_and_refuse():
    shapes = [("a.n_clicks", clicks), ("b.value", text(5)), ("c.data", record({"v": integer(0)})),
              ("d.rows", list_of(record({"uuid": text(10)}, optional=False)))]
    assert check_values(shapes, (3, "x\ud800", {"v": 1, "x\udfff": ["\ud800"]}, [{"uuid": "u"}])) == (
        3, "x\ufffd", {"v": 1, "x\ufffd": ["\ufffd"]}, [{"uuid": "u"}])
    for values, reason in [
        ((True, None, None, None), "a.n_clicks: expected a count, got a boolean"),
        ((None, "toolong", None, None), "b.value: expected at most 5 characters"),
        ((None, None, {"v": "1"}, None), "c.data: 'v': expected a whole number, got text"),
        ((None, None, None, [None]), "d.rows: item 0: expected an object, got null"),
        ((None, None, None), "expected 4 values, got 3"),
    ]:
        with pytest.raises(BadShape, match=reason):
            check_values(shapes, values)
    assert In("a", "value", clicks).shape is clicks and St("a", "value", clicks).shape is clicks
