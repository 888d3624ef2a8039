"""runs and controller_locks: the runs this UI saw, and the transition in progress on each root controller

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session", sa.String(255), nullable=False),
        sa.Column("root", sa.String(255), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=True),
        sa.Column("run_type", sa.String(64), nullable=False),
        sa.Column("started_by", sa.String(64), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("stopped_by", sa.String(64), nullable=False),
        sa.Column("stopped_at", UTCDateTime(), nullable=True),
        sa.Column("arguments", sa.JSON(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_runs_session_started", "runs", ["session", "started_at"])
    op.create_index("ix_runs_number", "runs", ["number"])
    op.create_table(
        "controller_locks",
        sa.Column("root", sa.String(255), primary_key=True),
        sa.Column("session", sa.String(255), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("controller_locks")
    op.drop_index("ix_runs_number", "runs")
    op.drop_index("ix_runs_session_started", "runs")
    op.drop_table("runs")
