"""Alembic migrations: schema creation, idempotence, models in step with the migration, concurrent start-up."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, DateTime, Index, Integer, MetaData, inspect, select, text

from store import AuditLog, Database, UserRepository
from store.db import MIGRATIONS_DIR
from store.models import Base, User

REPO_ROOT = Path(__file__).resolve().parents[2]
TABLES = {
    "alembic_version",
    "audit_events",
    "boot_configuration_versions",
    "boot_configurations",
    "consumer_status",
    "controller_locks",
    "message_acks",
    "message_counts",
    "login_sessions",
    "messages",
    "permissions",
    "role_permissions",
    "roles",
    "runs",
    "user_roles",
    "users",
}


def _alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _head(url: str) -> str:
    heads = ScriptDirectory.from_config(_alembic_config(url)).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    return heads[0]


def _differences(db: Database, metadata: MetaData) -> list:
    with db.engine.connect() as conn:
        # messages_fts* (SQLite's FTS5 trigram index of the text, migration 0008) is not a model.
        context = MigrationContext.configure(conn, opts={
            "compare_type": True, "compare_server_default": True,
            "include_name": lambda name, kind, _parent: not (kind == "table" and name.startswith("messages_fts"))})
        return compare_metadata(context, metadata)


def test_fresh_database_has_no_revision(database_url):
    db = Database(database_url)
    try:
        assert db.current_revision() is None
        assert db.ping()
    finally:
        db.dispose()


def test_migrate_creates_the_schema_at_head(db, database_url):
    assert {t for t in inspect(db.engine).get_table_names() if not t.startswith("messages_fts")} == TABLES
    assert db.current_revision() == _head(database_url)
    indexes = {ix["name"] for ix in inspect(db.engine).get_indexes("audit_events")}
    assert {"ix_audit_time", "ix_audit_user_time", "ix_audit_action_time", "ix_audit_address_time"} <= indexes


def test_migrate_is_idempotent_and_keeps_data(db, database_url):
    UserRepository(db).create_user("alice", "password")
    AuditLog(db).record("alice", "login")
    before = set(inspect(db.engine).get_table_names())

    db.migrate()
    Database(database_url).migrate()  # a second process-like instance, too

    assert set(inspect(db.engine).get_table_names()) == before
    assert db.current_revision() == _head(database_url)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    with db.session() as s:
        assert s.scalars(select(User.username)).all() == ["alice"]
    assert AuditLog(db).count("login") == 1


def test_models_match_the_migration(db):
    assert _differences(db, Base.metadata) == []


def test_model_comparison_does_see_differences(db):
    """Guards the test above: a comparison that never finds anything would prove nothing."""
    metadata = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(metadata)
    events = metadata.tables["audit_events"]
    events.append_column(Column("extra", Integer, nullable=True))
    Index("ix_audit_outcome", events.c.outcome)
    expected = {"add_column", "add_index"}
    if not db.is_sqlite:  # SQLite has no time zone in its column types; PostgreSQL's TIMESTAMP has
        events.c.time.type = DateTime(timezone=False)
        expected.add("modify_type")

    diffs = _differences(db, metadata)
    # Column changes come as a list of operations, the others as one tuple each.
    kinds = {op[0] for diff in diffs for op in (diff if isinstance(diff, list) else [diff])}
    assert expected <= kinds


def test_downgrade_to_base_then_upgrade_again(db, database_url):
    config = _alembic_config(database_url)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    assert db.current_revision() is None

    db.migrate()
    assert {t for t in inspect(db.engine).get_table_names() if not t.startswith("messages_fts")} == TABLES
    assert db.current_revision() == _head(database_url)


# Each child waits for the "go" file so that all of them migrate at the same moment, then writes a few audit events.
_CHILD = """
import os, sys, time
from pathlib import Path
import alembic.command, alembic.config  # imported up front so that the migrations themselves overlap
from store import AuditLog, Database
url, ready, go, events = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
db = Database(url)
ready.touch()
deadline = time.monotonic() + 30
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("never told to go")
    time.sleep(0.005)
db.migrate()
log = AuditLog(db)
for i in range(events):
    log.record("child-%d" % os.getpid(), "test.concurrent", target=str(i))
print(db.current_revision())
"""


def test_concurrent_processes_migrate_the_same_database(database_url, tmp_path):
    processes, events = 2, 20
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, database_url, str(tmp_path / f"ready-{i}"), str(go), str(events)],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    try:
        deadline = time.monotonic() + 30
        while not all((tmp_path / f"ready-{i}").exists() for i in range(processes)):
            assert time.monotonic() < deadline, "the children did not start"
            assert all(c.poll() is None for c in children), [c.communicate() for c in children]
            time.sleep(0.01)
        go.touch()
        results = [c.communicate(timeout=60) for c in children]
    finally:
        for c in children:
            if c.poll() is None:
                c.kill()
                c.wait()

    head = _head(database_url)
    for child, (out, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err
        assert out.strip() == head
    db = Database(database_url)
    try:
        assert db.current_revision() == head
        assert {t for t in inspect(db.engine).get_table_names() if not t.startswith("messages_fts")} == TABLES
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        assert AuditLog(db).count("test.concurrent") == processes * events
    finally:
        db.dispose()
