"""Engine, sessions and migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant will do; it only has to be the same in every process that migrates this database.
_PG_MIGRATION_LOCK = 7_230_415


class Database:
    """One engine per process. Created lazily-safe: call `dispose()` in a forked child before reuse."""

    def __init__(self, url: str):
        self.url = url
        self.engine = _make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def migrate(self) -> None:
        """Bring the schema to the newest revision; safe when several processes start at once."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self._migration_lock() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            try:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except Exception:
                return None

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def _migration_lock(self):
        if self.is_sqlite:
            path = self.url.removeprefix("sqlite:///")
            lock_path = (path + ".migrate-lock") if path and path != ":memory:" else None
            handle = open(lock_path, "w") if lock_path else None  # noqa: SIM115
            try:
                if handle:
                    fcntl.flock(handle, fcntl.LOCK_EX)
                with self.engine.begin() as connection:
                    yield connection
            finally:
                if handle:
                    fcntl.flock(handle, fcntl.LOCK_UN)
                    handle.close()
        else:
            with self.engine.begin() as connection:
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
                yield connection


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the web workers read while the consumer writes; busy_timeout makes writers queue, not fail.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def reset_after_fork(database: Database) -> None:
    """Pooled connections must not cross a fork (background callbacks, gunicorn --preload)."""
    database.engine.dispose(close=False)


__all__ = ["Database", "reset_after_fork"]
