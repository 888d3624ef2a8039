"""The message consumer recovering by itself: a broker restart mid-stream, and a failing database.

- Broker restart: Tansu with S3 storage on moto (tests/kafka_broker_s3.py), so topics, records and committed
  offsets survive the restart. Skipped only when moto (test extra `moto[server]`) is not installed.
- Database failure: `insert_batch` raises OperationalError twice, then works; the same batch is retried with
  back-off, and its offsets are committed only once it is stored.

Helpers and conventions (topics `control.<tag>.*`, group `g-<tag>`, Tansu test options) are those of
test_consumer_kafka.py.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time

import pytest
from confluent_kafka import Consumer, TopicPartition
from kafka_broker import kafka_broker_fixture  # noqa: F401 - provides the `kafka_broker` fixture
from kafka_broker_s3 import moto_installed, s3_kafka_broker_fixture  # noqa: F401 - the `s3_kafka_broker` fixture
from sqlalchemy.exc import OperationalError
from test_consumer_kafka import (
    _all_rows,
    _assert_unique,
    _config,
    _count,
    _produce_texts,
    _Running,
    _spawn,
    _stop,
    _tag,
    _wait,
)

from consumers.consumer import MessageConsumer
from simulator.broadcast import topic_for
from store.db import Database
from store.messages import DEFAULT_CONSUMER, MessageStore


def _status_error(db_url: str) -> str | None:
    db = Database(db_url)
    try:
        status = MessageStore(db).status(DEFAULT_CONSUMER)
    except Exception:  # noqa: BLE001 - not migrated yet
        return "(no status table)"
    finally:
        db.dispose()
    return "(no status row)" if status is None else status.last_error


def _logged_recovery(log: str, bootstrap: str) -> bool:
    down = log.rfind(f"kafka broker {bootstrap} unreachable")
    return down >= 0 and log.find(f"kafka broker {bootstrap} reachable again", down) > down


def _committed(bootstrap: str, group: str, topic: str) -> int:
    """The group's committed offset of `topic`[0] (negative: none), read by a member that never joins."""
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        (committed,) = reader.committed([TopicPartition(topic, 0)], timeout=10)
    finally:
        reader.close()
    return committed.offset


# -- broker restart ----------------------------------------------------------------------------------------------

@pytest.mark.skipif(not moto_installed(), reason="moto[server] not installed (test extra): no S3 store for Tansu, "
                    "so the broker cannot be restarted with its data")
def test_broker_restart_mid_stream_loses_and_duplicates_nothing(s3_kafka_broker, tmp_path):
    broker = s3_kafka_broker
    tag = _tag()
    topic = topic_for(tag, "process_manager")
    broker.create_topics([topic, f"ers.{tag}"])
    db_url = f"sqlite:///{tmp_path / 'restart.sqlite3'}"
    log_path = tmp_path / "consumer.log"
    first = [f"before restart {i}" for i in range(3000)]
    second = [f"after restart {i}" for i in range(1000)]
    _produce_texts(broker, tag, first)
    proc = _spawn(broker, tag, db_url, log_path, "--batch-size", "10")
    try:
        _wait(lambda: _count(db_url) >= 200, 30, "nothing stored", interval=0.01)
        away = broker.restart()
        stored_at_restart = _count(db_url)
        assert stored_at_restart < len(first), f"the broker was not restarted mid-stream (away {away:.1f} s)"
        assert proc.poll() is None, log_path.read_text()
        _produce_texts(broker, tag, second)
        _wait(lambda: _count(db_url) >= len(first) + len(second), 40, "not every record stored after the restart")
        # Recovered by itself: a clear line for the outage, one for the recovery, and the broker error is cleared
        # from the status row (also when no record follows it).
        _wait(lambda: _logged_recovery(log_path.read_text(), broker.bootstrap), 15, "no recovery logged")
        _wait(lambda: _status_error(db_url) is None, 15, "the broker error still shown")
        assert proc.poll() is None, log_path.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, log_path.read_text()
    finally:
        _stop(proc)
    db = Database(db_url)
    try:
        messages = MessageStore(db)
        rows = _all_rows(messages)
        status = messages.status(DEFAULT_CONSUMER)
    finally:
        db.dispose()
    assert len(rows) == len(first) + len(second)
    _assert_unique(rows)
    assert sorted(r.text for r in rows) == sorted(first + second)
    assert sorted(r.offset for r in rows) == list(range(len(first) + len(second)))
    # Recovered: the error the broker restart caused is no longer shown, and everything stored is committed.
    assert status.messages_stored == len(first) + len(second)
    assert status.last_error is None, status.last_error
    assert _committed(broker.bootstrap, f"g-{tag}", topic) == len(first) + len(second)


# -- database failure ----------------------------------------------------------------------------------------------

class _FlakyStore:
    """A MessageStore whose `insert_batch` raises OperationalError `fail_next(n)` times, then delegates.

    Records, for every insert_batch call, the records' keys, whether it failed, the group's committed offset and the
    status row's last_error at that moment; and every `last_error` written to the status row.
    """

    def __init__(self, store: MessageStore, committed):
        self._store = store
        self._committed = committed
        self._lock = threading.Lock()
        self._failures_left = 0
        self.calls: list[tuple[list[tuple[str, int, int]], bool, int, str | None]] = []
        self.status_errors: list[str | None] = []

    def __getattr__(self, name):
        return getattr(self._store, name)

    def fail_next(self, times: int) -> None:
        with self._lock:
            self._failures_left = times

    def insert_batch(self, rows):
        keys = [(r.topic, r.partition, r.offset) for r in rows]
        with self._lock:
            fail = self._failures_left > 0
            self._failures_left -= fail
        status = self._store.status(DEFAULT_CONSUMER)
        self.calls.append((keys, fail, self._committed(), status.last_error if status else None))
        if fail:
            raise OperationalError("INSERT INTO messages ...", {}, sqlite3.OperationalError("database is locked"))
        return self._store.insert_batch(rows)

    def update_status(self, name=DEFAULT_CONSUMER, **changes):
        self.status_errors.append(changes.get("last_error"))
        return self._store.update_status(name, **changes)


def test_database_failure_retries_the_same_batch_and_commits_only_after_it_is_stored(kafka_broker, tmp_path):
    tag = _tag()
    topic = topic_for(tag, "process_manager")
    group = f"g-{tag}"
    kafka_broker.create_topics([topic, f"ers.{tag}"])
    checker = Consumer({"bootstrap.servers": kafka_broker.bootstrap, "group.id": group})

    def committed() -> int:
        (tp,) = checker.committed([TopicPartition(topic, 0)], timeout=10)
        return tp.offset

    db = Database(f"sqlite:///{tmp_path / 'flaky.sqlite3'}")
    db.migrate()
    messages = MessageStore(db)
    flaky = _FlakyStore(messages, committed)
    first = [f"first {i}" for i in range(20)]
    second = [f"second {i}" for i in range(30)]
    running = _Running(MessageConsumer(_config(kafka_broker, tag, group_id=group), flaky, batch_size=500,
                                       poll_timeout=0.2))
    try:
        _produce_texts(kafka_broker, tag, first)
        _wait(lambda: messages.count() >= len(first), 30, "the first records not stored")
        _wait(lambda: committed() == len(first), 10, "the first records not committed")
        calls_before = len(flaky.calls)
        flaky.fail_next(2)
        _produce_texts(kafka_broker, tag, second)
        _wait(lambda: messages.count() >= len(first) + len(second), 30, "the records after the failures not stored")
        # The error is shown, then cleared once storing works again.
        _wait(lambda: (s := messages.status(DEFAULT_CONSUMER)) is not None and s.last_error is None
              and any(flaky.status_errors), 10, "the status error not cleared after the recovery")
        time.sleep(0.3)  # nothing more arrives
    finally:
        running.stop()
        checker.close()

    failed, retried, stored = flaky.calls[calls_before:calls_before + 3]
    assert (failed[1], retried[1], stored[1]) == (True, True, False)
    assert failed[0] == retried[0] == stored[0], "the retry was not the same batch"
    assert failed[0][0] == (topic, 0, len(first))
    # Nothing of the failing batch was committed before it was stored.
    assert failed[2] == retried[2] == stored[2] == len(first)
    # The status row showed the error while the database was failing.
    assert failed[3] is None
    assert (stored[3] or "").startswith("database write failed (OperationalError"), stored[3]
    assert _committed(kafka_broker.bootstrap, group, topic) == len(first) + len(second)

    rows = _all_rows(messages)
    assert len(rows) == len(first) + len(second)
    _assert_unique(rows)
    assert sorted(r.text for r in rows) == sorted(first + second)
    consumer = running.consumer
    assert (consumer.received, consumer.stored) == (len(first) + len(second),) * 2  # no re-delivery

    errors = [e for e in flaky.status_errors if e is not None]
    shown = [i for i, e in enumerate(errors) if e]
    assert shown, "the database error never reached the status row"
    assert "database write failed (OperationalError" in errors[shown[0]]
    assert "" in errors[shown[0]:], "the status error was not cleared"
    status = messages.status(DEFAULT_CONSUMER)
    db.dispose()
    assert status.last_error is None
    assert status.messages_stored == len(first) + len(second)
