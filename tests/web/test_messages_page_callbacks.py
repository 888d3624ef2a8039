"""The Messages page's callbacks and export route through the Flask test client (messages stored by hand)."""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from dash_calls import post, server_callbacks
from support import csrf_token

from components import messages_page as ui
from components import shell
from store.messages import NewMessage
from viewmodels import message_query as mq

_offsets = itertools.count()
T0 = datetime.now(UTC) - timedelta(minutes=30)


def insert(services, *rows: tuple[str, str], kind: str = "broadcast", session: str = "s1", host: str = "",
           start: datetime | None = None, details: dict | None = None) -> None:
    """(severity, text) messages, one a second from `start`, in the order given."""
    start = start or T0
    batch = [NewMessage(topic=f"control.{session}.pm", partition=0, offset=next(_offsets),
                        time=start + timedelta(seconds=i), kind=kind, severity=sev, session=session,
                        source="pm" if kind == "broadcast" else "ru-01", host=host,
                        broadcast_type="SERVER_READY" if kind == "broadcast" else "",
                        issue_name="rl::Fail" if kind == "ers" else "", text=text, details=details)
             for i, (sev, text) in enumerate(rows)]
    services.messages.insert_batch(batch)


class Page:
    def __init__(self, app, client, query: str = ""):
        self.client = client
        self.token = csrf_token(client)
        self.callbacks = server_callbacks(app)
        self.state = mq.state_to_dict(mq.state_from_query(query))
        self.live = None

    def _find(self, input_id: str, prop: str, output: str | None = None):
        return next((k, s) for k, s in self.callbacks.items()
                    if any(i["id"] == input_id and i["property"] == prop for i in s["inputs"])
                    and (output is None or output in k))

    def call(self, input_id: str, prop: str, values: dict, triggered: str | None = None,
             output: str | None = None) -> dict:
        key, spec = self._find(input_id, prop, output)
        response = post(self.client, key, spec, token=self.token, values=values,
                        triggered=triggered or f"{input_id}.{prop}")
        assert response.status_code in (200, 204), response.get_data(as_text=True)[:500]
        if response.status_code == 204:
            return {}
        assert "Server error" not in response.get_data(as_text=True), response.get_data(as_text=True)[:500]
        return response.json["response"]

    def block(self, start: int, end: int, anchor: dict | None = None) -> dict:
        request = {"start": start, "end": end, "anchor": anchor, "n": 1}
        out = self.call(ui.REQUEST, "data", {f"{ui.REQUEST}.data": request, f"{ui.STATE}.data": self.state,
                                             f"{ui.LIVE}.data": self.live})
        return out[ui.GRID]["getRowsResponse"]

    def filters(self, **controls) -> dict:
        s = mq.state_from_dict(self.state)
        values = {f"{ui.MODE}.value": s.mode, f"{ui.RANGE}.value": s.range, f"{ui.START}.value": s.start,
                  f"{ui.END}.value": s.end, f"{ui.SEVERITY}.value": list(s.severities),
                  f"{ui.KIND}.value": list(s.kinds) or list(mq.KINDS), f"{ui.TEXT}.value": s.text,
                  f"{ui.TEXT_EXCLUDE}.value": s.text_exclude,
                  **{f"{ui.FIELDS[k]}.value": getattr(s, k) for k in mq.FIELD_FILTERS}}
        for name, value in controls.items():
            target = ui.FIELDS.get(name) or {"mode": ui.MODE, "range": ui.RANGE, "start": ui.START, "end": ui.END,
                                             "severity": ui.SEVERITY, "kind": ui.KIND, "text": ui.TEXT,
                                             "text_exclude": ui.TEXT_EXCLUDE}[name]
            values[f"{target}.value"] = value
        out = self.call(ui.MODE, "value", values)
        if ui.STATE in out:
            self.state = out[ui.STATE]["data"]
        return out

    def status(self) -> str:
        out = self.call(ui.STATE, "data", {f"{ui.STATE}.data": self.state, f"{ui.REFRESH}.data": None},
                        triggered=f"{ui.STATE}.data", output=ui.STATUS)
        return json.dumps(out[ui.STATUS]["children"])

    def poll(self, follow: bool = True, triggered: str | None = None) -> dict:
        out = self.call(ui.TICK, "n_intervals", {f"{ui.TICK}.n_intervals": 1, f"{ui.STATE}.data": self.state,
                                                 f"{ui.FOLLOW}.value": follow, f"{ui.LIVE}.data": self.live},
                        triggered=triggered)
        if ui.LIVE in out:
            self.live = out[ui.LIVE]["data"]
        return out


@pytest.fixture
def viewer(app, logged_in):
    return Page(app, logged_in(app.server.test_client(), "viewer"))


@pytest.fixture
def expert(app, logged_in):
    return Page(app, logged_in(app.server.test_client(), "expert"))


def texts(response) -> list[str]:
    return [r["text"] for r in response["rowData"]]


def test_blocks_are_read_by_keyset_newest_first(viewer, services):
    insert(services, *[("INFO", f"m{i:03d}") for i in range(250)])
    first = viewer.block(0, 100)
    assert texts(first)[:3] == ["m249", "m248", "m247"] and len(first["rowData"]) == 100
    assert "rowCount" not in first  # more to come: the grid extends its scroll
    last = first["rowData"][-1]
    second = viewer.block(100, 200, {"index": 99, "time": last["t"], "id": int(last["id"])})
    assert texts(second)[0] == "m149" and len(second["rowData"]) == 100
    # no anchor loaded near the block (scrolled back after the cache dropped it): skipped from the nearest one
    third = viewer.block(200, 300, {"index": 99, "time": last["t"], "id": int(last["id"])})
    assert texts(third) == [f"m{i:03d}" for i in range(49, -1, -1)] and third["rowCount"] == 250


def test_filters_reach_the_grid_the_url_and_the_export_links(expert, services):
    insert(services, ("INFO", "hello"), ("ERROR", "boom"), ("DEBUG", "ack"), ("FATAL", "dead heartbeat"))
    insert(services, ("ERROR", "other session"), session="s2", start=T0 + timedelta(seconds=10))
    assert texts(expert.block(0, 100)) == ["other session", "dead heartbeat", "boom", "hello"]  # no DEBUG
    out = expert.filters(severity=["ERROR", "FATAL"], session="s1", text_exclude="heartbeat")
    assert out[ui.URL_SYNC]["data"] == "?sev=ERROR%2CFATAL&qx=heartbeat&session=s1"
    assert out[ui.EXPORT_CSV]["href"] == "/messages/export.csv?sev=ERROR%2CFATAL&qx=heartbeat&session=s1"
    assert texts(expert.block(0, 100)) == ["boom"]
    expert.filters(severity=["ERROR", "FATAL"], session="!s1", text_exclude="")
    assert texts(expert.block(0, 100)) == ["other session"]


def test_a_bad_time_range_is_a_message_not_an_error(viewer):
    out = viewer.filters(mode="query", range="custom", start="2025-01-02", end="2025-01-01")
    assert "before its start" in out[ui.FILTER_ERROR]["children"] and ui.STATE not in out


def test_status_bar_counts_per_severity(viewer, services):
    insert(services, ("INFO", "a"), ("ERROR", "b"), ("ERROR", "c"), ("FATAL", "d"), ("DEBUG", "e"))
    status = viewer.status()
    assert '"4"' in status and "matching" in status and "query" in status and " ms" in status
    viewer.filters(severity=["ERROR"])
    assert '"2"' in viewer.status()


def test_live_mode_reloads_when_new_rows_arrive_and_counts_them_when_paused(viewer, services):
    insert(services, ("INFO", "old"))
    viewer.poll()  # starts the live cursor
    assert viewer.poll().get(ui.REFRESH) is None
    insert(services, ("ERROR", "new one"), start=datetime.now(UTC))
    out = viewer.poll()
    assert out[ui.REFRESH]["data"]["new"] == 1
    rows = viewer.block(0, 100)["rowData"]
    assert rows[0]["text"] == "new one" and rows[0]["fresh"] and not rows[1]["fresh"]
    insert(services, ("INFO", "x"), ("INFO", "y"), start=datetime.now(UTC))
    out = viewer.poll(follow=False)
    assert out[ui.NEW]["children"] == "2 new" and ui.REFRESH not in out


def test_inspector_shows_an_ers_chain_as_text(viewer, services):
    details = {"context": {"host": "np04", "application": "ru-01", "file": "Ru.cpp", "line": 3},
               "parameters": {"port": "5000"},
               "causes": [{"name": "rl::Socket", "message": "<b>closed</b>", "severity": "ERROR",
                           "context": {}, "parameters": {}}]}
    insert(services, ("ERROR", "start failed"), kind="ers", details=details)
    m_id = services.messages.latest_id()
    out = viewer.call(ui.OPEN, "data", {f"{ui.OPEN}.data": {"id": m_id, "n": 1}})
    assert out[ui.INSPECTOR]["is_open"] is True
    body = json.dumps(out[ui.INSPECTOR_BODY]["children"])
    assert "rl::Fail" in body and "Caused by" in body and "rl::Socket" in body and "Ru.cpp:3" in body
    assert "\\u003cb\\u003eclosed" in body or "<b>closed</b>" in body  # a string child: rendered as text
    assert json.loads(out[ui.COPY_TEXT]["children"])["details"]["parameters"] == {"port": "5000"}
    assert out[ui.ACK_ONE]["disabled"] is True  # a viewer cannot acknowledge


def test_acknowledge_one_and_all_drop_the_badge_and_are_audited(expert, viewer, services):
    insert(services, ("ERROR", "e1"), ("FATAL", "f1"), ("INFO", "i1"), ("ERROR", "e2"))
    badge = viewer.call(shell.ALARMS_TICK, "n_intervals", {f"{shell.ALARMS_TICK}.n_intervals": 1})
    assert badge[shell.ALARMS]["children"] == "⚠ 3"
    e2 = services.messages.latest_id()
    # a viewer is refused, and the refusal is audited
    key, spec = viewer._find(ui.ACK_ONE, "n_clicks")
    refused = post(viewer.client, key, spec, token=viewer.token,
                   values={f"{ui.ACK_ONE}.n_clicks": 1, f"{ui.SELECTED}.data": e2})
    assert "acknowledged by" not in refused.get_data(as_text=True)
    assert services.acks.unacknowledged_count() == 3
    out = expert.call(ui.ACK_ONE, "n_clicks", {f"{ui.ACK_ONE}.n_clicks": 1, f"{ui.SELECTED}.data": e2})
    assert "acknowledged by expert" in out[ui.ACK_INFO]["children"]
    assert services.acks.unacknowledged_count() == 2
    rows = expert.block(0, 100)["rowData"]
    assert [r["ack"] for r in rows if r["text"] == "e2"] == [True]
    confirm = expert.call(ui.ACK_ALL, "n_clicks", {f"{ui.ACK_ALL}.n_clicks": 1, f"{ui.ACK_NO}.n_clicks": None})
    assert "Acknowledge 2 unacknowledged" in confirm[ui.ACK_MODAL_TEXT]["children"]
    upto = confirm[ui.ACK_UPTO]["data"]
    expert.call(ui.ACK_YES, "n_clicks", {f"{ui.ACK_YES}.n_clicks": 1, f"{ui.ACK_UPTO}.data": upto})
    assert services.acks.unacknowledged_count() == 0
    badge = viewer.call(shell.ALARMS_TICK, "n_intervals", {f"{shell.ALARMS_TICK}.n_intervals": 2})
    assert badge[shell.ALARMS]["children"] == ""
    events = {(e.username, e.action, e.outcome) for e in services.audit.query()}
    assert ("viewer", "messages.acknowledge", "denied") in events
    assert ("expert", "messages.acknowledge", "ok") in events
    assert ("expert", "messages.acknowledge_all", "ok") in events


def test_export_is_refused_to_a_viewer_and_audited(viewer, services):
    insert(services, ("ERROR", "x"))
    response = viewer.client.get("/messages/export.csv")
    assert response.status_code == 403 and "messages.manage" in response.get_data(as_text=True)
    events = [(e.username, e.action, e.outcome) for e in services.audit.query()]
    assert ("viewer", "messages.export", "denied") in events


def test_export_streams_csv_and_json_lines_of_the_filter(expert, services):
    insert(services, ("INFO", "=1+1"), ("ERROR", 'boom, "quoted"'), ("DEBUG", "ack"))
    response = expert.client.get("/messages/export.csv?sev=INFO,ERROR")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["text"] for r in rows] == ['boom, "quoted"', "'=1+1"]
    response = expert.client.get("/messages/export.jsonl?sev=ERROR")
    lines = response.get_data(as_text=True).splitlines()
    assert [json.loads(line)["text"] for line in lines] == ['boom, "quoted"']
    events = [(e.action, e.outcome, (e.arguments or {}).get("rows")) for e in services.audit.query()
              if e.action == "messages.export"]
    assert ("messages.export", "ok", 2) in events and ("messages.export", "ok", 1) in events
    bad = expert.client.get("/messages/export.csv?mode=query&range=custom&from=nonsense")
    assert bad.status_code == 400 and "Bad filter" in bad.get_data(as_text=True)


def test_export_memory_stays_flat(expert, services):
    """A streamed response: the first chunk arrives before the whole export is read."""
    insert(services, *[("INFO", f"row {i}") for i in range(3000)])
    response = expert.client.get("/messages/export.jsonl?sev=INFO")
    chunks = iter(response.response)
    first = next(chunks)
    assert first.count(b"\n") <= 500  # one chunk of lines, not the whole table
    rest = b"".join(chunks)
    assert (first + rest).count(b"\n") == 3000


def test_acknowledge_all_covers_an_alarm_stored_before_an_older_message(expert, services):
    """Acknowledge all bounds by what was stored, not by message time: an ERS issue (its application's clock, in
    ns) can be stored before a broadcast whose Kafka timestamp (in ms) is a little older, and every alarm the
    confirmation counted must still be acknowledged; one stored after the confirmation, however it is timed, not."""
    insert(services, ("ERROR", "ers issue"), kind="ers", start=T0 + timedelta(milliseconds=1))
    insert(services, ("INFO", "status update"), start=T0)
    confirm = expert.call(ui.ACK_ALL, "n_clicks", {f"{ui.ACK_ALL}.n_clicks": 1, f"{ui.ACK_NO}.n_clicks": None})
    assert "Acknowledge 1 unacknowledged" in confirm[ui.ACK_MODAL_TEXT]["children"]
    upto = confirm[ui.ACK_UPTO]["data"]
    insert(services, ("FATAL", "stored after the confirmation, timed earlier"), kind="ers",
           start=T0 - timedelta(hours=1))
    expert.call(ui.ACK_YES, "n_clicks", {f"{ui.ACK_YES}.n_clicks": 1, f"{ui.ACK_UPTO}.data": upto})
    assert services.acks.unacknowledged_count() == 1
