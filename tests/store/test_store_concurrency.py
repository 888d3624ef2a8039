"""Connection settings and concurrent use: WAL on SQLite, threads writing at once, start-up races."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, func, select, text

from auth.permissions import DEFAULT_ROLES, PERMISSIONS
from store import UserExists, UserRepository
from store.models import AuditEvent, Role, role_permissions, user_roles


def _run_threads(count: int, target) -> list[BaseException]:
    """Start `count` threads on target(index) together; the exceptions they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            target(index)
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return errors


def test_sqlite_connections_use_wal_and_wait_for_locks(db):
    if not db.is_sqlite:
        pytest.skip("journal mode and busy timeout are SQLite settings")
    # Two connections open at once: the pragmas are set on every new connection, not just the first.
    with db.engine.connect() as first, db.engine.connect() as second:
        for conn in (first, second):
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 15000
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL


def test_deleting_a_role_cascades_to_its_links(users, db):
    users.create_user("alice", "password", ["viewer", "shifter"])
    with db.session() as s:
        s.execute(delete(Role).where(Role.name == "viewer"))  # a plain DELETE: only the database cascades
    with db.session() as s:
        viewer_links = s.scalar(
            select(func.count()).select_from(role_permissions).where(role_permissions.c.role_id.not_in(select(Role.id)))
        )
        orphan_grants = s.scalar(
            select(func.count()).select_from(user_roles).where(user_roles.c.role_id.not_in(select(Role.id)))
        )
    assert viewer_links == 0
    assert orphan_grants == 0
    assert users.get("alice").roles == ("shifter",)


def test_threads_write_audit_events_at_once(audit, db):
    threads, per_thread = 4, 50
    reads: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            reads.append(len(audit.query(action="test", limit=20)))

    def writer(index: int) -> None:
        for i in range(per_thread):
            audit.record(f"writer{index}", "test.write", target=str(i), arguments={"writer": index, "i": i})

    watcher = threading.Thread(target=reader)
    watcher.start()
    try:
        errors = _run_threads(threads, writer)
    finally:
        stop.set()
        watcher.join(timeout=30)

    assert errors == [], [repr(e) for e in errors]  # in particular no "database is locked"
    assert audit.count("test.write") == threads * per_thread
    for index in range(threads):
        assert audit.count("test.write", username=f"writer{index}") == per_thread
    with db.session() as s:
        ids = s.scalars(select(AuditEvent.id)).all()
    assert len(set(ids)) == threads * per_thread
    assert reads, "the reader never ran"


def test_workers_starting_together_seed_the_catalog_once(db):
    """Every worker runs ensure_catalog at start, then the demo seeding races to create the same user."""
    repo = UserRepository(db)
    outcomes: list[str] = []

    def start(_index: int) -> None:
        repo.ensure_catalog(PERMISSIONS, DEFAULT_ROLES)
        try:
            repo.create_user("admin", "password", ["admin"])
            outcomes.append("created")
        except UserExists:
            outcomes.append("exists")

    errors = _run_threads(4, start)

    assert errors == [], [repr(e) for e in errors]
    assert sorted(outcomes) == ["created", "exists", "exists", "exists"]
    assert [name for name, _ in repo.list_permissions()] == sorted(PERMISSIONS)
    assert {r.name: set(r.permissions) for r in repo.list_roles()} == {
        name: set(perms) for name, (_, perms) in DEFAULT_ROLES.items()
    }
    assert [u.username for u in repo.list_users()] == ["admin"]
