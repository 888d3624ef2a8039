"""The services a running app uses, built once from the settings and handed to every callback module.

Tests build their own (a fresh database, later a simulator) and pass them to `create_app`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from auth.permissions import DEFAULT_ROLES, DEMO_USERS, PERMISSIONS
from drunc_client.backends import DruncBackends
from polling.controller_feed import ControllerFeeds
from polling.process_feed import ProcessFeed
from settings import Settings
from store import AuditLog, Database, LoginSessions, SessionPolicy, UserExists, UserRepository
from store.acks import AckStore
from store.boot_configs import BootConfigStore
from store.controller_locks import ControllerLocks
from store.messages import MessageStore
from store.runs import RunStore


@dataclass
class Services:
    settings: Settings
    db: Database
    users: UserRepository
    audit: AuditLog
    drunc: DruncBackends
    messages: MessageStore
    process_feed: ProcessFeed
    login_sessions: LoginSessions
    controller_feeds: ControllerFeeds
    runs: RunStore
    controller_locks: ControllerLocks
    acks: AckStore
    boot_configs: BootConfigStore
    # what close() also stops (the app's job runner); a list per instance, filled by create_app
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        db = Database(settings.database_url)
        drunc = DruncBackends(
            process_manager_url=settings.process_manager_url,
            controller_url=settings.controller_url,
            session_manager_url=settings.session_manager_url,
            timeout=settings.drunc_timeout,
            fsm_timeout=settings.fsm_timeout,
            controller_addresses=dict(settings.controller_addresses),
            csc_url=settings.csc_url,
            csc_session=settings.csc_session,
            schema=settings.drunc_schema,
        )
        feed = ProcessFeed(settings.data_dir / "cache", drunc, timeout=settings.drunc_timeout)
        policy = SessionPolicy(idle=timedelta(minutes=settings.session_idle_minutes),
                               lifetime=timedelta(hours=settings.session_hours))
        controller_feeds = ControllerFeeds(settings.data_dir / "cache", drunc, timeout=settings.drunc_timeout,
                                           process_feed=feed)
        return cls(settings=settings, db=db, users=UserRepository(db), audit=AuditLog(db), drunc=drunc,
                   messages=MessageStore(db), process_feed=feed, login_sessions=LoginSessions(db, policy),
                   controller_feeds=controller_feeds, runs=RunStore(db), controller_locks=ControllerLocks(db),
                   acks=AckStore(db), boot_configs=BootConfigStore(db))

    def prepare(self) -> None:
        """Schema, catalog and (demo only) demo users. Idempotent: every worker may run it at start."""
        self.db.migrate()
        self.users.ensure_catalog(PERMISSIONS, DEFAULT_ROLES)
        if self.settings.demo:
            seed_demo_users(self.users, self.settings.demo_password)

    def on_close(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    def close(self) -> None:
        """Stop the pollers and the job runner, release the database (tests build many apps in one process)."""
        for closer in self._closers:
            closer()
        self.process_feed.close()
        self.controller_feeds.close()
        self.db.dispose()


def seed_demo_users(users: UserRepository, password: str) -> None:
    for username, role in DEMO_USERS.items():
        if users.get(username) is None:
            try:
                users.create_user(username, password, [role])
                continue
            except UserExists:  # another worker seeded it a moment ago
                pass
        # The demo password follows DEMO_PASSWORD across restarts. Only a changed one is set: setting a password
        # ends the user's sessions, and every gunicorn worker runs this when it starts.
        if users.verify(username, password) is None:
            users.set_password(username, password)
        users.grant(username, role)
