"""The audit trail: every login, logout and action, allowed or not, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from store.db import Database
from store.models import AuditEvent, utcnow
from store.text import clean, clean_json

# "attempted" is written before an action runs and replaced by the action's outcome when it ends: a row left
# "attempted" is an action whose end was never recorded (the worker died, the database went away mid-action).
OUTCOMES = ("ok", "failed", "denied", "error", "attempted")
FINAL_OUTCOMES = ("ok", "failed", "denied", "error")


@dataclass(frozen=True)
class AuditEntry:
    id: int
    time: datetime
    username: str
    action: str
    target: str
    arguments: dict | None
    outcome: str
    detail: str
    address: str


def _entry(e: AuditEvent) -> AuditEntry:
    return AuditEntry(e.id, e.time, e.username, e.action, e.target, e.arguments, e.outcome, e.detail, e.address)


def _clip(value, limit: int) -> str:
    return clean(value, limit)


def _text(value) -> str:
    return clean(value)


class AuditLog:
    def __init__(self, db: Database):
        self.db = db

    def record(
        self,
        username: str | None,
        action: str,
        *,
        target: str = "",
        arguments: dict | None = None,
        outcome: str = "ok",
        detail: str = "",
        address: str | None = None,
    ) -> int:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown audit outcome {outcome!r}")
        event = AuditEvent(
            time=utcnow(),
            username=_clip(username or "", 64),
            action=_clip(action, 64),
            target=_clip(target, 4000),
            arguments=None if arguments is None else clean_json(arguments),
            outcome=outcome,
            detail=_clip(detail, 4000),
            address=_clip(address or "", 64),
        )
        with self.db.session() as s:
            s.add(event)
            s.flush()
            return event.id

    def complete(self, event_id: int, outcome: str, *, target: str | None = None, arguments: dict | None = None,
                 detail: str = "", action: str | None = None) -> None:
        """Give an "attempted" event its outcome (and what the action learnt about its target while it ran)."""
        if outcome not in FINAL_OUTCOMES:
            raise ValueError(f"unknown final audit outcome {outcome!r}")
        with self.db.session() as s:
            event = s.get(AuditEvent, event_id)
            if event is None:
                raise LookupError(f"no audit event {event_id}")
            event.outcome = outcome
            event.detail = _clip(detail, 4000)
            if target is not None:
                event.target = _clip(target, 4000)
            if arguments is not None:
                event.arguments = clean_json(arguments)
            if action:
                event.action = _clip(action, 64)

    def discard(self, event_id: int) -> None:
        """Remove an "attempted" event of a call that turned out to do nothing (a dialog closed, not submitted)."""
        with self.db.session() as s:
            event = s.get(AuditEvent, event_id)
            if event is not None and event.outcome == "attempted":
                s.delete(event)

    def query(
        self,
        *,
        username: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[AuditEntry]:
        """Newest first. `action` matches a whole name or a family ("process" matches "process.kill")."""
        stmt = select(AuditEvent).order_by(AuditEvent.time.desc(), AuditEvent.id.desc()).limit(limit)
        if username:
            stmt = stmt.where(AuditEvent.username == _clip(username, 64))
        if action:
            # A literal, case-sensitive prefix: LIKE (startswith) treats _ and % as wildcards, and ignores case
            # on SQLite.
            family = _text(action) + "."
            stmt = stmt.where(
                (AuditEvent.action == _clip(action, 64)) | (func.substr(AuditEvent.action, 1, len(family)) == family)
            )
        if outcome:
            stmt = stmt.where(AuditEvent.outcome == _text(outcome))
        if since:
            stmt = stmt.where(AuditEvent.time >= since)
        if until:
            stmt = stmt.where(AuditEvent.time <= until)
        with self.db.session() as s:
            return [_entry(e) for e in s.scalars(stmt)]

    def count(
        self,
        action: str,
        *,
        outcome: str | None = None,
        since: datetime | None = None,
        username: str | None = None,
        address: str | None = None,
    ) -> int:
        # Filter values are clipped like record() clips what it stores, so a count finds what was recorded.
        stmt = select(func.count(AuditEvent.id)).where(AuditEvent.action == _clip(action, 64))
        if outcome:
            stmt = stmt.where(AuditEvent.outcome == _text(outcome))
        if since:
            stmt = stmt.where(AuditEvent.time >= since)
        if username is not None:
            stmt = stmt.where(AuditEvent.username == _clip(username, 64))
        if address is not None:
            stmt = stmt.where(AuditEvent.address == _clip(address, 64))
        with self.db.session() as s:
            return int(s.scalar(stmt) or 0)

    def distinct_values(self, column: str) -> list[str]:
        col = {"username": AuditEvent.username, "action": AuditEvent.action}[column]
        with self.db.session() as s:
            return [v for v in s.scalars(select(col).distinct().order_by(col)) if v]
