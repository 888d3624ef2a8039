"""The pipelined writer of the message consumer (consumers/consumer.py): batch k+1 is fetched and decoded while
batch k is written, yet every record is stored exactly once and offsets are committed in order, each only after
its rows are stored; a rebalance waits for the batch in flight; a batch given up at stop() is followed by nothing.

A scripted in-process stand-in replaces librdkafka's Consumer (the only thing faked), so the interleavings are
deterministic; the store is the real MessageStore on SQLite and PostgreSQL (`database_url`).
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy.exc import OperationalError

import consumers.consumer as consumer_module
from consumers.consumer import ConsumerConfig, MessageConsumer
from simulator.broadcast import T, broadcast_message
from store.db import Database
from store.messages import MessageStore

TOPIC = "control.pipe.process_manager"


class _Record:
    def __init__(self, offset: int):
        self._offset = offset
        self._value = broadcast_message("process_manager", "pipe", T.ACK, f"record {offset}").SerializeToString()

    def error(self):
        return None

    def topic(self):
        return TOPIC

    def partition(self):
        return 0

    def offset(self):
        return self._offset

    def timestamp(self):
        return 1, int(time.time() * 1000)

    def key(self):
        return None

    def value(self):
        return self._value


class _ScriptedKafka:
    """Serves `records` in order; records every commit with what the store held at that moment."""

    def __init__(self, records: int, store: _SlowStore, revoke_after: int | None = None):
        self.queue = [_Record(i) for i in range(records)]
        self.store = store
        self.revoke_after = revoke_after  # serve a revoke on the consume call after this many records went out
        self.served = 0
        self.commits: list[tuple[int, set[int]]] = []  # (committed next offset, offsets stored at that moment)
        self.consumed_while_writing = 0
        self.revoked_with: tuple[int, set[int]] | None = None  # (last commit, stored) when on_revoke returned
        self.callbacks = {}

    def __call__(self, config):  # stands in for the Consumer class
        return self

    def subscribe(self, patterns, on_assign, on_revoke, on_lost):
        self.callbacks = {"assign": on_assign, "revoke": on_revoke}

    def consume(self, count, timeout):
        if self.served == 0 and self.callbacks.get("assign"):
            self.callbacks.pop("assign")(self, [])
        if self.store.writing.is_set():
            self.consumed_while_writing += 1
        if self.revoke_after is not None and self.served >= self.revoke_after:
            self.revoke_after = None
            self.callbacks["revoke"](self, [])
            self.revoked_with = (self.commits[-1][0] if self.commits else -1, set(self.store.offsets()))
        batch, self.queue = self.queue[:count], self.queue[count:]
        self.served += len(batch)
        if not batch:
            time.sleep(min(timeout, 0.01))
        return batch

    def commit(self, offsets, asynchronous):
        assert not asynchronous
        (tp,) = offsets
        self.commits.append((tp.offset, set(self.store.offsets())))

    def close(self):
        pass


class _SlowStore:
    """The real store, each insert_batch slowed down so that the consumer is seen fetching while it writes."""

    def __init__(self, store: MessageStore, delay: float = 0.03):
        self._store = store
        self.delay = delay
        self.writing = threading.Event()
        self.fail = False
        self.failures = 0
        self.batches: list[list[int]] = []

    def __getattr__(self, name):
        return getattr(self._store, name)

    def insert_batch(self, rows):
        self.writing.set()
        try:
            time.sleep(self.delay)
            if self.fail:
                self.failures += 1
                raise OperationalError("INSERT INTO messages ...", {}, Exception("database is down"))
            inserted = self._store.insert_batch(rows)
            self.batches.append([r.offset for r in rows])
            return inserted
        finally:
            self.writing.clear()

    def offsets(self) -> list[int]:
        with self._store.db.engine.connect() as conn:
            return [r[0] for r in conn.exec_driver_sql('SELECT "offset" FROM messages')]


@pytest.fixture
def store(database_url):
    db = Database(database_url)
    db.migrate()
    yield _SlowStore(MessageStore(db))
    db.dispose()


def _consumer(store, **kwargs) -> MessageConsumer:
    config = ConsumerConfig(address="scripted:9092", broadcast_topics=(TOPIC,), ers_topics=("ers.pipe",))
    return MessageConsumer(config, store, poll_timeout=0.05, prune_every_secs=3600, **kwargs)


def _run_until(consumer: MessageConsumer, condition, timeout: float = 30.0) -> None:
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not condition():
            assert thread.is_alive(), "the consumer stopped by itself"
            assert time.monotonic() < deadline, "condition not reached"
            time.sleep(0.005)
    finally:
        consumer.stop()
        thread.join(20)
    assert not thread.is_alive()


def test_pipelined_writer_stores_every_record_once_and_commits_in_order_after_storing(store, monkeypatch):
    kafka = _ScriptedKafka(1000, store)
    monkeypatch.setattr(consumer_module, "Consumer", kafka)
    consumer = _consumer(store, batch_size=100)
    _run_until(consumer, lambda: consumer.stored == 1000)

    assert sorted(store.offsets()) == list(range(1000))  # each once (the unique key would refuse a copy anyway)
    assert [o for batch in store.batches for o in batch] == list(range(1000))  # written in the consumed order
    assert kafka.consumed_while_writing > 0, "no fetch overlapped a write: not pipelined"
    committed = [c for c, _ in kafka.commits]
    assert committed == sorted(committed) and committed[-1] == 1000
    for next_offset, stored in kafka.commits:  # nothing committed before its rows were stored
        assert set(range(next_offset)) <= stored
    assert (consumer.received, consumer.stored) == (1000, 1000)
    assert store.status().messages_stored == 1000


def test_a_rebalance_waits_for_the_batch_in_flight_and_commits_it(store, monkeypatch):
    kafka = _ScriptedKafka(600, store, revoke_after=300)
    monkeypatch.setattr(consumer_module, "Consumer", kafka)
    consumer = _consumer(store, batch_size=100)
    _run_until(consumer, lambda: consumer.stored == 600)

    last_commit, stored = kafka.revoked_with
    assert last_commit == 300 and set(range(300)) <= stored  # what was consumed before the revoke is committed
    assert sorted(store.offsets()) == list(range(600))


def test_a_batch_given_up_at_stop_is_followed_by_nothing(store, monkeypatch):
    kafka = _ScriptedKafka(1000, store)
    monkeypatch.setattr(consumer_module, "Consumer", kafka)
    consumer = _consumer(store, batch_size=100)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    try:
        while consumer.stored < 200:
            assert time.monotonic() < deadline, "nothing stored"
            time.sleep(0.005)
        store.fail = True  # the database goes down; the consumer retries with back-off until stopped
        while store.failures < 2:
            assert time.monotonic() < deadline, "no retry"
            time.sleep(0.005)
    finally:
        consumer.stop()
        thread.join(20)
    assert not thread.is_alive()

    offsets = sorted(store.offsets())
    assert offsets == list(range(len(offsets)))  # a prefix: no batch after the given-up one was stored
    committed = [c for c, _ in kafka.commits]
    assert committed == sorted(committed) and committed[-1] == len(offsets)
    assert kafka.served > len(offsets)  # a batch was consumed (and decoded) beyond what is stored and committed


def test_serial_mode_stores_and_commits_the_same(store, monkeypatch):
    kafka = _ScriptedKafka(300, store)
    monkeypatch.setattr(consumer_module, "Consumer", kafka)
    consumer = _consumer(store, batch_size=100, pipelined=False)
    _run_until(consumer, lambda: consumer.stored == 300)

    assert kafka.consumed_while_writing == 0
    assert sorted(store.offsets()) == list(range(300))
    assert [c for c, _ in kafka.commits] == [100, 200, 300]
