"""The Process Manager message panel's callback through the Flask test client, as a viewer."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime

import pytest
from dash_calls import post, server_callbacks
from support import csrf_token

from callbacks.message_panel import PANELS
from components.message_panel import panel_ids
from store.messages import NewMessage
from viewmodels import messages as vm

IDS = panel_ids("pm-msg")
TOPIC = "control.s1.process_manager"
_offsets = itertools.count()


def insert(services, *messages: tuple[str, str], source: str = "process_manager", session: str = "s1") -> None:
    """Store (severity, text) broadcasts, as the consumer would."""
    rows = []
    for severity, text in messages:
        rows.append(NewMessage(
            topic=f"control.{session}.{source}", partition=0, offset=next(_offsets),
            time=datetime.now(UTC), kind="broadcast", severity=severity, session=session, source=source,
            broadcast_type="ACK" if severity == "DEBUG" else "SERVER_READY", text=text,
        ))
    assert services.messages.insert_batch(rows) == len(rows)


class Panel:
    """The panel's state as the browser keeps it, sent back with every call."""

    def __init__(self, app, client):
        self.client = client
        self.token = csrf_token(client)
        self.key, self.spec = next((k, s) for k, s in server_callbacks(app).items()
                                   if any(i["id"] == IDS.tick for i in s["inputs"]))
        self.values = {f"{IDS.severity}.value": list(vm.DEFAULT_SEVERITIES), f"{IDS.search}.value": "",
                       f"{IDS.follow}.value": True, f"{IDS.cursor}.data": None, f"{IDS.shown}.data": None,
                       f"{IDS.tick}.n_intervals": 0}

    def call(self, triggered: str | None = None, **changes) -> dict:
        names = {"severity": f"{IDS.severity}.value", "search": f"{IDS.search}.value",
                 "follow": f"{IDS.follow}.value", "shown": f"{IDS.shown}.data"}
        for name, value in changes.items():
            self.values[names[name]] = value
        if triggered is None:
            self.values[f"{IDS.tick}.n_intervals"] += 1
        response = post(self.client, self.key, self.spec, token=self.token, values=self.values,
                        triggered=triggered or f"{IDS.tick}.n_intervals")
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        assert "Server error" not in response.get_data(as_text=True)
        out = response.json["response"]
        if IDS.cursor in out:
            self.values[f"{IDS.cursor}.data"] = out[IDS.cursor]["data"]
        if IDS.shown in out:
            self.values[f"{IDS.shown}.data"] = out[IDS.shown]["data"]
        return out


@pytest.fixture
def panel(app, logged_in):
    return Panel(app, logged_in(app.server.test_client(), "viewer"))


def texts(rows) -> list[str]:
    return [r["text"] for r in rows]


def test_the_panel_is_registered_for_the_process_manager_page():
    assert PANELS["pm-msg"].sources == ("process_manager",) and PANELS["pm-msg"].kinds == ("broadcast",)


def test_first_load_is_newest_first_without_debug(panel, services):
    insert(services, ("INFO", "booted a"), ("DEBUG", "ack ps"), ("ERROR", "b died"), ("DEBUG", "ps ok"))
    out = panel.call()
    rows = out[IDS.grid]["rowData"]
    assert texts(rows) == ["b died", "booted a"]
    assert rows[0]["severity"] == "ERROR" and rows[0]["sev_class"] == "rc-sev-error"
    assert all(isinstance(r["id"], str) for r in rows)
    assert out[IDS.count]["children"] == "2"
    assert out[IDS.shown]["data"] == [int(r["id"]) for r in rows]
    assert out[IDS.cursor]["data"]["last_id"] == services.messages.latest_id()  # past the hidden DEBUG rows
    status = json.dumps(out[IDS.status])
    assert "updated" in status and "UTC" in status and "no consumer has run yet" in status


def test_a_tick_sends_only_the_new_rows_as_an_add_transaction(panel, services):
    insert(services, ("INFO", "one"), ("INFO", "two"))
    panel.call()
    insert(services, ("WARNING", "three"), ("DEBUG", "ack"), ("INFO", "four"))
    out = panel.call()
    assert IDS.grid not in out or "rowData" not in out[IDS.grid]
    transaction = out[IDS.grid]["rowTransaction"]
    assert texts(transaction["add"]) == ["four", "three"] and transaction["addIndex"] == 0
    assert "remove" not in transaction
    assert out[IDS.count]["children"] == "4"
    # nothing new: no rows, no transaction, only the "updated" line
    out = panel.call()
    assert set(out) == {IDS.status}


def test_the_oldest_rows_beyond_the_cap_are_removed(panel, services):
    insert(services, ("INFO", "old"))
    panel.call()
    many = list(range(10_000 + vm.CAP, 10_000, -1))  # what a full grid holds, newest first
    insert(services, ("INFO", "new 1"), ("INFO", "new 2"))
    out = panel.call(shown=many)
    transaction = out[IDS.grid]["rowTransaction"]
    assert texts(transaction["add"]) == ["new 2", "new 1"]
    assert transaction["remove"] == [{"id": "10002"}, {"id": "10001"}]
    assert len(out[IDS.shown]["data"]) == vm.CAP and out[IDS.count]["children"] == str(vm.CAP)


def test_a_burst_bigger_than_a_tick_reloads_the_newest(panel, services):
    panel.call()
    insert(services, *[("INFO", f"m{i}") for i in range(vm.TICK_LIMIT + 5)])
    out = panel.call()
    rows = out[IDS.grid]["rowData"]
    assert len(rows) == vm.RELOAD_LIMIT and rows[0]["text"] == f"m{vm.TICK_LIMIT + 4}"


def test_a_severity_change_reloads(panel, services):
    insert(services, ("INFO", "info"), ("DEBUG", "debug"), ("WARNING", "warn"))
    panel.call()
    out = panel.call(f"{IDS.severity}.value", severity=["DEBUG", "WARNING"])
    assert texts(out[IDS.grid]["rowData"]) == ["warn", "debug"]
    out = panel.call(f"{IDS.severity}.value", severity=[])
    assert out[IDS.grid]["rowData"] == [] and out[IDS.count]["children"] == "0"
    # the next tick still follows the chosen severities
    panel.call(f"{IDS.severity}.value", severity=["DEBUG"])
    insert(services, ("INFO", "info 2"), ("DEBUG", "debug 2"))
    assert texts(panel.call()[IDS.grid]["rowTransaction"]["add"]) == ["debug 2"]


def test_the_text_search_filters_case_insensitively(panel, services):
    insert(services, ("INFO", "Disk full on np04"), ("INFO", "booted"), ("ERROR", "disk gone"))
    out = panel.call(f"{IDS.search}.value", search="DISK")
    assert texts(out[IDS.grid]["rowData"]) == ["disk gone", "Disk full on np04"]
    insert(services, ("INFO", "another disk"), ("INFO", "nothing"))
    assert texts(panel.call()[IDS.grid]["rowTransaction"]["add"]) == ["another disk"]


def test_messages_from_other_emitters_are_not_shown(panel, services):
    insert(services, ("INFO", "from the pm"))
    insert(services, ("ERROR", "from the controller"), source="root-controller")
    assert texts(panel.call()[IDS.grid]["rowData"]) == ["from the pm"]
    insert(services, ("ERROR", "controller again"), source="root-controller")
    assert IDS.grid not in panel.call()


def test_paused_sends_nothing_and_resuming_catches_up(panel, services):
    insert(services, ("INFO", "before"))
    panel.call()
    out = panel.call(f"{IDS.follow}.value", follow=False)
    assert set(out) == {IDS.status} and "paused" in json.dumps(out[IDS.status])
    insert(services, ("INFO", "while paused"))
    out = panel.call()  # a stray tick while paused
    assert set(out) == {IDS.status}
    out = panel.call(f"{IDS.follow}.value", follow=True)
    assert texts(out[IDS.grid]["rowTransaction"]["add"]) == ["while paused"]


def test_the_consumer_state_is_shown(panel, services):
    services.messages.update_status(last_error="broker unreachable")
    assert "consumer error: broker unreachable" in json.dumps(panel.call()[IDS.status])
    services.messages.update_status(last_error="")
    assert "consumer polled" in json.dumps(panel.call()[IDS.status])


def test_a_forged_cursor_is_answered_with_a_reload(panel, services):
    insert(services, ("INFO", "x"))
    panel.values[f"{IDS.cursor}.data"] = {"last_id": "drop table", "others": 5}
    panel.values[f"{IDS.shown}.data"] = ["a", None]
    assert texts(panel.call()[IDS.grid]["rowData"]) == ["x"]


def test_the_controller_panel_shows_the_session_on_the_page_only(app, logged_in, services):
    from callbacks.message_panel import SESSION_INPUTS
    from components import controller_ids

    ids = panel_ids("ctl-msg")
    assert SESSION_INPUTS["ctl-msg"] == (controller_ids.SESSION, "data")
    insert(services, ("INFO", "np04 root ready"), source="root-controller", session="np04")
    insert(services, ("INFO", "other session"), source="root-controller", session="other")
    insert(services, ("INFO", "default session"), source="root-controller", session=services.settings.csc_session)
    client = logged_in(app.server.test_client(), "viewer")
    key, spec = next((k, s) for k, s in server_callbacks(app).items() if any(i["id"] == ids.tick for i in s["inputs"]))
    values = {f"{ids.severity}.value": list(vm.DEFAULT_SEVERITIES), f"{ids.search}.value": "",
              f"{ids.follow}.value": True, f"{ids.tick}.n_intervals": 1, f"{controller_ids.SESSION}.data": "np04"}
    out = post(client, key, spec, token=csrf_token(client), values=values,
               triggered=f"{controller_ids.SESSION}.data").json["response"]
    assert texts(out[ids.grid]["rowData"]) == ["np04 root ready"]
    values[f"{controller_ids.SESSION}.data"] = ""
    out = post(client, key, spec, token=csrf_token(client), values=values,
               triggered=f"{controller_ids.SESSION}.data").json["response"]
    assert texts(out[ids.grid]["rowData"]) == ["default session"]
