"""message_counts: messages per minute, severity, kind and session (and how many not acknowledged), kept by
triggers so counters, the rate plot and the alarm badge read a few thousand rollup rows instead of a million
messages; on SQLite a trigram full-text index of the text (FTS5) for rare-text searches.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

KEY = "minute, severity, kind, session"

# SQLite: row triggers for deletes and acknowledgements (rare, small). Inserts are counted and indexed once per
# batch by MessageStore.write (store/message_counts.py SQLITE_AFTER_INSERT), several times cheaper than a row
# trigger (ingest 13k instead of 19k rows/s with one). The message time is stored as
# "YYYY-MM-DD HH:MM:SS.ffffff" UTC text, so its minute is its first 16 characters.
_SQLITE_MINUTE = "CAST(strftime('%s', substr({row}.time, 1, 16) || ':00') AS INTEGER)"
SQLITE_TRIGGERS = {
    "message_counts_delete": f"""
        CREATE TRIGGER message_counts_delete AFTER DELETE ON messages BEGIN
            UPDATE message_counts SET n = n - 1, unacked = unacked - (OLD.acked_at IS NULL)
            WHERE minute = {_SQLITE_MINUTE.format(row="OLD")} AND severity = OLD.severity AND kind = OLD.kind
              AND session = OLD.session;
            INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', OLD.id, OLD.text);
        END""",
    "message_counts_ack": f"""
        CREATE TRIGGER message_counts_ack AFTER UPDATE OF acked_at ON messages
        WHEN (OLD.acked_at IS NULL) <> (NEW.acked_at IS NULL) BEGIN
            UPDATE message_counts SET unacked = unacked + (NEW.acked_at IS NULL) - (OLD.acked_at IS NULL)
            WHERE minute = {_SQLITE_MINUTE.format(row="OLD")} AND severity = OLD.severity AND kind = OLD.kind
              AND session = OLD.session;
        END""",
}

# PostgreSQL: statement triggers over transition tables: one grouped INSERT of delta rows per statement (a whole
# batch), never an upsert: an upsert would lock the current minute's rows until commit, so a second consumer would
# wait for the first one's transaction (scale-out would serialise). MessageStore.prune compacts the deltas.
_PG_GROUPED = ("SELECT (floor(extract(epoch FROM time) / 60) * 60)::bigint AS minute, severity, kind, session, "
               "{n} AS n, {unacked} AS unacked FROM {table} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4")
_PG_UPSERT = f"INSERT INTO message_counts ({KEY}, n, unacked) {{select}}"
PG_FUNCTIONS = {
    "message_counts_insert": _PG_UPSERT.format(select=_PG_GROUPED.format(
        n="count(*)", unacked="count(*) FILTER (WHERE acked_at IS NULL)", table="new_rows")),
    "message_counts_delete": _PG_UPSERT.format(select=_PG_GROUPED.format(
        n="-count(*)", unacked="-count(*) FILTER (WHERE acked_at IS NULL)", table="old_rows")),
    # acked_at is the only column ever updated; the difference of unacknowledged rows per key.
    "message_counts_ack": _PG_UPSERT.format(select=_PG_GROUPED.format(
        n="0", unacked="sum(d)::bigint",
        table="(SELECT time, severity, kind, session, (acked_at IS NULL)::int AS d FROM new_rows "
              "UNION ALL SELECT time, severity, kind, session, -(acked_at IS NULL)::int FROM old_rows) AS x")),
}
PG_TRIGGERS = {
    "message_counts_insert": "AFTER INSERT ON messages REFERENCING NEW TABLE AS new_rows",
    "message_counts_delete": "AFTER DELETE ON messages REFERENCING OLD TABLE AS old_rows",
    "message_counts_ack": "AFTER UPDATE ON messages REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
}


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _run(sql: str) -> None:
    # Driver SQL as written: text() would read the ":00" of the SQLite minute as a bind parameter.
    op.get_bind().exec_driver_sql(sql)


def upgrade() -> None:
    op.create_table(
        "message_counts",
        sa.Column("minute", sa.BigInteger(), nullable=False),  # Unix seconds of the minute's start (UTC)
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("session", sa.String(255), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("unacked", sa.BigInteger(), nullable=False),
    )
    # Not unique: PostgreSQL appends delta rows; SQLite keeps one row per key (update, else insert).
    op.create_index("ix_message_counts_key", "message_counts", ["minute", "severity", "kind", "session"])
    if _is_postgresql():
        minute = "(floor(extract(epoch FROM time) / 60) * 60)::bigint"
        for name, body in PG_FUNCTIONS.items():
            _run(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}; "
                       "RETURN NULL; END $$")
            _run(f"CREATE TRIGGER {name} {PG_TRIGGERS[name]} FOR EACH STATEMENT EXECUTE FUNCTION {name}()")
    else:
        minute = _SQLITE_MINUTE.format(row="messages")
        # External-content FTS5 (the text lives in messages only); detail=none keeps it small and cheap to write:
        # it answers `text LIKE '%...%'` for patterns of 3+ characters, re-checked on the row.
        _run("CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='id', "
                   "tokenize='trigram', detail=none)")
        _run("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
        for ddl in SQLITE_TRIGGERS.values():
            _run(ddl)
    _run(f"INSERT INTO message_counts ({KEY}, n, unacked) SELECT {minute}, severity, kind, session, count(*), "
               "sum(CASE WHEN acked_at IS NULL THEN 1 ELSE 0 END) FROM messages GROUP BY 1, 2, 3, 4")


def downgrade() -> None:
    if _is_postgresql():
        for name in PG_FUNCTIONS:
            _run(f"DROP TRIGGER IF EXISTS {name} ON messages")
            _run(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        for name in SQLITE_TRIGGERS:
            _run(f"DROP TRIGGER IF EXISTS {name}")
        _run("DROP TABLE IF EXISTS messages_fts")
    op.drop_table("message_counts")
