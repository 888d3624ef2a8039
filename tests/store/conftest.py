"""Fixtures for the store tests: a migrated database on each backend, its repositories, and fast hashing.

Every fixture that touches a database builds on `database_url` (tests/conftest.py), so each test runs on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import pytest
from werkzeug.security import generate_password_hash

import store.users
from auth.permissions import DEFAULT_ROLES, PERMISSIONS
from store import AuditLog, Database, UserRepository


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    """scrypt costs ~0.1 s a hash; one PBKDF2 round keeps the suite quick and is still checked as a real hash."""
    monkeypatch.setattr(
        store.users, "generate_password_hash", lambda password: generate_password_hash(password, "pbkdf2:sha256:1")
    )


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def users(db):
    repo = UserRepository(db)
    repo.ensure_catalog(PERMISSIONS, DEFAULT_ROLES)
    return repo


@pytest.fixture
def audit(db):
    return AuditLog(db)
