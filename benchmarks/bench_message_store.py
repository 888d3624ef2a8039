"""Message store figures: insert rate by batch size, and query times at 10k / 100k / 1M stored rows.

    .venv/bin/python benchmarks/bench_message_store.py [--sizes 10000,100000,1000000]

SQLite always (a temporary file); PostgreSQL too when TEST_POSTGRES_URL is set (a temporary database).
Goals (issue 5): >= 20,000 rows/s into SQLite; newer_than < 5 ms and a filtered search < 50 ms at 1M rows.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from store import Database  # noqa: E402
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


def bench(label: str, url: str, sizes: list[int]) -> None:
    db = Database(url)
    db.migrate()
    store = MessageStore(db)
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
    flt = MessageFilter(severities=("ERROR", "FATAL"), sessions=("session-3",), text="disk")
    errors = MessageFilter(severities=("ERROR",))
    for size in sizes:
        t = time.perf_counter()
        while store.count() < size:
            n = min(5000, size - store.count())
            store.insert_batch(rows(next_offset, n, rng))
            next_offset += n
        loaded = time.perf_counter() - t
        last = store.latest_id()
        newer = timed(lambda last=last: store.newer_than(last - 100, limit=500))
        newer_f = timed(lambda last=last: store.newer_than(last - 100, limit=500, flt=errors))
        search = timed(lambda: store.search(flt, limit=100))
        first = store.search(flt, limit=100)
        before = first[-1].id if first else None
        search2 = timed(lambda before=before: store.search(flt, before_id=before, limit=100))
        plain = timed(lambda: store.search(MessageFilter(), limit=100))
        text_only = timed(lambda: store.search(MessageFilter(text="disk full"), limit=100), repeat=5)
        print(f"{size:>9,} rows (loaded in {loaded:.1f} s): newer_than {newer:.2f} ms, newer_than+severity "
              f"{newer_f:.2f} ms, search(ERROR|FATAL, session, text) {search:.2f} ms, its page 2 {search2:.2f} ms, "
              f"unfiltered page {plain:.2f} ms, text-only search {text_only:.2f} ms")
    t = time.perf_counter()
    removed = store.prune(None, max(sizes) - 50_000)
    print(f"prune of {removed:,} rows in 5000-row batches: {time.perf_counter() - t:.2f} s")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
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
