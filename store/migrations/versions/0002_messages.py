"""messages (drunc broadcasts, ERS issues, undecodable records) and the consumer's status row

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("session", sa.String(255), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("broadcast_type", sa.String(64), nullable=False),
        sa.Column("issue_name", sa.String(255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.UniqueConstraint("topic", "partition", "offset", name="uq_messages_topic_partition_offset"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_messages_time", "messages", ["time"])
    op.create_index("ix_messages_severity_id", "messages", ["severity", "id"])
    op.create_index("ix_messages_session_id", "messages", ["session", "id"])
    op.create_index("ix_messages_source_id", "messages", ["source", "id"])
    op.create_index("ix_messages_topic_id", "messages", ["topic", "id"])
    op.create_index("ix_messages_type_id", "messages", ["broadcast_type", "id"])
    op.create_table(
        "consumer_status",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("last_message_time", UTCDateTime(), nullable=True),
        sa.Column("last_poll_time", UTCDateTime(), nullable=True),
        sa.Column("messages_stored", sa.BigInteger(), nullable=False),
        sa.Column("undecodable", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("consumer_status")
    op.drop_table("messages")
