"""Message store figures: insert rate by batch size, then the Messages page's queries at each stored size.

    .venv/bin/python benchmarks/bench_message_store.py [--rows 1000000] [--sizes 100000,1000000] [--no-sqlite]

SQLite always (a temporary file); PostgreSQL too when TEST_POSTGRES_URL is set (a temporary database).
Goals (issue 13) at 1,000,000 rows: >= 20,000 rows/s inserted; any filter's first and next page <= 50 ms;
severity counters and rate buckets <= 150 ms; live poll <= 5 ms; export of 100,000 rows <= 5 s, flat memory.
Each figure is the median of several runs, in ms; "GOAL" marks one over its goal. Counters and rate are what the
page asks for: exact (from the per-minute rollup when the filter allows), or "capped" (the newest 10,000 matching).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from store import Database  # noqa: E402
from store.acks import AckStore  # noqa: E402
from store.messages import MessageFilter, MessageStore, NewMessage  # noqa: E402

SEVERITIES = ("DEBUG", "DEBUG", "INFO", "INFO", "INFO", "INFO", "WARNING", "WARNING", "ERROR", "FATAL")
TYPES = ("ACK", "COMMAND_EXECUTION_SUCCESS", "FSM_STATUS_UPDATE", "STATUS_UPDATE", "SUBPROCESS_STATUS_UPDATE")
WORDS = ("queue", "full", "timeout", "run", "trigger", "disk", "state", "changing", "process", "exited")


def rows(start: int, n: int, rng: random.Random) -> list[NewMessage]:
    t0 = datetime.now(UTC) - timedelta(hours=1)
    out = []
    for i in range(start, start + n):
        ers = i % 3 == 0
        session = f"session-{rng.randrange(10)}"
        out.append(NewMessage(
            topic="monitoring.ers_stream" if ers else f"control.{session}.app-{i % 20}", partition=i % 4, offset=i,
            time=t0 + timedelta(milliseconds=i), kind="ers" if ers else "broadcast",
            severity=rng.choice(SEVERITIES), session=session, source=f"app-{rng.randrange(40)}", host="np04-srv-001",
            broadcast_type="" if ers else rng.choice(TYPES), issue_name="x::Issue" if ers else "",
            text=" ".join(rng.choice(WORDS) for _ in range(8)) + f" #{i}",
            details={"parameters": {"i": str(i)}, "causes": []} if ers else None,
        ))
    return out


def timed(fn, repeat: int = 20) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def _goal(ms: float, goal: float) -> str:
    return f"{ms:8.2f} ms" + ("  GOAL" if ms > goal else "")


def queries(store: MessageStore, acks: AckStore) -> None:
    """The page's queries at the current size."""
    filters = {
        "no filter": MessageFilter(),
        "severity ERROR": MessageFilter(severities=("ERROR",)),
        "severity other": MessageFilter(severities=("OTHER",)),
        "ERROR|FATAL + session + text": MessageFilter(severities=("ERROR", "FATAL"), sessions=("session-3",),
                                                      text="disk"),
        "source, exclude DEBUG": MessageFilter(sources=("app-7",), exclude=(("severity", "DEBUG"),)),
        "text common": MessageFilter(text="disk full"),
        "text rare": MessageFilter(text="#123457 "),
        "text exclude": MessageFilter(text_exclude="queue"),
        "last 10 minutes": MessageFilter(since=datetime.now(UTC) - timedelta(minutes=10)),
    }
    for name, flt in filters.items():
        rare = "rare" in name
        first = timed(lambda flt=flt: store.page(flt, limit=100), repeat=5 if rare else 20)
        page = store.page(flt, limit=100)
        nxt = timed(lambda flt=flt, k=page[-1].key: store.page(flt, k, limit=100), repeat=5 if rare else 20) \
            if len(page) == 100 else 0.0
        # What the page asks: exact from the rollup, or the newest COUNT_CAP matching rows ("≥" when capped).
        counts = timed(lambda flt=flt: store.counters(flt), repeat=3)
        rate = timed(lambda flt=flt: store.rate_counts(flt), repeat=3)
        exact = "exact" if store.counters(flt)[1] else "capped"
        print(f"  {name:<30} page 1 {_goal(first, 50)}  page 2 {_goal(nxt, 50)}  "
              f"counters {_goal(counts, 150)}  rate {_goal(rate, 150)}  ({exact})")
    _, cursor = store.live(None)
    print(f"  live poll (nothing new)        {_goal(timed(lambda: store.live(cursor)), 5)}")
    live_err = MessageFilter(severities=("ERROR",))
    print(f"  live poll, ERROR filter        {_goal(timed(lambda: store.live(cursor, live_err)), 5)}")
    last = store.latest_id()
    print(f"  newer_than(last - 100)         {_goal(timed(lambda: store.newer_than(last - 100)), 5)}")
    print(f"  unacknowledged_count           {_goal(timed(lambda: acks.unacknowledged_count()), 5)}")
    print(f"  count_matching(no filter)      {_goal(timed(lambda: store.count_matching(), repeat=3), 150)}")
    n = min(100_000, store.count())
    t = time.perf_counter()
    exported = sum(1 for _ in itertools.islice(store.export(MessageFilter()), n))
    seconds = time.perf_counter() - t
    # Memory is measured in a second pass (tracemalloc slows Python down several times).
    tracemalloc.start()
    sum(1 for _ in itertools.islice(store.export(MessageFilter()), n))
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    print(f"  export of {exported:,} rows: {seconds:.2f} s{'  GOAL' if seconds > 5 else ''}, "
          f"peak Python memory {peak:.1f} MB (flat: one 5000-row batch at a time)")


def bench(label: str, url: str, sizes: list[int]) -> None:
    db = Database(url)
    db.migrate()
    store = MessageStore(db)
    acks = AckStore(db)
    rng = random.Random(1)
    print(f"\n== {label}")
    next_offset = 0
    for batch in (100, 500, 2000):
        data = rows(next_offset, 20_000, rng)
        next_offset += len(data)
        t = time.perf_counter()
        for i in range(0, len(data), batch):
            store.insert_batch(data[i:i + batch])
        print(f"insert, batch {batch:>5}: {len(data) / (time.perf_counter() - t):>9,.0f} rows/s")
    t = time.perf_counter()
    store.insert_batch(data[:500])
    print(f"re-insert of 500 stored rows (all skipped): {(time.perf_counter() - t) * 1000:.1f} ms")
    for size in sizes:
        t = time.perf_counter()
        count = store.count()
        while count < size:
            n = min(5000, size - count)
            store.insert_batch(rows(next_offset, n, rng))
            next_offset += n
            count += n
        loaded = time.perf_counter() - t
        if not db.is_sqlite:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE messages")  # what autovacuum does soon after a bulk load
        print(f"{size:,} rows (loaded in {loaded:.1f} s):")
        queries(store, acks)
    t = time.perf_counter()
    removed = store.prune(None, max(sizes) - 50_000)
    print(f"prune of {removed:,} rows in 5000-row batches: {time.perf_counter() - t:.2f} s")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=None, help="one size: the same as --sizes ROWS")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    sizes = [args.rows] if args.rows else [int(s) for s in args.sizes.split(",")]
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            bench("SQLite", f"sqlite:///{tmp}/bench.sqlite3", sizes)
    admin_url = os.environ.get("TEST_POSTGRES_URL")
    if admin_url:
        name = "bench_" + uuid.uuid4().hex[:8]
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            bench("PostgreSQL", re.sub(r"/[^/]*$", f"/{name}", admin_url), sizes)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
