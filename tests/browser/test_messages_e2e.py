"""The Messages page end to end, in headless Chromium, with messages that really travel as in the demo.

The simulator (real gRPC servers) publishes drunc broadcasts and ERS issue chains to the Kafka-protocol test
broker (Tansu, tests/kafka_broker.py); the real consumer (`consumers.MessageConsumer`, on a thread with its own
database connection, as `python -m consumers` runs next to gunicorn) stores them; the app shows them. An ERS
chain with causes comes from an application put into error (`inject_error`, simulator/app_issues.py).

One shift: filter ERROR in the page, open the chain and its causes in the inspector, export CSV and JSON lines
(fetched by the browser, audited), acknowledge one and watch the navbar badge drop, then a new error in live
mode shows within one refresh, and "Acknowledge all" clears the badge again. No console errors.

Broker-specific settings (short session timeout, fast metadata refresh) are test configuration, passed to the
consumer as librdkafka options; the app's code keeps the library defaults.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import uuid

import pytest
from dash.testing.errors import TestingTimeoutError as WaitTimeout
from dash.testing.wait import until
from helpers import browser_login, click, double_click_until
from kafka_broker import kafka_broker_fixture  # noqa: F401 - provides the `kafka_broker` fixture
from selenium.webdriver.common.by import By
from support import make_settings

from components import messages_page as ui
from components import shell
from consumers.consumer import ConsumerConfig, MessageConsumer
from store.db import Database
from store.messages import MessageStore

pytestmark = pytest.mark.browser
SESSION = "e2e-session"
APP0, APP1 = "segment-controller-0-app-0", "segment-controller-0-app-1"
TANSU_OPTIONS = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 600, "topic.metadata.refresh.interval.ms": 1000}
ROWS = f"#{ui.GRID} .ag-center-cols-container .ag-row"
TRAVEL_S = 30  # simulator → broker → consumer → store: generous for a loaded 2-core machine
LIVE_S = ui.POLL_MS / 1000 + 3  # one refresh of the live grid, plus a margin for a loaded browser


@pytest.fixture
def simulator(tmp_path, kafka_broker):
    """The simulator publishing to the test broker, as the demo runs it (no ERS generator: every issue here is
    one the test caused)."""
    from simulator.run import SimulatorConfig, start_simulator

    sim = start_simulator(SimulatorConfig(kafka=kafka_broker.bootstrap, processes=0, segments=1, apps=2,
                                          session=SESSION, log_dir=tmp_path / "sim-logs"))
    yield sim
    sim.stop(0)


@pytest.fixture
def sim_settings(tmp_path, simulator, kafka_broker):
    return make_settings(
        tmp_path,
        process_manager_url=simulator.addresses["process_manager"],
        controller_url=simulator.addresses["controller"],
        session_manager_url=simulator.addresses["session_manager"],
        controller_addresses=tuple(simulator.controller_addresses.items()),
        kafka_address=kafka_broker.bootstrap,
        kafka_group_id=f"e2e-{uuid.uuid4().hex[:10]}",  # a fresh group per test (Tansu quirk b)
    )


@pytest.fixture
def consumer(sim_settings, sim_services):
    """The message consumer on a thread, writing to the app's database (migrated by `sim_services`)."""
    db = Database(sim_settings.database_url)
    running = MessageConsumer(ConsumerConfig.from_settings(sim_settings, TANSU_OPTIONS), MessageStore(db),
                              batch_size=100, poll_timeout=0.2)
    failure: list[BaseException] = []

    def run():
        try:
            running.run()
        except BaseException as exc:  # noqa: BLE001 - re-raised at teardown
            failure.append(exc)

    thread = threading.Thread(target=run, name="e2e-consumer", daemon=True)
    thread.start()
    yield running
    try:  # closing before the group join completed wedges a Tansu group
        until(lambda: running.joined or failure, 20)
    except WaitTimeout:
        pass
    running.stop()
    thread.join(20)
    db.dispose()
    assert not thread.is_alive(), "the consumer did not stop"
    assert not failure, failure


def wait(condition, timeout: float, show=lambda: ""):
    """`until`, with what was seen instead of the condition when it times out."""
    try:
        return until(condition, timeout)
    except WaitTimeout:
        raise AssertionError(f"not met within {timeout} s; seen: {show()}") from None


def stored_issue(services, application: str, after: int = 0):
    """Wait until the consumer stored the ERS issue of `application` newer than id `after`; returns the row."""
    def find():
        return next((m for m in services.messages.newer_than(after, 1000)
                     if m.kind == "ers" and m.source == application), None)
    return wait(find, TRAVEL_S, lambda: f"no ERS issue from {application} stored")


def recent_audit(services) -> list:
    return [(e.action, e.outcome, e.target, e.detail) for e in services.audit.query(limit=6)]


def row_ids(dash_duo) -> list[str]:
    return dash_duo.driver.execute_script(
        """
        const rows = [...document.querySelectorAll(arguments[0])].filter(r => r.querySelector('[col-id="text"]'));
        rows.sort((a, b) => Number(a.getAttribute('row-index')) - Number(b.getAttribute('row-index')));
        return rows.map(r => r.getAttribute('row-id'));
        """,
        ROWS,
    )


def badge(dash_duo) -> str:
    """The navbar alarm badge's text ("" when hidden: textContent, since Selenium's .text is empty then)."""
    return dash_duo.driver.execute_script("return document.getElementById(arguments[0]).textContent", shell.ALARMS)


def inspector(dash_duo) -> str:
    """The inspector's text ("" while closed). textContent: Selenium's .text leaves out what the offcanvas has
    scrolled or clipped away."""
    return dash_duo.driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.textContent : '';", ui.INSPECTOR_BODY)


def show_only(dash_duo, severity: str) -> None:
    """Tick `severity` alone in the filter bar, as a user clicks the toggle buttons; a click lost on a loaded
    browser is made again on the next round (a second apart, so that a slow redraw is not toggled twice)."""
    def toggle_wrong() -> bool:
        wrong = []
        for box in dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#{ui.SEVERITY} input[type=checkbox]"):
            label = dash_duo.driver.find_element(By.CSS_SELECTOR, f"label[for='{box.get_attribute('id')}']")
            if box.is_selected() != (label.text == severity):
                wrong.append(label)
        for label in wrong:
            label.click()
        return not wrong

    until(toggle_wrong, 20, poll=1)


def fetch(dash_duo, href: str) -> dict:
    """GET `href` from the page, with its session cookie, as the export link's download does."""
    return dash_duo.driver.execute_async_script(
        """
        const [href, done] = arguments;
        fetch(href, {credentials: 'same-origin'}).then(r => r.text().then(text => done({
          status: r.status, type: r.headers.get('Content-Type'),
          disposition: r.headers.get('Content-Disposition'), text})));
        """,
        href,
    )


def check_export(live, services, first) -> None:
    for link, fmt in ((ui.EXPORT_CSV, "csv"), (ui.EXPORT_JSONL, "jsonl")):
        href = live.find_element(f"#{link}").get_attribute("href")
        assert f"/messages/export.{fmt}?" in href and "sev=ERROR" in href, href
        got = fetch(live, href)
        assert got["status"] == 200, got
        assert "attachment" in got["disposition"] and got["disposition"].endswith(f'.{fmt}"'), got
        if fmt == "csv":
            assert got["type"].startswith("text/csv"), got
            records = list(csv.DictReader(io.StringIO(got["text"])))
            assert [(r["id"], r["severity"], r["kind"], r["source"], r["issue_name"]) for r in records] == [
                (str(first.id), "ERROR", "ers", APP0, "dfmodules::DataStoreFull")]
            details = json.loads(records[0]["details"])
        else:
            records = [json.loads(line) for line in got["text"].splitlines()]
            assert [(r["id"], r["severity"], r["text"]) for r in records] == [(first.id, "ERROR", first.text)]
            details = records[0]["details"]
        assert [c["name"] for c in details["causes"]] == ["hdf5libs::FileOperationProblem", "ers::FileSystemError"]

    def exports():
        return [e for e in services.audit.query(username="expert", action="messages.export") if e.outcome == "ok"]
    # the trail is completed once the stream has ended, after the browser read it
    wait(lambda: len(exports()) == 2, 10, lambda: services.audit.query(action="messages.export"))
    assert sorted(e.target for e in exports()) == ["csv", "jsonl"]
    assert all(e.arguments["rows"] == 1 and "sev=ERROR" in e.arguments["filter"] for e in exports())


def test_messages_travel_from_the_simulator_through_kafka_to_the_page(sim_live, simulator, sim_services, consumer):
    live = sim_live
    simulator.root.inject_error(APP0)  # the application reports why over ERS; its controller broadcasts it
    first = stored_issue(sim_services, APP0)
    browser_login(live, "expert", next_path="/messages")
    live.wait_for_text_to_equal(f"#{shell.ALARMS}", "⚠ 1")

    # filter ERROR in the filter bar: the grid and the URL follow; the broadcasts (INFO) are gone
    wait(lambda: str(first.id) in row_ids(live), 20, lambda: row_ids(live))
    assert len(row_ids(live)) > 1  # the simulator's broadcasts came through too
    show_only(live, "ERROR")
    wait(lambda: row_ids(live) == [str(first.id)], 20, lambda: row_ids(live))
    wait(lambda: "sev=ERROR&" in live.driver.current_url + "&", 10, lambda: live.driver.current_url)
    live.wait_for_text_to_equal(f"#{ui.P}total", "1")

    # the inspector: the chain, each cause nested in the issue it caused, with context and parameters
    double_click_until(live, f"{ROWS}[row-id='{first.id}'] [col-id='text']", lambda: "Caused by" in inspector(live))
    body = inspector(live)
    context = first.details["context"]
    for expected in ("ERS chain", "dfmodules::DataStoreFull", "Data store 'hdf5_datawriter_0' is full",
                     "hdf5libs::FileOperationProblem", "ers::FileSystemError", "No space left on device", APP0,
                     context["host"], f"{context['file']}:{context['line']}", "DataWriterModule::do_work",
                     "hdf5_datawriter_0", "free_gb"):
        assert expected in body, (expected, body)
    assert body.count("Caused by") == 2
    nested = live.find_elements(f"#{ui.INSPECTOR_BODY} .rc-msgs-cause")
    assert [n.get_attribute("data-depth") for n in nested] == ["1", "2"]

    # export the filtered view, as CSV and JSON lines, through the browser; both audited
    check_export(live, sim_services, first)

    # acknowledge it: the badge drops (hidden at zero)
    wait(lambda: live.find_element(f"#{ui.ACK_ONE}").is_enabled(), 10)
    click(live, f"#{ui.ACK_ONE}")
    wait(lambda: "acknowledged by expert" in live.find_element(f"#{ui.ACK_INFO}").text, 20,
         lambda: (live.find_element(f"#{ui.ACK_INFO}").text, recent_audit(sim_services)))
    wait(lambda: badge(live) == "", 10, lambda: badge(live))

    # live mode: a new error from another application shows within one refresh once it is stored
    live.driver.get(f"{live.server.url}/messages")
    wait(lambda: str(first.id) in row_ids(live), 20, lambda: row_ids(live))
    simulator.root.inject_error(APP1)
    second = stored_issue(sim_services, APP1, after=first.id)
    wait(lambda: str(second.id) in row_ids(live)[:3], LIVE_S, lambda: row_ids(live))
    live.wait_for_text_to_equal(f"#{shell.ALARMS}", "⚠ 1")

    # acknowledge all, after the confirmation: the badge drops again
    click(live, f"#{ui.ACK_ALL}")
    live.wait_for_contains_text(f"#{ui.ACK_MODAL_TEXT}", "Acknowledge 1 unacknowledged ERROR and FATAL message")
    wait(lambda: live.find_element(f"#{ui.ACK_YES}").is_enabled(), 10)
    click(live, f"#{ui.ACK_YES}")  # a DOM click: the modal may still be fading in
    wait(lambda: badge(live) == "", 10, lambda: (badge(live), recent_audit(sim_services)))
    acks = sim_services.audit.query(username="expert", outcome="ok")
    assert {"messages.acknowledge", "messages.acknowledge_all"} <= {e.action for e in acks}

    errors = [e for e in live.get_logs() if e.get("level") == "SEVERE"]
    assert errors == [], [e["message"][:500] for e in errors]
