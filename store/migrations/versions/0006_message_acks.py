"""messages for the Messages page: (field, time, id) indexes for pages ordered by time, the writing transaction's
id for exact live polling, acknowledgements, and a trigram index for text search on PostgreSQL

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

UNACKED_ALARM = "severity IN ('ERROR', 'FATAL') AND acked_at IS NULL"
OLD_INDEXES = {
    "ix_messages_time": ["time"],
    "ix_messages_severity_id": ["severity", "id"],
    "ix_messages_session_id": ["session", "id"],
    "ix_messages_source_id": ["source", "id"],
    "ix_messages_topic_id": ["topic", "id"],
    "ix_messages_type_id": ["broadcast_type", "id"],
}
NEW_INDEXES = {
    "ix_messages_time_id": ["time", "id"],
    "ix_messages_severity_time": ["severity", "time", "id"],
    "ix_messages_session_time": ["session", "time", "id"],
    "ix_messages_source_time": ["source", "time", "id"],
    "ix_messages_topic_time": ["topic", "time", "id"],
    "ix_messages_type_time": ["broadcast_type", "time", "id"],
    "ix_messages_host_time": ["host", "time", "id"],
    "ix_messages_issue_time": ["issue_name", "time", "id"],
    "ix_messages_kind_time": ["kind", "time", "id"],
}


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    # Plain ADD COLUMN (nullable, no default): instant on both databases, whatever the table holds.
    op.add_column("messages", sa.Column("txid", sa.BigInteger(), nullable=True))
    op.add_column("messages", sa.Column("acked_at", UTCDateTime(), nullable=True))
    for name in OLD_INDEXES:
        op.drop_index(name, "messages")
    for name, columns in NEW_INDEXES.items():
        op.create_index(name, "messages", columns)
    op.create_index("ix_messages_txid", "messages", ["txid", "id"], sqlite_where=sa.text("txid IS NOT NULL"),
                    postgresql_where=sa.text("txid IS NOT NULL"))
    op.create_index("ix_messages_unacked_alarms", "messages", ["id"], sqlite_where=sa.text(UNACKED_ALARM),
                    postgresql_where=sa.text(UNACKED_ALARM))
    op.create_table(
        "message_acks",
        sa.Column("message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("acked_at", UTCDateTime(), nullable=False),
    )
    if _is_postgresql():
        # Debian's postgresql-15 ships pg_trgm in the server package (contrib); a trusted extension since 13, so
        # a database owner may create it. The index is on lower(text), the expression the text filter uses.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_messages_text_trgm ON messages USING gin (lower(text) gin_trgm_ops)")


def downgrade() -> None:
    if _is_postgresql():
        op.execute("DROP INDEX IF EXISTS ix_messages_text_trgm")
    op.drop_table("message_acks")
    op.drop_index("ix_messages_unacked_alarms", "messages")
    op.drop_index("ix_messages_txid", "messages")
    for name in NEW_INDEXES:
        op.drop_index(name, "messages")
    for name, columns in OLD_INDEXES.items():
        op.create_index(name, "messages", columns)
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("acked_at")
        batch.drop_column("txid")
