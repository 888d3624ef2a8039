"""The runs table: what the UI records of runs, since drunc 0.10.x carries no run information.

A run started through the UI is recorded when its start succeeds (`started`), and closed when its stop succeeds
(`stopped`). A run started elsewhere (drunc's shell) is recorded when the root is first seen running with no open
run (`seen_running`, source "outside", the time it was seen); one stopped elsewhere is closed when the root is
seen out of running (`seen_stopped`). Every text goes through the store's cleaning step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from store.db import Database
from store.models import Run, utcnow
from store.text import clean, clean_json

OUTSIDE = "outside"


@dataclass(frozen=True)
class RunInfo:
    id: int
    session: str
    root: str
    number: int | None
    run_type: str
    started_by: str
    started_at: datetime
    stopped_by: str
    stopped_at: datetime | None
    arguments: dict | None
    source: str
    outcome: str
    detail: str

    @property
    def open(self) -> bool:
        return self.stopped_at is None

    def duration(self, now: datetime | None = None) -> float:
        return ((self.stopped_at or now or utcnow()) - self.started_at).total_seconds()


def _info(r: Run) -> RunInfo:
    return RunInfo(r.id, r.session, r.root, r.number, r.run_type, r.started_by, r.started_at, r.stopped_by,
                   r.stopped_at, r.arguments, r.source, r.outcome, r.detail)


class RunStore:
    def __init__(self, db: Database):
        self.db = db

    def started(self, session: str, *, number: int | None, run_type: str = "", user: str = "", root: str = "",
                arguments: dict | None = None, at: datetime | None = None, source: str = "ui",
                detail: str = "") -> RunInfo:
        """Record a run that just started; an open run of the session (a stop never seen) is closed as "lost"."""
        now = at or utcnow()
        with self.db.session() as s:
            for stale in s.scalars(select(Run).where(Run.session == clean(session, 255), Run.stopped_at.is_(None))):
                stale.stopped_at, stale.outcome = now, "lost"
                stale.detail = clean("its stop was never seen: a new run started", 4000)
            run = Run(session=clean(session, 255), root=clean(root, 255), number=number,
                      run_type=clean(run_type, 64), started_by=clean(user, 64), started_at=now, stopped_by="",
                      arguments=None if arguments is None else clean_json(arguments), source=clean(source, 16),
                      outcome="running", detail=clean(detail, 4000))
            s.add(run)
            s.flush()
            return _info(run)

    def stopped(self, session: str, *, user: str = "", at: datetime | None = None, outcome: str = "stopped",
                detail: str = "") -> RunInfo | None:
        """Close the session's open run (None when there is none)."""
        with self.db.session() as s:
            run = s.scalar(select(Run).where(Run.session == clean(session, 255), Run.stopped_at.is_(None))
                           .order_by(Run.started_at.desc()).limit(1))
            if run is None:
                return None
            run.stopped_at, run.stopped_by = at or utcnow(), clean(user, 64)
            run.outcome, run.detail = clean(outcome, 32), clean(detail, 4000) or run.detail
            return _info(run)

    def seen_running(self, session: str, root: str = "", at: datetime | None = None) -> RunInfo | None:
        """The root was seen running: record a run "started outside this UI" unless one is open. Returns the new
        run, or None when one was already open."""
        if self.current(session) is not None:
            return None
        return self.started(session, number=None, root=root, at=at, source=OUTSIDE,
                            detail="started outside this UI: recorded when the running state was seen")

    def seen_stopped(self, session: str, at: datetime | None = None) -> RunInfo | None:
        """The root was seen out of running with an open run: close it as stopped outside this UI."""
        return self.stopped(session, at=at, detail="stopped outside this UI: recorded when the change was seen")

    def current(self, session: str) -> RunInfo | None:
        with self.db.session() as s:
            run = s.scalar(select(Run).where(Run.session == clean(session, 255), Run.stopped_at.is_(None))
                           .order_by(Run.started_at.desc()).limit(1))
            return _info(run) if run else None

    def open_runs(self) -> dict[str, RunInfo]:
        """{session: its open run} of every session in one query (the newest when a stop was never recorded)."""
        with self.db.session() as s:
            runs = s.scalars(select(Run).where(Run.stopped_at.is_(None)).order_by(Run.started_at, Run.id))
            return {r.session: _info(r) for r in runs}

    def recent(self, session: str | None = None, limit: int = 20) -> list[RunInfo]:
        stmt = select(Run).order_by(Run.started_at.desc(), Run.id.desc()).limit(max(0, limit))
        if session is not None:
            stmt = stmt.where(Run.session == clean(session, 255))
        with self.db.session() as s:
            return [_info(r) for r in s.scalars(stmt)]

    def next_number(self) -> int:
        """The last run number + 1 (1 for the first run): the suggestion the start dialog shows."""
        with self.db.session() as s:
            last = s.scalar(select(func.max(Run.number)))
        return int(last or 0) + 1
