"""Kafka producers of the simulator: drunc broadcasts and ERS issues, as the real publishers write them.

- `KafkaBroadcaster`: the `simulator.broadcast.Broadcaster` of drunc 0.10.x's Kafka handler. Topic
  `control.<session>.<name>`, value = serialized `BroadcastMessage` (PlainText data), **no key, no headers**,
  client id `run_control`. Producing is asynchronous and never raises into the rpc that emitted: failures
  (queue full, broker unreachable, delivery timeout) are logged and counted.
- `ErsPublisher`: ERS `IssueChain` records on topic `monitoring.ers_stream`, keyed by the session (UTF-8 bytes),
  like erskafka's C++ `protobufstream` and Python `ERSPublisher`.
- `make_issue_chain` / `make_simple_issue`: build issues with a full ERS context.
- `ErsGenerator`: a thread publishing a random WARNING or ERROR issue (sometimes with causes) every `period`
  seconds from one of a list of simulated applications.

Nothing here depends on the test broker's quirks; only the library defaults and the drunc settings are used.
"""

from __future__ import annotations

import getpass
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaException, Producer

from drunc_client.generated.ersschema import issue_pb2
from simulator.broadcast import broadcast_message, topic_for

log = logging.getLogger("simulator.kafka")

ERS_TOPIC = "monitoring.ers_stream"


class _SafeProducer:
    """A confluent-kafka Producer that never raises from `_produce`, counts outcomes and polls in the background.

    Delivery reports are served by a small poller thread (and by every produce), so failures are counted even
    when nothing else is produced.
    """

    def __init__(self, bootstrap: str, *, client_id: str, linger_ms: int = 5, publish_timeout: float = 30.0,
                 config: Mapping[str, object] | None = None):
        self.bootstrap = bootstrap
        self.produced = 0
        self.delivered = 0
        self.failures = 0
        self._counts = threading.Lock()
        self._closed = threading.Event()
        settings = {
            "bootstrap.servers": bootstrap,
            "client.id": client_id,
            "linger.ms": linger_ms,
            "message.timeout.ms": max(1, int(publish_timeout * 1000)),
            "error_cb": self._on_error,
            "logger": log,
        }
        settings.update(config or {})
        self._producer = Producer(settings)
        self._poller = threading.Thread(target=self._poll_loop, name=f"{client_id}-kafka-poll", daemon=True)
        self._poller.start()

    def _on_error(self, error) -> None:
        log.warning("kafka %s: %s", self.bootstrap, error)

    def _on_delivery(self, error, message) -> None:
        with self._counts:
            if error is None:
                self.delivered += 1
            else:
                self.failures += 1
        if error is not None:
            log.warning("kafka delivery to %s failed: %s", message.topic() if message else "?", error)

    def _poll_loop(self) -> None:
        while not self._closed.is_set():
            try:
                self._producer.poll(0.2)
            except Exception:  # noqa: BLE001 - a callback error must not kill the poller
                log.exception("kafka poll failed")

    def _fail(self, what: str, exc: BaseException | str) -> None:
        with self._counts:
            self.failures += 1
        log.warning("kafka %s not sent to %s: %s", what, self.bootstrap, exc)

    def _produce(self, topic: str, value: bytes, key: bytes | None = None) -> bool:
        if self._closed.is_set():
            self._fail(topic, "producer closed")
            return False
        for attempt in (1, 2):
            try:
                if key is None:
                    self._producer.produce(topic, value=value, on_delivery=self._on_delivery)
                else:
                    self._producer.produce(topic, value=value, key=key, on_delivery=self._on_delivery)
                with self._counts:
                    self.produced += 1
                self._producer.poll(0)
                return True
            except BufferError as exc:  # local queue full: give deliveries a moment once, then drop
                if attempt == 2:
                    self._fail(topic, exc)
                    return False
                self._producer.poll(0.1)
            except (KafkaException, TypeError, ValueError) as exc:
                self._fail(topic, exc)
                return False
            except Exception as exc:  # noqa: BLE001 - never raise into the caller
                self._fail(topic, exc)
                return False
        return False

    def flush(self, timeout: float = 5.0) -> int:
        """Wait up to `timeout` s for outstanding messages; returns how many are still undelivered."""
        try:
            return self._producer.flush(timeout)
        except Exception:  # noqa: BLE001
            log.exception("kafka flush failed")
            return -1

    def close(self, timeout: float = 5.0) -> None:
        """Flush with a timeout, drop what is left (counted as failures), close the connections. Idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._poller.join(timeout=2.0)
        remaining = self.flush(timeout)
        if remaining:
            log.warning("kafka %s: %d message(s) undelivered at close", self.bootstrap, remaining)
            try:  # purged messages get a delivery report with an error, which counts them as failures
                self._producer.purge()
                self._producer.flush(1.0)
            except Exception:  # noqa: BLE001
                log.exception("kafka purge failed")
        close = getattr(self._producer, "close", None)  # confluent-kafka >= 2.10; older ones close on release
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001
                log.exception("kafka producer close failed")


class KafkaBroadcaster(_SafeProducer):
    """drunc's Kafka broadcast handler: `emit` never raises; `close()` flushes with a timeout."""

    def __init__(self, address: str, *, linger_ms: int = 5, publish_timeout: float = 30.0,
                 config: Mapping[str, object] | None = None):
        super().__init__(address, client_id="run_control", linger_ms=linger_ms, publish_timeout=publish_timeout,
                         config=config)
        self.kafka_address = address

    def emit(self, process: str, session: str, btype: int, text: str) -> None:
        try:
            value = broadcast_message(process, session, btype, text).SerializeToString()
        except Exception as exc:  # noqa: BLE001 - e.g. an unknown enum value; never raise into the rpc
            self._fail("broadcast", exc)
            return
        self._produce(topic_for(session, process), value)


# -- ERS ----------------------------------------------------------------------------------------------------

def _default_context(name: str) -> tuple[str, str, str]:
    """(package, file, function) that look like what ERS records for a C++ issue of class `name`."""
    package, _, cls = name.rpartition("::")
    package = package or "python"
    cls = cls or name
    module = cls.removesuffix("Error").removesuffix("Issue") or cls
    return (package, f"/opt/dunedaq/sourcecode/{package}/src/{module}.cpp",
            f"void dunedaq::{package}::{module}::do_work(std::atomic<bool>&)")


def make_simple_issue(name: str, message: str, severity: str, *, application: str = "", host: str | None = None,
                      parameters: Mapping[str, object] | None = None, inheritance: Sequence[str] | None = None,
                      time_ns: int | None = None, file_name: str | None = None, line_number: int | None = None,
                      function_name: str | None = None, package_name: str | None = None,
                      process_id: int | None = None, thread_id: int | None = None, user_name: str | None = None,
                      user_id: int | None = None, cwd: str | None = None) -> issue_pb2.SimpleIssue:
    """One ERS issue with a filled Context; unspecified context fields get plausible local values."""
    package, default_file, default_function = _default_context(name)
    if inheritance is None:
        inheritance = ["ers::Issue"] if name == "ers::Issue" else ["ers::Issue", name]
    context = issue_pb2.Context(
        cwd=cwd if cwd is not None else os.getcwd(),
        file_name=file_name if file_name is not None else default_file,
        function_name=function_name if function_name is not None else default_function,
        host_name=host if host is not None else socket.gethostname(),
        line_number=line_number if line_number is not None else 100 + sum(map(ord, name)) % 400,
        package_name=package_name if package_name is not None else package,
        process_id=process_id if process_id is not None else os.getpid(),
        thread_id=thread_id if thread_id is not None else threading.get_native_id(),
        user_id=user_id if user_id is not None else os.getuid(),
        user_name=user_name if user_name is not None else getpass.getuser(),
        application_name=application,
    )
    return issue_pb2.SimpleIssue(
        context=context, name=name, inheritance=list(inheritance), message=message, severity=severity,
        time=time_ns if time_ns is not None else time.time_ns(),
        parameters={str(k): str(v) for k, v in (parameters or {}).items()},
    )


CauseSpec = issue_pb2.SimpleIssue | tuple[str, str] | tuple[str, str, str]


def make_issue_chain(session: str, application: str, severity: str, message: str, *, name: str = "ers::Issue",
                     causes: Iterable[CauseSpec] = (), host: str | None = None,
                     parameters: Mapping[str, object] | None = None, time_ns: int | None = None,
                     **context) -> issue_pb2.IssueChain:
    """An `IssueChain` as erskafka publishes it: `final` plus `causes` (direct cause first, root cause last).

    A cause is a ready `SimpleIssue`, or `(name, message)` / `(name, message, severity)` (severity defaults to the
    final issue's), built with the same application, host and time. Extra keyword arguments go to the final
    issue's context (see `make_simple_issue`: file_name, line_number, function_name, process_id, user_name, ...).
    """
    when = time_ns if time_ns is not None else time.time_ns()
    host = host if host is not None else socket.gethostname()
    final = make_simple_issue(name, message, severity, application=application, host=host, parameters=parameters,
                              time_ns=when, **context)
    chain = issue_pb2.IssueChain(final=final, session=session, application=application)
    for cause in causes:
        if isinstance(cause, issue_pb2.SimpleIssue):
            chain.causes.append(cause)
            continue
        cause_name, cause_message, *rest = cause
        chain.causes.append(make_simple_issue(cause_name, cause_message, rest[0] if rest else severity,
                                              application=application, host=host, time_ns=when,
                                              process_id=final.context.process_id,
                                              user_name=final.context.user_name))
    return chain


class ErsPublisher(_SafeProducer):
    """Publishes `IssueChain` records on `monitoring.ers_stream`, key = the chain's session (UTF-8 bytes)."""

    def __init__(self, bootstrap: str, *, topic: str = ERS_TOPIC, linger_ms: int = 5, publish_timeout: float = 30.0,
                 config: Mapping[str, object] | None = None):
        super().__init__(bootstrap, client_id="erskafka", linger_ms=linger_ms, publish_timeout=publish_timeout,
                         config=config)
        self.topic = topic

    def publish(self, chain: issue_pb2.IssueChain) -> bool:
        """Queue one chain; False (logged and counted) when it could not be queued. Never raises."""
        return self._produce(self.topic, chain.SerializeToString(), key=chain.session.encode("utf-8"))


@dataclass(frozen=True)
class _IssueKind:
    name: str
    message: str  # str.format template over `parameters`
    severities: tuple[str, ...]
    parameters: tuple[tuple[str, tuple[object, ...]], ...]  # name → candidate values


_FINAL_ISSUES = (
    _IssueKind("dfmodules::DataStoreFull", "Data store '{store}' is full: {free_gb} GB free, {needed_gb} GB needed",
               ("ERROR",), (("store", ("hdf5_datawriter_0", "hdf5_datawriter_1")), ("free_gb", (0, 1, 2)),
                            ("needed_gb", (4, 8, 16)))),
    _IssueKind("readoutlibs::QueueFull", "Queue '{queue}' is full, dropping data ({dropped} frames)",
               ("WARNING", "ERROR"), (("queue", ("raw_input_0", "raw_input_1", "fragment_queue")),
                                      ("dropped", (1, 12, 128, 1024)))),
    _IssueKind("trigger::TriggerInhibited", "Trigger is inhibited in run {run_number}", ("WARNING",),
               (("run_number", (12345, 12346, 12347)),)),
    _IssueKind("iomanager::TimeoutExpired", "send to connection '{connection}' timed out after {timeout_ms} ms",
               ("WARNING", "ERROR"), (("connection", ("trigger_decision_0", "td_to_dfo", "fragments_to_dqm")),
                                      ("timeout_ms", (10, 100, 1000)))),
    _IssueKind("dfmodules::InsufficientDiskSpace", "Free space on '{path}' is below {percent}%", ("WARNING",),
               (("path", ("/data0", "/data1")), ("percent", (5, 10)))),
)

_CAUSES = (
    ("hdf5libs::FileOperationProblem", "Problem opening file /data0/np04_raw_run012345_0001.hdf5.writing"),
    ("iomanager::OperationFailed", "Operation send failed on connection 'fragments_to_dqm'"),
    ("readoutlibs::CannotWriteToQueue", "Could not write to queue 'raw_input_0'"),
    ("ers::FileSystemError", "No space left on device"),
    ("trigger::TokenManagerFull", "No free tokens: 10 in flight"),
)


class ErsGenerator(threading.Thread):
    """Publishes a random ERS issue every `period` seconds until `stop()`; reproducible with `seed`.

    `source` is a bootstrap address (the generator then owns and closes its `ErsPublisher`) or a publisher-like
    object with `publish(chain)`.
    """

    def __init__(self, source, *, session: str, applications: Sequence[str], period: float = 5.0,
                 seed: int | None = None, cause_probability: float = 0.4):
        super().__init__(name="ers-generator", daemon=True)
        if not applications:
            raise ValueError("ErsGenerator needs at least one application")
        self._owns_publisher = isinstance(source, str)
        self.publisher = ErsPublisher(source) if self._owns_publisher else source
        self.session = session
        self.applications = list(applications)
        self.period = period
        self.cause_probability = cause_probability
        self.published = 0
        self._random = random.Random(seed)
        self._stop_event = threading.Event()
        self._hosts = {app: f"np04-srv-{self._random.randint(1, 30):03d}" for app in self.applications}
        self._pids = {app: self._random.randint(1000, 4_000_000) for app in self.applications}

    def generate_one(self) -> issue_pb2.IssueChain:
        """The next random chain (not published)."""
        rng = self._random
        application = rng.choice(self.applications)
        kind = rng.choice(_FINAL_ISSUES)
        parameters = {key: rng.choice(values) for key, values in kind.parameters}
        severity = rng.choice(kind.severities)
        causes = []
        if rng.random() < self.cause_probability:
            causes = rng.sample(_CAUSES, rng.randint(1, 2))
        return make_issue_chain(self.session, application, severity, kind.message.format(**parameters),
                                name=kind.name, causes=causes, host=self._hosts[application],
                                parameters=parameters, process_id=self._pids[application], user_name="daq",
                                cwd="/opt/dunedaq")

    def publish_one(self) -> issue_pb2.IssueChain:
        chain = self.generate_one()
        if self.publisher.publish(chain) is not False:
            self.published += 1
        return chain

    def run(self) -> None:
        while not self._stop_event.wait(self.period):
            try:
                self.publish_one()
            except Exception:  # noqa: BLE001 - keep generating
                log.exception("ERS generator failed to publish")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (if started) and close the publisher it owns. Idempotent."""
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout)
        if self._owns_publisher:
            self.publisher.close(timeout)
