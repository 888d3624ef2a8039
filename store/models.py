"""All SQL models. Later tables (messages, snapshots) are added here too, with an Alembic revision each."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy import column as sql_column
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone, PostgreSQL keeps it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


role_permissions = Table(
    "role_permissions",
    Base.metadata,
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Column("permission_id", ForeignKey("permissions.id", ondelete="CASCADE"), primary_key=True),
)

user_roles = Table(
    "user_roles",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)


class Permission(Base):
    __tablename__ = "permissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")


class Role(Base):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    permissions: Mapped[list[Permission]] = relationship(secondary=role_permissions, lazy="selectin")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")


class LoginSession(Base):
    """One browser login. The cookie carries the token; the row lets the server end the session before the cookie
    expires (logout, a password change, a disabled account, an administrator's "end sessions").

    The key is the SHA-256 of the token, so a leaked table cannot be replayed as cookies.
    """

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    address: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (Index("ix_login_sessions_user", "user_id"),)


class AuditEvent(Base):
    """Who did what to which target, with what arguments, and how it ended.

    The user is kept by name, not by key, so the trail outlives a deleted account.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    username: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(Text, default="")
    arguments: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (
        Index("ix_audit_time", "time"),
        Index("ix_audit_user_time", "username", "time"),
        Index("ix_audit_action_time", "action", "time"),
        Index("ix_audit_address_time", "address", "time"),
    )


UNACKED_ALARM = "severity IN ('ERROR', 'FATAL') AND acked_at IS NULL"

# BIGINT on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the rowid alias (and AUTOINCREMENT needs it).
MessageId = BigInteger().with_variant(Integer(), "sqlite")


class Message(Base):
    """One Kafka record: a drunc broadcast, an ERS issue chain, or an undecodable payload.

    Unique on (topic, partition, offset), so a redelivered record is stored once. Ids only grow (AUTOINCREMENT on
    SQLite, a sequence on PostgreSQL), even after every row has been pruned, so "newer than id" never misses one.
    Each filter column has a (column, id) index so a filtered query can walk it in id order and stop at LIMIT.
    """

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(MessageId, primary_key=True, autoincrement=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    topic: Mapped[str] = mapped_column(String(255))
    partition: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    session: Mapped[str] = mapped_column(String(255), default="")
    source: Mapped[str] = mapped_column(String(255), default="")
    host: Mapped[str] = mapped_column(String(255), default="")
    broadcast_type: Mapped[str] = mapped_column(String(64), default="")
    issue_name: Mapped[str] = mapped_column(String(255), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # PostgreSQL: the writing transaction's id (pg_current_xact_id), for exact live polling (store/message_live.py).
    # NULL on SQLite, where id order is commit order, and on rows stored before migration 0006.
    txid: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Set when an ERROR or FATAL is acknowledged (who and when: MessageAck), so the unacknowledged ones are a small
    # partial index the navbar badge counts.
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("topic", "partition", "offset", name="uq_messages_topic_partition_offset"),
        # Pages are ordered by (time, id): one (field, time, id) index per filter field lets a filtered page walk
        # the matching rows in order and stop at LIMIT.
        Index("ix_messages_time_id", "time", "id"),
        Index("ix_messages_severity_time", "severity", "time", "id"),
        Index("ix_messages_session_time", "session", "time", "id"),
        Index("ix_messages_source_time", "source", "time", "id"),
        Index("ix_messages_topic_time", "topic", "time", "id"),
        Index("ix_messages_type_time", "broadcast_type", "time", "id"),
        Index("ix_messages_host_time", "host", "time", "id"),
        Index("ix_messages_issue_time", "issue_name", "time", "id"),
        Index("ix_messages_kind_time", "kind", "time", "id"),
        Index("ix_messages_txid", "txid", "id", sqlite_where=sql_text("txid IS NOT NULL"),
              postgresql_where=sql_text("txid IS NOT NULL")),
        Index("ix_messages_unacked_alarms", "id", sqlite_where=sql_text(UNACKED_ALARM),
              postgresql_where=sql_text(UNACKED_ALARM)),
        # Text search on PostgreSQL (pg_trgm, migration 0006); SQLite has no trigram index.
        Index("ix_messages_text_trgm", func.lower(sql_column("text")), postgresql_using="gin",
              postgresql_ops={"text": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
        {"sqlite_autoincrement": True},
    )


# Messages per minute, severity, kind and session, and how many of them are not acknowledged: kept by the triggers
# of migration 0007 on every insert, delete and acknowledgement, never written by the application. Counters, the
# rate plot and the alarm badge read it when the filter is only about these fields and time. SQLite: one row per
# key (updated, else inserted; writers are serialised anyway). PostgreSQL: delta rows, summed when read and compacted by
# MessageStore.prune, so concurrent writers never wait for each other on a shared counter row.
MessageCount = Table(
    "message_counts", Base.metadata,
    Column("minute", BigInteger, nullable=False),  # Unix seconds of the minute's start, UTC
    Column("severity", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("session", String(255), nullable=False),
    Column("n", BigInteger, nullable=False),
    Column("unacked", BigInteger, nullable=False),
    Index("ix_message_counts_key", "minute", "severity", "kind", "session"),
)


class MessageAck(Base):
    """Who acknowledged a message, and when. Pruning a message drops its acknowledgement with it (ON DELETE
    CASCADE): the record lives as long as the message it is about."""

    __tablename__ = "message_acks"

    message_id: Mapped[int] = mapped_column(MessageId, ForeignKey("messages.id", ondelete="CASCADE"),
                                            primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    acked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsumerStatus(Base):
    """One row per consumer process (by name): what the UI shows about the message pipeline's health."""

    __tablename__ = "consumer_status"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_message_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_poll_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    messages_stored: Mapped[int] = mapped_column(BigInteger, default=0)
    undecodable: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Run(Base):
    """A run as this UI saw it: drunc 0.10.x carries no run information, so the UI records runs itself.

    `source` is "ui" for a run started through this UI and "outside" for one detected from the root's state change
    (drunc's shell); then `started_at` is the time the change was seen and `number` may be unknown (None).
    """

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session: Mapped[str] = mapped_column(String(255))
    root: Mapped[str] = mapped_column(String(255), default="")  # the root controller's address at the time
    number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    run_type: Mapped[str] = mapped_column(String(64), default="")
    started_by: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stopped_by: Mapped[str] = mapped_column(String(64), default="")
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    arguments: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="ui")
    outcome: Mapped[str] = mapped_column(String(32), default="running")  # running, stopped, failed, lost
    detail: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_runs_session_started", "session", "started_at"),
        Index("ix_runs_number", "number"),
    )


class ControllerLock(Base):
    """The transition or sequence running on a root controller now: one row per root, so every tab, worker and
    web host behind a load balancer agrees that one is in progress. A row left by a crashed worker expires."""

    __tablename__ = "controller_locks"

    root: Mapped[str] = mapped_column(String(255), primary_key=True)
    session: Mapped[str] = mapped_column(String(255), default="")
    operation: Mapped[str] = mapped_column(String(64))  # "start", "start_run", ...
    username: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    token: Mapped[str] = mapped_column(String(64))  # who holds it: only the holder releases it


class BootConfiguration(Base):
    """A named boot plan; its content lives in versions, so an edit never loses what was booted before."""

    __tablename__ = "boot_configurations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BootConfigurationVersion(Base):
    """One version of a boot plan: the processes (the boot file's JSON form), who wrote it and when."""

    __tablename__ = "boot_configuration_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    configuration_id: Mapped[int] = mapped_column(ForeignKey("boot_configurations.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    plan: Mapped[dict] = mapped_column(JSON)
    author: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    comment: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (UniqueConstraint("configuration_id", "version", name="uq_boot_config_version"),)
