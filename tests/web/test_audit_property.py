"""No input lets an action escape the audit trail: property-based, through every audited callback.

Hypothesis text with lone surrogates and NULs goes into every value of every mutating callback, as a user who
may act (the action runs against the simulator) and as one who may not (the call is refused). Each call must
leave exactly one audit row with a final outcome (none left "attempted") and raise nothing. And when the audit
cannot be written, the action does not run and the operator is told.
"""

from __future__ import annotations

import json
import logging

import pytest
from dash_calls import post, server_callbacks
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text as sql
from support import csrf_token

from store.audit import FINAL_OUTCOMES

ODD = st.sampled_from(["\ud800", "\udfff", "\x00", "x\ud800y", "\x00\ud83d", "'; DROP TABLE users; --", ""])
TEXT = st.builds(lambda a, b, c: a + b + c, st.text(st.characters(exclude_categories=()), max_size=30), ODD,
                 st.text(max_size=10))
TARGETS = st.lists(st.fixed_dictionaries({"uuid": TEXT, "name": TEXT}), min_size=1, max_size=3)
VALUE = st.one_of(TEXT, st.none(), st.integers(), st.lists(TEXT, max_size=3), st.dictionaries(TEXT, TEXT, max_size=3))


def _audited(app) -> dict[str, tuple[str, dict]]:
    """Each mutating callback, by its function name."""
    return {spec["callback"].__name__: (key, spec) for key, spec in server_callbacks(app).items()
            if spec["callback"].audit_action}


def _values_strategy(name: str, spec: dict):
    """A strategy for (values, triggered input) of one audited callback: always a real click, anything else."""
    inputs = [f"{d['id']}.{d['property']}" for d in spec["inputs"]]
    states = [f"{d['id']}.{d['property']}" for d in spec["state"]]
    by_state: dict[str, st.SearchStrategy] = {s: st.one_of(TEXT, VALUE) for s in states}
    if name == "run_action":
        by_state = {s: st.fixed_dictionaries({"action": st.sampled_from(["restart", "kill", "flush"]),
                                              "targets": TARGETS}) for s in states}
    elif name == "boot_from_form":
        by_state = {s: TEXT for s in states}
    elif name == "boot_from_file":
        contents = st.one_of(TEXT, TEXT.map(lambda t: "data:application/json;base64," + t))
        by_state = {states[0]: contents, states[1]: TEXT, states[2]: st.one_of(TEXT, st.none())}
    trigger = st.sampled_from(inputs)
    return st.tuples(trigger, st.fixed_dictionaries(by_state)).map(
        lambda pair: ({**pair[1], pair[0]: 1}, pair[0]))


def _property(client, token, audit, username: str, name: str, key: str, spec: dict):
    """The property for one callback: every call leaves exactly one audit row, with a final outcome."""

    @settings(max_examples=15, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(_values_strategy(name, spec))
    def call(case):
        values, trigger = case
        before = {e.id for e in audit.query(username=username, limit=100_000)}
        response = post(client, key, spec, token=token, values=values, triggered=trigger)
        body = response.get_data(as_text=True)
        assert response.status_code in (200, 204), (name, body[:300])
        assert "Server error" not in body, (name, values, body[:500])
        new = [e for e in audit.query(username=username, limit=100_000) if e.id not in before]
        assert len(new) == 1, (name, values, [(e.action, e.outcome, e.detail) for e in new])
        assert new[0].outcome in FINAL_OUTCOMES, (name, new[0])
        if username == "viewer":
            assert new[0].outcome == "denied"

    return call


@pytest.mark.parametrize("username", ["admin", "viewer"])
def test_every_audited_call_leaves_exactly_one_final_row(sim_app, sim_services, logged_in, username, caplog):
    client = logged_in(sim_app.server.test_client(), username)
    token = csrf_token(client)
    audit = sim_services.audit
    caplog.set_level(logging.WARNING)
    audited = _audited(sim_app)
    assert {"run_action", "run_terminate", "boot_from_form", "boot_from_file", "change_user"} <= set(audited)
    for name, (key, spec) in audited.items():
        _property(client, token, audit, username, name, key, spec)()
        errors = [r.getMessage() for r in caplog.records if r.exc_info]
        assert not errors, (name, errors)
    assert not audit.query(outcome="attempted")


def test_no_audit_no_action(sim_app, sim_services, logged_in):
    """The audit table is gone (a real failure of the database, not a stub): the restart is not run."""
    from components import process_table as ids

    client = logged_in(sim_app.server.test_client(), "shifter")
    token = csrf_token(client)
    feed = sim_services.process_feed
    feed.refresh_now()
    _state, rows = feed.rows()
    target = rows[0]
    with sim_services.db.engine.begin() as conn:
        conn.execute(sql("ALTER TABLE audit_events RENAME TO audit_events_away"))
    try:
        key, spec = next((k, s) for k, s in server_callbacks(sim_app).items()
                         if any(i["id"] == ids.CONFIRM_OK for i in s["inputs"]))
        pending = {"action": "kill", "targets": [{"uuid": target["uuid"], "name": target["name"]}]}
        response = post(client, key, spec, token=token,
                        values={f"{ids.CONFIRM_OK}.n_clicks": 1, f"{ids.PENDING}.data": pending})
        toasts = json.dumps(response.json["sideUpdate"]["toasts"])
        assert "audit trail cannot be written" in toasts
        assert response.json.get("response", {}) == {}
    finally:
        with sim_services.db.engine.begin() as conn:
            conn.execute(sql("ALTER TABLE audit_events_away RENAME TO audit_events"))
    feed.refresh_now()
    _state, rows_after = feed.rows()
    assert target["uuid"] in {r["uuid"] for r in rows_after}, "the process was killed without an audit row"
    assert sim_services.audit.query(action="process") == []
