"""Server-side login sessions: start, load, revoke (one, all of a user's, with a password change or a disabled
account), idle and absolute expiry, throttled last_seen writes, pruning; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from store import LoginSessions, SessionPolicy
from store.models import LoginSession, User, utcnow

POLICY = SessionPolicy(idle=timedelta(minutes=30), lifetime=timedelta(hours=12))


@pytest.fixture
def sessions(db):
    return LoginSessions(db, POLICY)


@pytest.fixture
def alice(users):
    return users.create_user("alice", "pw-alice", ["shifter"])


@pytest.fixture
def bob(users):
    return users.create_user("bob", "pw-bob", ["viewer"])


def _row(db, token_owner_id: int) -> LoginSession:
    with db.session() as s:
        return s.scalars(select(LoginSession).where(LoginSession.user_id == token_owner_id)).one()


def test_a_started_session_loads_its_user_with_permissions(sessions, alice):
    token = sessions.start(alice.id, "10.0.0.1")
    assert sessions.load(alice.id, token) == alice
    assert "process.modify" in sessions.load(alice.id, token).permissions


def test_the_table_holds_a_hash_not_the_token(sessions, db, alice):
    token = sessions.start(alice.id, "10.0.0.1")
    row = _row(db, alice.id)
    assert token not in row.id and len(row.id) == 64
    assert row.address == "10.0.0.1"


def test_unknown_token_or_another_users_id_is_refused(sessions, alice, bob):
    token = sessions.start(alice.id)
    assert sessions.load(alice.id, "not-a-token") is None
    assert sessions.load(alice.id, "") is None
    assert sessions.load(bob.id, token) is None, "a token belongs to one user"


def test_ending_one_session_keeps_the_others(sessions, alice):
    first, second = sessions.start(alice.id), sessions.start(alice.id)
    assert sessions.end(first) is True
    assert sessions.end(first) is False, "already ended"
    assert sessions.load(alice.id, first) is None
    assert sessions.load(alice.id, second) == alice


def test_a_password_change_ends_every_session_of_that_user_only(sessions, users, alice, bob):
    mine = [sessions.start(alice.id) for _ in range(3)]
    theirs = sessions.start(bob.id)
    users.set_password("alice", "new-pw-alice")
    assert all(sessions.load(alice.id, t) is None for t in mine)
    assert sessions.load(bob.id, theirs) == bob
    fresh = sessions.start(alice.id)
    assert sessions.load(alice.id, fresh) is not None, "a new login after the change works"


def test_a_refused_password_change_ends_nothing(sessions, users, alice):
    from store import InvalidInput

    token = sessions.start(alice.id)
    with pytest.raises(InvalidInput):
        users.set_password("alice", "x")
    assert sessions.load(alice.id, token) is not None


def test_disabling_ends_the_sessions_and_enabling_does_not_revive_them(sessions, users, alice):
    token = sessions.start(alice.id)
    users.set_active("alice", False)
    assert sessions.load(alice.id, token) is None
    users.set_active("alice", True)
    assert sessions.load(alice.id, token) is None


def test_a_disabled_user_is_refused_even_with_an_open_row(sessions, db, alice):
    token = sessions.start(alice.id)
    with db.session() as s:  # disabled behind the repository's back: the loader still checks the flag
        s.get(User, alice.id).active = False
    assert sessions.load(alice.id, token) is None


def test_end_sessions_counts_and_ends_them(sessions, users, alice, bob):
    for _ in range(2):
        sessions.start(alice.id)
    keep = sessions.start(bob.id)
    assert sessions.active_counts() == {alice.id: 2, bob.id: 1}
    assert users.end_sessions("alice") == 2
    assert users.end_sessions("alice") == 0
    assert sessions.active_counts() == {bob.id: 1}
    assert sessions.load(bob.id, keep) == bob


def test_end_sessions_of_an_unknown_user_is_a_clear_error(users):
    from store import UnknownUser

    with pytest.raises(UnknownUser, match="no user named 'ghost'"):
        users.end_sessions("ghost")


def test_an_idle_session_is_refused(sessions, alice):
    start = utcnow()
    token = sessions.start(alice.id, now=start)
    assert sessions.load(alice.id, token, now=start + timedelta(minutes=29)) == alice
    # that request moved last_seen: 29 more idle minutes are still fine, 31 are not
    assert sessions.load(alice.id, token, now=start + timedelta(minutes=58)) == alice
    assert sessions.load(alice.id, token, now=start + timedelta(minutes=58 + 31)) is None


def test_a_session_ends_after_its_lifetime_however_active(sessions, alice):
    start = utcnow()
    token = sessions.start(alice.id, now=start)
    for minutes in range(20, 12 * 60, 20):
        assert sessions.load(alice.id, token, now=start + timedelta(minutes=minutes)) == alice
    assert sessions.load(alice.id, token, now=start + timedelta(hours=12, minutes=1)) is None


def test_last_seen_is_written_at_most_once_a_minute(sessions, db, alice):
    start = utcnow()
    token = sessions.start(alice.id, now=start)
    for seconds in range(1, 60):  # a tab polling every second
        sessions.load(alice.id, token, now=start + timedelta(seconds=seconds))
    assert _row(db, alice.id).last_seen == start
    sessions.load(alice.id, token, now=start + timedelta(seconds=61))
    assert _row(db, alice.id).last_seen == start + timedelta(seconds=61)


def test_a_short_idle_timeout_writes_last_seen_often_enough(db, alice):
    sessions = LoginSessions(db, SessionPolicy(idle=timedelta(minutes=1), lifetime=timedelta(hours=1)))
    start = utcnow()
    token = sessions.start(alice.id, now=start)
    for seconds in range(20, 300, 20):  # a request every 20 s keeps a 1-minute session alive
        assert sessions.load(alice.id, token, now=start + timedelta(seconds=seconds)) == alice


def test_dead_rows_are_pruned_at_the_next_login(sessions, db, users, alice, bob):
    start = utcnow()
    ended = sessions.start(alice.id, now=start)
    sessions.end(ended)
    sessions.start(alice.id, now=start - timedelta(hours=1))  # idle for an hour
    live = sessions.start(bob.id, now=start)
    sessions.start(bob.id, now=start)
    with db.session() as s:
        assert len(s.scalars(select(LoginSession)).all()) == 2, "two dead, the live ones kept"
    assert sessions.load(bob.id, live) == bob
    assert sessions.prune() == 0


def test_deleting_a_user_deletes_their_sessions(sessions, db, alice):
    sessions.start(alice.id)
    with db.session() as s:
        s.execute(delete(User).where(User.id == alice.id))
    with db.session() as s:
        assert s.scalars(select(LoginSession)).all() == []


def test_loading_a_session_is_one_query(sessions, db, alice):
    from sqlalchemy import event

    token = sessions.start(alice.id)
    sessions.load(alice.id, token)  # warm the pool (SQLite runs its pragmas on connect)
    statements = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert sessions.load(alice.id, token) == alice
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1, statements
