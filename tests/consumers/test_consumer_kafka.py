"""The message consumer against a real Kafka-protocol broker (Tansu, tests/kafka_broker.py).

Records are produced exactly as drunc (KafkaBroadcaster) and erskafka (ErsPublisher) write them. Every test uses
its own topics (`control.<tag>.*`, `ers.<tag>`) and consumer group, so tests sharing the broker stay independent.
The Tansu-specific consumer settings (short session timeout, fast metadata refresh) are test configuration,
passed as librdkafka options; the application keeps the library defaults.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from kafka_broker import kafka_broker_fixture  # noqa: F401 - provides the `kafka_broker` fixture
from sqlalchemy import text

from consumers.consumer import ConsumerConfig, MessageConsumer
from simulator.broadcast import T, broadcast_message, topic_for
from simulator.kafka import ErsPublisher, KafkaBroadcaster, make_issue_chain
from store.db import Database
from store.messages import DEFAULT_CONSUMER, MessageStore

ROOT = Path(__file__).resolve().parents[2]
TANSU_OPTIONS = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 600, "topic.metadata.refresh.interval.ms": 1000}


def _tag() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def _config(broker, tag: str, **changes) -> ConsumerConfig:
    values = dict(address=broker.bootstrap, broadcast_topics=(rf"^control\.{tag}\..+",), ers_topics=(f"ers.{tag}",),
                  group_id=f"g-{tag}", kafka_options=TANSU_OPTIONS)
    values.update(changes)
    return ConsumerConfig(**values)


def _wait(condition, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout} s")
        time.sleep(interval)


def _all_rows(messages: MessageStore) -> list:
    rows, last = [], 0
    while batch := messages.newer_than(last, 5000):
        rows.extend(batch)
        last = batch[-1].id
    return rows


def _assert_unique(rows) -> None:
    keys = [(r.topic, r.partition, r.offset) for r in rows]
    assert len(keys) == len(set(keys)), "a record was stored twice"


def _producer(broker) -> Producer:
    return Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 20})


def _flush(producer: Producer) -> None:
    assert producer.flush(30) == 0, "records not delivered to the broker"


class _Running:
    """A MessageConsumer on a thread; `stop()` joins it and re-raises what killed it."""

    def __init__(self, consumer: MessageConsumer):
        self.consumer = consumer
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.consumer.run()
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            self.error = exc

    def stop(self, timeout: float = 20.0) -> None:
        self.consumer.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "consumer did not stop"
        if self.error is not None:
            raise self.error


@pytest.fixture
def sqlite_db(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'messages.sqlite3'}")
    db.migrate()
    yield db
    db.dispose()


# -- end to end ---------------------------------------------------------------------------------------------------

def test_broadcasts_ers_chains_and_a_malformed_record_are_each_stored_once(kafka_broker, database_url):
    tag = _tag()
    pm, controller, ers = topic_for(tag, "process_manager"), topic_for(tag, "root-controller"), f"ers.{tag}"
    kafka_broker.create_topics([pm, controller, ers])
    db = Database(database_url)
    db.migrate()
    messages = MessageStore(db)
    broadcasts = [
        ("process_manager", T.SERVER_READY, "ready", "INFO"),
        ("process_manager", T.ACK, "User 'alice' attempting to execute 'boot'", "DEBUG"),
        ("process_manager", T.COMMAND_EXECUTION_SUCCESS, "User 'alice' successfully executed 'boot'", "DEBUG"),
        ("root-controller", T.FSM_STATUS_UPDATE, "Changing operational_state from initial to configured", "INFO"),
        ("root-controller", T.DRUNC_EXCEPTION_RAISED, "Transition 'conf' failed on 'ru-01'", "ERROR"),
        ("root-controller", T.UNHANDLED_EXCEPTION_RAISED, "KeyError: 'detector'", "FATAL"),
    ]
    broadcaster = KafkaBroadcaster(kafka_broker.bootstrap)
    publisher = ErsPublisher(kafka_broker.bootstrap, topic=ers)
    raw = _producer(kafka_broker)
    running = _Running(MessageConsumer(_config(kafka_broker, tag), messages, batch_size=100, poll_timeout=0.2))
    try:
        for process, btype, body, _ in broadcasts:
            broadcaster.emit(process, tag, btype, body)
        full = make_issue_chain(
            tag, "dfo-01", "ERROR", "Data store 'hdf5_datawriter_0' is full", name="dfmodules::DataStoreFull",
            causes=[("hdf5libs::FileOperationProblem", "Problem opening file run1.hdf5"),
                    ("ers::FileSystemError", "No space left on device")],
            host="np04-srv-004", parameters={"store": "hdf5_datawriter_0", "free_gb": 0}, process_id=4242)
        publisher.publish(full)
        publisher.publish(make_issue_chain(tag, "trigger", "WARNING", "Trigger is inhibited in run 12",
                                           name="trigger::TriggerInhibited"))
        raw.produce(pm, value=b"\xff\xfe not a BroadcastMessage \x00\x01")
        broadcaster.close(timeout=10)
        publisher.close(timeout=10)
        _flush(raw)
        assert (broadcaster.failures, publisher.failures) == (0, 0)
        total = len(broadcasts) + 3
        _wait(lambda: messages.count() >= total, 30, "not every record stored")
        time.sleep(0.5)  # nothing more arrives
    finally:
        running.stop()
        db.dispose()
    rows = _all_rows(messages)
    assert len(rows) == total
    _assert_unique(rows)

    stored = {(r.source, r.broadcast_type, r.text): r for r in rows if r.kind == "broadcast"}
    for process, btype, body, severity in broadcasts:
        row = stored[(process, T.BroadcastType.Name(btype), body)]
        assert (row.session, row.severity, row.topic) == (tag, severity, topic_for(tag, process))

    chains = {r.issue_name: r for r in rows if r.kind == "ers"}
    full_row = chains["dfmodules::DataStoreFull"]
    assert (full_row.severity, full_row.session, full_row.source, full_row.host, full_row.topic) == (
        "ERROR", tag, "dfo-01", "np04-srv-004", ers)
    assert full_row.text == "Data store 'hdf5_datawriter_0' is full"
    assert [c["name"] for c in full_row.details["causes"]] == ["hdf5libs::FileOperationProblem",
                                                               "ers::FileSystemError"]
    assert full_row.details["parameters"] == {"free_gb": "0", "store": "hdf5_datawriter_0"}
    assert full_row.details["context"]["pid"] == 4242
    assert chains["trigger::TriggerInhibited"].severity == "WARNING"

    (bad,) = [r for r in rows if r.kind == "undecodable"]
    assert (bad.topic, bad.partition) == (pm, 0)
    assert bad.details["hex"].startswith("fffe")

    status = messages.status(DEFAULT_CONSUMER)
    assert (status.messages_stored, status.undecodable) == (total, 1)
    assert status.last_message_time is not None and status.last_poll_time is not None


# -- fuzz -----------------------------------------------------------------------------------------------------------

def _fuzz_payloads(seed: int, count: int) -> list[tuple[bool, bytes | None]]:
    """(to the ERS topic?, value): random bytes, truncated and valid broadcasts and chains, empty and null."""
    rng = random.Random(seed)
    valid_broadcast = broadcast_message("process_manager", "fuzz", T.ACK, "attempting to execute 'ps'")
    broadcast_bytes = valid_broadcast.SerializeToString()
    chain_bytes = make_issue_chain("fuzz", "app", "ERROR", "boom", name="x::Y", causes=[("a::B", "cause")],
                                   host="h", process_id=1, user_name="daq", cwd="/").SerializeToString()
    payloads = []
    for i in range(count):
        ers = rng.random() < 0.4
        valid = chain_bytes if ers else broadcast_bytes
        kind = i % 6
        if kind == 0:
            value = rng.randbytes(rng.randint(0, 300))
        elif kind == 1:
            value = valid[: rng.randint(0, len(valid) - 1)]
        elif kind == 2:
            flipped = bytearray(valid)
            for _ in range(rng.randint(1, 4)):
                flipped[rng.randrange(len(flipped))] = rng.randrange(256)
            value = bytes(flipped)
        elif kind == 3:
            value = valid
        elif kind == 4:
            value = (chain_bytes if not ers else broadcast_bytes) + rng.randbytes(rng.randint(0, 8))
        else:
            value = rng.choice([b"", None, b"\x00" * rng.randint(1, 50), "text \u00e9\x00".encode()])
        payloads.append((ers, value))
    return payloads


def test_ten_thousand_fuzzed_payloads_are_all_accounted_for(kafka_broker, sqlite_db):
    tag = _tag()
    broadcast_topic, ers = topic_for(tag, "fuzz"), f"ers.{tag}"
    kafka_broker.create_topics([broadcast_topic, ers])
    payloads = _fuzz_payloads(20240605, 10_000)
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap, "linger.ms": 50, "batch.num.messages": 2000,
                         "queue.buffering.max.messages": 20_000})
    for to_ers, value in payloads:
        producer.produce(ers if to_ers else broadcast_topic, value=value)
    _flush(producer)
    messages = MessageStore(sqlite_db)
    running = _Running(MessageConsumer(_config(kafka_broker, tag), messages, batch_size=1000, poll_timeout=0.2))
    try:
        _wait(lambda: messages.count() >= 10_000, 40, "not every fuzzed record stored", interval=0.2)
        time.sleep(0.3)
        assert running.thread.is_alive(), f"consumer died: {running.error!r}"
    finally:
        running.stop()
    rows = _all_rows(messages)
    assert len(rows) == 10_000
    _assert_unique(rows)
    kinds = {k: sum(1 for r in rows if r.kind == k) for k in ("broadcast", "ers", "undecodable")}
    assert sum(kinds.values()) == 10_000
    assert kinds["undecodable"] >= 10_000 // 6  # at least the random bytes, empty and null ones
    assert kinds["broadcast"] > 0 and kinds["ers"] > 0  # the valid ones
    status = messages.status(DEFAULT_CONSUMER)
    assert (status.messages_stored, status.undecodable) == (10_000, kinds["undecodable"])
    assert running.consumer.stored == 10_000


# -- the process: SIGKILL and SIGTERM ------------------------------------------------------------------------------

def _spawn(broker, tag: str, db_url: str, log_path: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "KAFKA_ADDRESS": broker.bootstrap, "DATABASE_URL": db_url,
           "KAFKA_BROADCAST_TOPICS": rf"^control\.{tag}\..+", "KAFKA_ERS_TOPICS": f"ers.{tag}",
           "KAFKA_GROUP_ID": f"g-{tag}", "LOG_LEVEL": "INFO"}
    env.pop("SECRET_KEY", None)
    options = [arg for key, value in TANSU_OPTIONS.items() for arg in ("--kafka-option", f"{key}={value}")]
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "consumers", *options, *args], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _produce_texts(broker, tag: str, texts: list[str]) -> None:
    broadcaster = KafkaBroadcaster(broker.bootstrap)
    for body in texts:
        broadcaster.emit("process_manager", tag, T.ACK, body)
    broadcaster.close(timeout=20)
    assert (broadcaster.delivered, broadcaster.failures) == (len(texts), 0)


def _count(db_url: str) -> int:
    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM messages")).scalar())
    except Exception:  # noqa: BLE001 - not migrated yet
        return 0
    finally:
        db.dispose()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def test_sigkill_mid_stream_then_restart_loses_and_duplicates_nothing(kafka_broker, tmp_path):
    tag = _tag()
    topic = topic_for(tag, "process_manager")
    kafka_broker.create_topics([topic, f"ers.{tag}"])
    db_url = f"sqlite:///{tmp_path / 'kill.sqlite3'}"
    log_path = tmp_path / "consumer.log"
    first = [f"first {i}" for i in range(3000)]
    second = [f"second {i}" for i in range(1000)]
    _produce_texts(kafka_broker, tag, first)
    proc = _spawn(kafka_broker, tag, db_url, log_path, "--batch-size", "10")
    try:
        stored_at_kill = _wait(lambda: (n := _count(db_url)) >= 200 and n, 30, "nothing stored", interval=0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        stored_at_kill = max(stored_at_kill, _count(db_url))
        assert stored_at_kill < len(first), "the consumer was not killed mid-stream"
        _produce_texts(kafka_broker, tag, second)
        proc = _spawn(kafka_broker, tag, db_url, log_path, "--batch-size", "500")
        _wait(lambda: _count(db_url) >= len(first) + len(second), 40, "not every record stored after the restart")
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, log_path.read_text()
    finally:
        _stop(proc)
    db = Database(db_url)
    try:
        rows = _all_rows(MessageStore(db))
    finally:
        db.dispose()
    assert len(rows) == len(first) + len(second)
    _assert_unique(rows)
    assert sorted(r.text for r in rows) == sorted(first + second)
    assert sorted(r.offset for r in rows) == list(range(len(first) + len(second)))


def test_sigterm_finishes_the_batch_commits_and_exits_0(kafka_broker, tmp_path):
    tag = _tag()
    topic = topic_for(tag, "process_manager")
    kafka_broker.create_topics([topic, f"ers.{tag}"])
    db_url = f"sqlite:///{tmp_path / 'term.sqlite3'}"
    log_path = tmp_path / "consumer.log"
    _produce_texts(kafka_broker, tag, [f"message {i}" for i in range(2000)])
    proc = _spawn(kafka_broker, tag, db_url, log_path, "--batch-size", "10")
    try:
        _wait(lambda: _count(db_url) >= 100, 30, "nothing stored", interval=0.01)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, log_path.read_text()
    finally:
        _stop(proc)
    log = log_path.read_text()
    assert re.search(r"consuming from 127\.0\.0\.1:\d+: ers\.t\w+, \^control", log), log
    assert "SIGTERM" in log and "consumer closed" in log
    stored = _count(db_url)
    # Every stored record is committed, and nothing beyond: the next member resumes right after the last row.
    group = Consumer({"bootstrap.servers": kafka_broker.bootstrap, "group.id": f"g-{tag}"})
    try:
        (committed,) = group.committed([TopicPartition(topic, 0)], timeout=10)
    finally:
        group.close()
    assert committed.offset == stored

    # --once drains the rest and exits.
    proc = _spawn(kafka_broker, tag, db_url, log_path, "--once", "--idle-secs", "1.5")
    try:
        assert proc.wait(40) == 0, log_path.read_text()
    finally:
        _stop(proc)
    assert _count(db_url) == 2000


def test_bad_settings_are_one_error_line_and_exit_2(tmp_path):
    env = {**os.environ, "KAFKA_ADDRESS": "not an address", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    result = subprocess.run([sys.executable, "-m", "consumers"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: KAFKA_ADDRESS")
