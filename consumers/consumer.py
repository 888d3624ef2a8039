"""The Kafka → SQL message consumer: the only module of the app that imports confluent_kafka.

One consumer in a consumer group (`KAFKA_GROUP_ID`), subscribed to every configured pattern: a pattern starting
with `^` is a regular expression (librdkafka's regex subscription), anything else a literal topic name. A topic
that matches an ERS pattern is decoded as an ERS `IssueChain`, anything else as a drunc `BroadcastMessage`
(`consumers.decode.decode_record`, which never raises: a malformed record is stored as undecodable).

Delivery: offsets are never auto-committed. A batch is stored in one transaction (`MessageStore.insert_batch`,
idempotent on (topic, partition, offset)) and only then are its offsets committed, synchronously. A crash
between the two re-delivers the batch, and the unique key drops the copies: at-least-once delivery plus
idempotent writes, so every record is stored exactly once.

Pipelining (`pipelined=True`, the default): while batch k is written by the writer thread, this thread fetches
and decodes batch k+1, then waits for k to be stored, commits k's offsets, and only then hands k+1 over. At most
one batch is being written, batches are stored and committed in the order they were consumed, and everything
but the write itself (offset commits, rebalance callbacks, status, retention) stays on this thread, which does
no database work while a batch is in flight. A rebalance first waits for the batch in flight and commits it. A
batch given up at `stop()` while the database was failing is not committed, and no later batch is stored.
Decoding is about a fifth of a batch's cost; the rest (mostly the database, which releases the GIL) now
overlaps it (benchmarks/bench_ingest.py `--serial` compares).

Failures:
- broker unreachable or restarted: librdkafka reconnects by itself and resumes from the committed offsets; its
  error callbacks are logged (repeats of one error at most every 30 s) and recorded as the status's last error,
  which is cleared once a batch is stored again or, when idle, once the broker answers a metadata request;
- database write failed: the same batch is retried with exponential back-off (0.5 s doubling to 10 s) and its
  offsets are not committed until it is stored; the status row shows the error meanwhile (when it can be written)
  and is cleared once the batch is stored;
- `stop()` (SIGTERM in `python -m consumers`): the current batch is finished and committed, then the consumer
  leaves the group and closes.

Retention runs between batches (never inside the insert transaction), every `prune_every_secs`, by age
(`MESSAGE_EXPIRE_SECS`) and maximum row count, in small batches (`MessageStore.prune`).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaError, KafkaException, TopicPartition

from consumers.decode import decode_record
from store.messages import DEFAULT_CONSUMER

log = logging.getLogger("consumers")

DEFAULT_BROADCAST_TOPICS = (r"^control\..+",)
DEFAULT_ERS_TOPICS = ("monitoring.ers_stream", r"^erscontrol\..+")
BACKOFF_START = 0.5
BACKOFF_CAP = 10.0
ERROR_LOG_EVERY = 30.0
STATUS_FLUSH_SECS = 1.0


class ConsumerConfigError(ValueError):
    """librdkafka refused the consumer configuration (for example an unknown property)."""


def is_regex(pattern: str) -> bool:
    """librdkafka subscribes by regular expression only to names starting with `^`."""
    return pattern.startswith("^")


@dataclass(frozen=True)
class ConsumerConfig:
    """What the consumer needs from the settings, plus optional extra librdkafka properties.

    `kafka_options` are passed to librdkafka as they are (for example `session.timeout.ms` for a test or demo
    broker); production keeps the library defaults.
    """

    address: str
    broadcast_topics: tuple[str, ...] = DEFAULT_BROADCAST_TOPICS
    ers_topics: tuple[str, ...] = DEFAULT_ERS_TOPICS
    group_id: str = "runcontrol-ui"
    expire_secs: int = 1800
    max_rows: int = 1_000_000
    kafka_options: Mapping[str, object] = field(default_factory=dict)
    status_name: str = DEFAULT_CONSUMER  # the status row the UI reads

    def __post_init__(self):
        if not self.address:
            raise ValueError("no Kafka address")
        if not self.patterns:
            raise ValueError("no topic pattern to subscribe to")
        for pattern in self.patterns:
            if is_regex(pattern):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"topic pattern {pattern!r} is not a valid regular expression: {exc}") from None

    @classmethod
    def from_settings(cls, settings, kafka_options: Mapping[str, object] | None = None) -> ConsumerConfig:
        return cls(
            address=settings.kafka_address,
            broadcast_topics=tuple(settings.kafka_broadcast_topics),
            ers_topics=tuple(settings.kafka_ers_topics),
            group_id=settings.kafka_group_id,
            expire_secs=settings.message_expire_secs,
            max_rows=settings.message_max_rows,
            kafka_options=dict(kafka_options or {}),
        )

    @property
    def patterns(self) -> list[str]:
        """Every subscription, ERS ones first, without repeats."""
        return list(dict.fromkeys((*self.ers_topics, *self.broadcast_topics)))

    def librdkafka(self) -> dict[str, object]:
        config: dict[str, object] = {
            "bootstrap.servers": self.address,
            "group.id": self.group_id,
            "client.id": "runcontrol-ui-consumer",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
        }
        config.update(self.kafka_options)
        return config


class _TopicKinds:
    """topic → is it ERS? (memoised: the patterns are matched once per topic)."""

    def __init__(self, ers_patterns: Sequence[str]):
        self._literal = {p for p in ers_patterns if not is_regex(p)}
        self._regex = [re.compile(p) for p in ers_patterns if is_regex(p)]
        self._cache: dict[str, bool] = {}

    def is_ers(self, topic: str) -> bool:
        found = self._cache.get(topic)
        if found is None:
            found = topic in self._literal or any(r.search(topic) for r in self._regex)
            self._cache[topic] = found
        return found


class MessageConsumer:
    """Consume, decode, store, commit; see the module docstring. `run()` blocks until `stop()`."""

    def __init__(self, config: ConsumerConfig, store, *, batch_size: int = 500, poll_timeout: float = 0.5,
                 prune_every_secs: float = 30.0, status_every_secs: float = 5.0,
                 on_batch: Callable[[int, list], None] | None = None, pipelined: bool = True):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.config = config
        self.store = store
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.prune_every_secs = prune_every_secs
        self.status_every_secs = status_every_secs
        self.on_batch = on_batch
        self.pipelined = pipelined
        self._writer: ThreadPoolExecutor | None = None
        # The batch being written: (its future insert count, rows, next offset per (topic, partition)).
        self._inflight: tuple[Future, list, dict[tuple[str, int], int]] | None = None
        self.stored = 0  # rows inserted by this process
        self.received = 0  # records received (stored, or re-deliveries of stored ones)
        self.undecodable = 0
        self.pruned = 0
        self._kinds = _TopicKinds(config.ers_topics)
        self._stopping = threading.Event()
        self._joined = threading.Event()
        self._consumer: Consumer | None = None
        self._pending: dict[tuple[str, int], int] = {}  # stored but not yet committed: (topic, partition) → next
        self._last_logged: dict[str, float] = {}
        self._last_error: str | None = None
        self._error_to_report: str | None = None  # for the status row: None = unchanged, "" = clear
        self._error_shown = False
        self._status_stored = 0  # counted but not yet written to the status row
        self._status_undecodable = 0
        self._status_time: datetime | None = None
        self._status_flushed = time.monotonic()
        self._last_activity = time.monotonic()
        self._broker_down = False  # a "broker unreachable" error came; probed when idle until the broker answers
        self._last_probe = 0.0

    # -- control -------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask `run()` to finish the current batch, commit, close and return. Safe from a signal handler."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def joined(self) -> bool:
        """True once the group join completed (an assignment, possibly empty, was received)."""
        return self._joined.is_set()

    def run(self, *, idle_exit: float | None = None, join_timeout: float = 60.0) -> None:
        """Consume until `stop()`. With `idle_exit`, also return once the group was joined and no record arrived
        for `idle_exit` seconds (or no join within `join_timeout`): "drain what is there"."""
        self._open()
        started = time.monotonic()
        last_prune = time.monotonic()
        try:
            while not self._stopping.is_set():
                # While a batch is written, take only what librdkafka has already fetched: waiting for a full
                # batch would hold back the commit of the one in flight.
                timeout = 0 if self._inflight is not None else self.poll_timeout
                messages = self._consumer.consume(self.batch_size, timeout)
                batch = self._decode(messages) if messages else None
                if not self._finish_inflight():
                    break  # the writer gave up a batch at stop(): nothing consumed after it may be stored
                now = time.monotonic()
                if now - last_prune >= self.prune_every_secs:  # between batches: no write in flight
                    self.prune()
                    last_prune = now = time.monotonic()
                if batch is not None:
                    if not self._submit(*batch):
                        break
                else:
                    if self._broker_down and now - self._last_probe >= self.status_every_secs:
                        self._probe_broker()  # idle after a broker error: is it back?
                    if self._status_stored or now - self._status_flushed >= self.status_every_secs:
                        self._update_status()  # idle: the last counts now, then a "still polling" beat
                if idle_exit is not None:
                    if self._joined.is_set() and now - self._last_activity >= idle_exit:
                        log.info("no new record for %.1f s: drained", idle_exit)
                        break
                    if not self._joined.is_set() and now - started >= join_timeout:
                        log.warning("no group assignment after %.0f s; exiting", join_timeout)
                        break
        finally:
            self._close()

    # -- one batch -----------------------------------------------------------------------------------------

    def _decode(self, messages: list) -> tuple[list, dict[tuple[str, int], int]] | None:
        """(rows, next offset per (topic, partition)) of a consumed batch; None when no record is in it."""
        rows = []
        offsets: dict[tuple[str, int], int] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                self._record_error(message, error)
                continue
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            ts_type, ts = message.timestamp()
            rows.append(decode_record(topic, partition, offset, message.key(), message.value(),
                                      None if ts_type == TIMESTAMP_NOT_AVAILABLE else ts,
                                      ers=self._kinds.is_ers(topic)))
            key = (topic, partition)
            offsets[key] = max(offsets.get(key, -1), offset + 1)
        if not rows:
            return None
        self._last_activity = time.monotonic()
        return rows, offsets

    def _submit(self, rows: list, offsets: dict[tuple[str, int], int]) -> bool:
        """Start writing a batch on the writer thread; not pipelined, store and commit it right here.

        False when it was given up (see `_finish_inflight`)."""
        if self._writer is not None:
            self._inflight = (self._writer.submit(self._store, rows), rows, offsets)
            return True
        future = Future()
        future.set_result(self._store(rows))
        self._inflight = (future, rows, offsets)
        return self._finish_inflight()

    def _finish_inflight(self) -> bool:
        """Wait for the batch in flight (if any) to be stored, then commit its offsets and count it.

        False when the writer gave it up (stopped while the database was failing)."""
        if self._inflight is None:
            return True
        future, rows, offsets = self._inflight
        inserted = future.result()  # _store never raises but for BaseException, which then stops run()
        self._inflight = None
        if inserted is None:  # stopped while the database was failing: nothing committed, re-delivered later
            return False
        for key, next_offset in offsets.items():
            self._pending[key] = max(self._pending.get(key, -1), next_offset)
        # Committed right after the database's COMMIT returned, which is why the consumer's session must keep
        # synchronous_commit on: with it off, COMMIT returns before the WAL is flushed, a database crash in that
        # window loses the batch while Kafka already holds its offsets, and it is never re-delivered. Turning it
        # off would need the offsets held back until the WAL is known flushed (pg_current_wal_flush_lsn() past
        # the batch's commit LSN), a second round trip per batch for what group commit mostly gives already.
        self._commit()
        undecodable = sum(1 for row in rows if row.kind == "undecodable")
        self.received += len(rows)
        self.stored += inserted
        self.undecodable += undecodable
        if self._error_shown and self._error_to_report is None:
            self._error_to_report = ""  # stored and committed again: clear the error the UI shows
        # Re-deliveries (inserted < len(rows)) may overcount undecodable records by the copies among them.
        self._status_stored += inserted
        self._status_undecodable += min(undecodable, inserted)
        newest = max(row.time for row in rows)
        if self._status_time is None or newest > self._status_time:
            self._status_time = newest
        if time.monotonic() - self._status_flushed >= STATUS_FLUSH_SECS:
            self._update_status()
        if self.on_batch is not None:
            try:
                self.on_batch(inserted, rows)
            except Exception:  # noqa: BLE001 - a hook must not stop the consumer
                log.exception("on_batch hook failed")
        return True

    def _store(self, rows: list) -> int | None:
        """insert_batch, retried with back-off until it succeeds; None when stopped first."""
        delay = BACKOFF_START
        failures = 0
        while True:
            try:
                inserted = self.store.insert_batch(rows)
            except Exception as exc:  # noqa: BLE001 - any database failure: keep the batch, retry
                failures += 1
                message = f"database write failed ({type(exc).__name__}: {_first_line(exc)})"
                self._error_to_report = message
                if failures == 1:
                    log.exception("%s; retrying the same %d record(s) with back-off", message, len(rows))
                else:
                    log.error("%s; retry %d in %.1f s", message, failures, delay)
                self._update_status()  # show the error while it lasts (best effort: the database may be down)
                if self._stopping.wait(delay):
                    log.warning("stopping with %d unstored record(s); their offsets are not committed, "
                                "they will be consumed again", len(rows))
                    return None
                delay = min(delay * 2, BACKOFF_CAP)
                continue
            if failures:
                log.info("database write succeeded after %d failure(s)", failures)
                self._error_to_report = ""  # the database works again: clear the error (shown or not)
            return inserted

    def _commit(self) -> bool:
        """Commit the stored offsets synchronously. A failure only means a re-delivery (dropped as duplicates)."""
        if not self._pending or self._consumer is None:
            return True
        offsets = [TopicPartition(topic, partition, offset) for (topic, partition), offset in self._pending.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else exc
            self._log_limited("commit", f"offset commit failed ({error}); will retry, the records are stored")
            return False
        self._pending.clear()
        return True

    def _record_error(self, message, error: KafkaError) -> None:
        code = error.code()
        if code == KafkaError._PARTITION_EOF:
            return
        if error.fatal():
            raise KafkaException(error)
        where = message.topic() or ""
        self._log_limited(f"record:{code}:{where}", f"kafka error on {where or 'consumer'}: {error.str()}")

    # -- status and retention ------------------------------------------------------------------------------

    def _update_status(self) -> None:
        """Write the counters gathered since the last write (at most every STATUS_FLUSH_SECS while records flow,
        every `status_every_secs` when idle, and at close): one small transaction, not one per batch."""
        error = self._error_to_report
        stored, undecodable, newest = self._status_stored, self._status_undecodable, self._status_time
        self._status_flushed = time.monotonic()
        try:
            self.store.update_status(self.config.status_name, stored=stored, undecodable=undecodable,
                                     last_message_time=newest, last_error=error, polled=True)
            self._status_stored -= stored
            self._status_undecodable -= undecodable
            if self._status_time == newest:
                self._status_time = None
            if error is not None:  # reported once; `None` leaves the stored error as it is
                self._error_shown = bool(error)
                if self._error_to_report == error:
                    self._error_to_report = None
        except Exception as exc:  # noqa: BLE001 - the status is informative; never stop consuming for it
            self._log_limited("status", f"status update failed: {type(exc).__name__}: {_first_line(exc)}")

    def prune(self) -> int:
        """Delete expired and surplus rows (small batches, each its own transaction). Never raises."""
        try:
            deleted = self.store.prune(self.config.expire_secs, self.config.max_rows)
        except Exception as exc:  # noqa: BLE001
            self._log_limited("prune", f"pruning failed: {type(exc).__name__}: {_first_line(exc)}")
            return 0
        if deleted:
            self.pruned += deleted
            log.info("pruned %d message(s)", deleted)
        return deleted

    # -- librdkafka ----------------------------------------------------------------------------------------

    def _open(self) -> None:
        config = self.config.librdkafka()
        config.update({"error_cb": self._on_error, "logger": log})
        try:
            self._consumer = Consumer(config)
        except (KafkaException, ValueError, TypeError) as exc:
            raise ConsumerConfigError(f"invalid Kafka consumer configuration: {exc}") from None
        self._consumer.subscribe(self.config.patterns, on_assign=self._on_assign, on_revoke=self._on_revoke,
                                 on_lost=self._on_lost)
        if self.pipelined:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="message-writer")
        self._last_activity = time.monotonic()

    def _close(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        # Closing (also after an exception in run()): a batch still being retried is given up after its current
        # attempt, uncommitted, so that run() returns even while the database is down.
        self._stopping.set()
        try:
            self._finish_inflight()
            if self._writer is not None:
                self._writer.shutdown()
                self._writer = None
            self._commit()
            self._update_status()
            # Leaving the group in the middle of a join can leave it rebalancing for the next member: wait
            # (bounded) for the join that is under way to complete first.
            deadline = time.monotonic() + 10.0
            while not self._joined.is_set() and time.monotonic() < deadline:
                for message in consumer.consume(self.batch_size, 0.2):  # nothing is stored from these
                    del message
            consumer.close()
        except Exception:  # noqa: BLE001 - closing must not hide the reason we stopped
            log.exception("closing the Kafka consumer failed")
        finally:
            self._consumer = None
            log.info("consumer closed: %d record(s) received, %d stored, %d undecodable",
                     self.received, self.stored, self.undecodable)

    def _on_assign(self, consumer, partitions) -> None:
        self._joined.set()
        self._last_activity = time.monotonic()
        log.info("assigned %d partition(s)%s", len(partitions), _partition_list(partitions))

    def _on_revoke(self, consumer, partitions) -> None:
        self._finish_inflight()  # its rows may be of these partitions: store them and commit their offsets now
        self._commit()  # the stored offsets of partitions about to go to another member
        revoked = {(p.topic, p.partition) for p in partitions}
        for key in revoked & set(self._pending):
            del self._pending[key]
        log.info("revoked %d partition(s)", len(partitions))

    def _on_lost(self, consumer, partitions) -> None:
        self._finish_inflight()  # stored (the new owner's copies are dropped as duplicates); not committable
        for p in partitions:
            self._pending.pop((p.topic, p.partition), None)
        log.warning("lost %d partition(s) (session timed out); they will be re-consumed from the committed offsets",
                    len(partitions))

    def _probe_broker(self) -> None:
        """While idle after a broker error, ask for metadata (at most every `status_every_secs`). Once the broker
        answers, the error is cleared: an idle consumer must not show it until the next record arrives."""
        self._last_probe = time.monotonic()
        try:
            self._consumer.list_topics(timeout=2.0)
        except KafkaException:
            return  # still down; librdkafka keeps reconnecting
        self._broker_down = False
        log.info("kafka broker %s reachable again", self.config.address)
        self._error_to_report = ""
        self._update_status()

    def _on_error(self, error: KafkaError) -> None:
        code = error.code()
        if code in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._RESOLVE):
            text = f"kafka broker {self.config.address} unreachable ({error.str()}); reconnecting"
            self._broker_down = True
        else:
            text = f"kafka {self.config.address}: {error.str()}"
        if error.fatal():
            log.error("fatal %s", text)
        self._error_to_report = text
        self._log_limited(f"cb:{code}", text)

    def _log_limited(self, key: str, text: str) -> None:
        now = time.monotonic()
        if now - self._last_logged.get(key, -ERROR_LOG_EVERY) >= ERROR_LOG_EVERY:
            self._last_logged[key] = now
            log.warning("%s", text)
        else:
            log.debug("%s", text)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else "")[:300]


def _partition_list(partitions) -> str:
    if not partitions:
        return ""
    shown = ", ".join(f"{p.topic}[{p.partition}]" for p in partitions[:8])
    return f": {shown}{', ...' if len(partitions) > 8 else ''}"
