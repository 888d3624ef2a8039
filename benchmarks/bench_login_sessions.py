"""What the server-side session check costs on every request.

- the user loader before (get_by_id: user, then roles and permissions by selectin) and now (LoginSessions.load:
  user, session row, roles and permissions in one query), median per call;
- SQL statements per request while a tab polls (last_seen is written at most once a minute);
- a login (prune + insert) and a logout (one update).
Run: .venv/bin/python benchmarks/bench_login_sessions.py [--database-url URL] [--repeat N]
(default: a throw-away SQLite file; pass a postgresql+psycopg:// URL to an empty database for PostgreSQL).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from auth.permissions import DEFAULT_ROLES, PERMISSIONS  # noqa: E402
from store import Database, LoginSessions, UserRepository  # noqa: E402


def median_us(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    parser.add_argument("--repeat", type=int, default=2000, help="calls per figure (default 2000)")
    parser.add_argument("--sessions", type=int, default=1000, help="other open sessions in the table (default 1000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        db = Database(url)
        db.migrate()
        users = UserRepository(db)
        users.ensure_catalog(PERMISSIONS, DEFAULT_ROLES)
        who = users.get("bench-shifter") or users.create_user("bench-shifter", "bench-password", ["expert"])
        sessions = LoginSessions(db)
        for _ in range(args.sessions):
            sessions.start(who.id, "10.0.0.1")
        token = sessions.start(who.id, "10.0.0.1")

        before = median_us(lambda: users.get_by_id(who.id), args.repeat)
        now = median_us(lambda: sessions.load(who.id, token), args.repeat)
        statements: list[str] = []
        listener = lambda *a: statements.append(a[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        for _ in range(100):
            sessions.load(who.id, token)
        event.remove(db.engine, "before_cursor_execute", listener)
        login = median_us(lambda: sessions.start(who.id, "10.0.0.1"), max(10, args.repeat // 20))
        logout = median_us(lambda: sessions.end(token), max(10, args.repeat // 20))

        print(f"database: {db.engine.dialect.name}, {args.sessions} other open sessions")
        print(f"user loader before (get_by_id):        {before:8.0f} µs median")
        print(f"user loader now (session + user, 1 q): {now:8.0f} µs median")
        print(f"SQL statements for 100 polls:          {len(statements):8d}")
        print(f"login (prune + insert):                {login:8.0f} µs median")
        print(f"logout (one update):                   {logout:8.0f} µs median")
        db.dispose()


if __name__ == "__main__":
    main()
