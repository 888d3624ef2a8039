"""The run banner and the run history as plain data: texts, colours, and the rule that detects a run started or
stopped outside this UI from the root's state.

A run opens with `start` (configured → ready) and closes with `stop` (trigger_sources_stopped → configured) in the
standard DUNE FSM (protocol §10): the root is "in a run" in ready, running, paused, dataflow_drained and
trigger_sources_stopped. Watching only "running" would close a run at the first disable_triggers (running →
ready) of a stop_run, and would not see a run whose triggers were never enabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from viewmodels.text import clip

RUN_STATES = frozenset({"ready", "running", "paused", "dataflow_drained", "trigger_sources_stopped"})
INIT_TOKEN = "controller_init_token"  # drunc's actor until somebody takes control

# FSM state → Bootstrap colour (error and unknown first: they win over any state)
STATE_COLOURS = {
    "running": "success",
    "ready": "info",
    "paused": "warning",
    "dataflow_drained": "info",
    "trigger_sources_stopped": "info",
    "configured": "primary",
    "initial": "secondary",
}


def state_colour(state: str, in_error: bool = False, unreachable: bool = False) -> str:
    if in_error or unreachable or state == "error":
        return "danger"
    return STATE_COLOURS.get(state, "secondary")


def duration_text(seconds: float) -> str:
    """45 s · 3 min 05 s · 1 h 02 min · 2 d 03 h (never negative)."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    minutes, s = divmod(s, 60)
    if minutes < 60:
        return f"{minutes} min {s:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def hms(moment: datetime | None) -> str:
    return _utc(moment).astimezone(UTC).strftime("%H:%M:%S") if moment else "—"


def when_text(moment: datetime | None, now: datetime) -> str:
    """14:02:11 today, 2025-01-02 14:02 otherwise (UTC)."""
    if moment is None:
        return "—"
    moment, now = _utc(moment).astimezone(UTC), _utc(now).astimezone(UTC)
    return moment.strftime("%H:%M:%S") if moment.date() == now.date() else moment.strftime("%Y-%m-%d %H:%M")


def since_text(started_at: datetime, now: datetime, verb: str = "running") -> str:
    """ "running since 14:02:11 UTC (1 h 02 min)" """
    return f"{verb} since {hms(started_at)} UTC ({duration_text((_utc(now) - _utc(started_at)).total_seconds())})"


def in_charge_text(actor: str | None) -> str:
    actor = (actor or "").strip()
    if not actor:
        return "nobody is in charge"
    if actor == INIT_TOKEN:
        return "nobody is in charge (the controller's start-up token)"
    return f"{clip(actor, 64)} is in charge"


def run_label(number: int | None, run_type: str = "") -> str:
    label = f"run {number}" if number is not None else "run number unknown"
    return f"{label} · {run_type}" if run_type else label


# ------------------------------------------------------------------------------------------- outside runs


def run_change(root: dict | None, open_run: bool, *, lock_held: bool = False, feed_ok: bool = True) -> str | None:
    """What the root's state says about the runs table: "seen_running" (in a run, none open: started outside this
    UI), "seen_stopped" (out of any run with one open: stopped outside), or None.

    Nothing is concluded from a stale or failed poll, an unreachable or in-error root (its state says nothing
    reliable), a root mid-transition, or while this UI's own transition holds the root's lock (the FSM part
    records its runs when its start/stop succeed; the root reaches the new state a moment before that)."""
    if root is None or not feed_ok or lock_held:
        return None
    if root.get("unreachable") or root.get("in_error") or root.get("busy"):
        return None
    in_run = root.get("state") in RUN_STATES
    if in_run and not open_run:
        return "seen_running"
    if not in_run and open_run:
        return "seen_stopped"
    return None


# ------------------------------------------------------------------------------------------------ banner


@dataclass(frozen=True)
class Banner:
    state: str  # the root's state as shown ("running", "configured (preparing-start)", "unreachable")
    colour: str
    run: str  # "run 1234 · PHYSICS" or "no run"
    since: str  # "running since 14:02:11 UTC (1 h 02 min)" or ""
    in_charge: str
    note: str  # why the data may be stale, the lock text, a run started outside, "" otherwise
    source: str  # "started outside this UI" or ""

    def signature(self) -> tuple:
        return (self.state, self.colour, self.run, self.since, self.in_charge, self.note, self.source)


def banner(root: dict | None, run, now: datetime, *, lock_text: str = "", feed_error: str | None = None,
           registered: bool = True, message: str = "") -> Banner:
    """`root` is the snapshot's root node row (or None); `run` the open RunInfo (or None)."""
    if not registered:
        return Banner("not registered", "secondary", "no run", "", "", message or "the root is not registered", "")
    if root is None:
        return Banner("unknown", "secondary", "no run", "", "", feed_error or "waiting for the first poll…", "")
    state = root.get("state") or "unknown"
    shown = state
    if root.get("unreachable"):
        shown = "unreachable"
    elif root.get("busy") and root.get("sub_state") and root.get("sub_state") != state:
        shown = f"{state} ({root['sub_state']})"
    if root.get("in_error") and not root.get("unreachable"):
        shown = f"{shown} · in error"
    if not root.get("included", True) and not root.get("unreachable"):
        shown = f"{shown} · excluded"
    colour = state_colour(state, bool(root.get("in_error")), bool(root.get("unreachable")))
    notes = [n for n in (lock_text, f"last poll failed: {clip(feed_error, 200)}" if feed_error else "") if n]
    if run is None:
        return Banner(shown, colour, "no run", "", in_charge_text(root.get("in_charge")), " · ".join(notes), "")
    source = "started outside this UI" if run.source == "outside" else ""
    by = f" by {run.started_by}" if run.started_by else ""
    return Banner(shown, colour, run_label(run.number, run.run_type), since_text(run.started_at, now) + by,
                  in_charge_text(root.get("in_charge")), " · ".join(notes), source)


# ----------------------------------------------------------------------------------------------- history

OUTCOME_COLOURS = {"running": "success", "stopped": "secondary", "lost": "warning", "failed": "danger"}


def history_rows(runs, now: datetime) -> list[dict]:
    """RunInfo list (newest first) → rows for the history table."""
    rows = []
    for r in runs:
        duration = duration_text(r.duration(now))
        rows.append({
            "id": r.id,
            "run": str(r.number) if r.number is not None else "?",
            "type": r.run_type or "—",
            "started": when_text(r.started_at, now),
            "stopped": when_text(r.stopped_at, now) if r.stopped_at else "—",
            "duration": f"{duration} so far" if r.open else duration,
            "source": "started outside this UI" if r.source == "outside" else "this UI",
            "outcome": r.outcome,
            "outcome_colour": OUTCOME_COLOURS.get(r.outcome, "secondary"),
            "started_by": r.started_by or ("—" if r.source == "outside" else ""),
            "stopped_by": r.stopped_by or ("outside this UI" if r.stopped_at and not r.stopped_by else "—"),
            "detail": r.detail,
        })
    return rows


def history_signature(runs, now: datetime) -> str:
    """Changes when the table would: a run added or closed, or (with a run open) each minute."""
    parts = [f"{r.id}:{r.outcome}:{r.stopped_at is not None}" for r in runs]
    if any(r.open for r in runs):
        parts.append(str(int(_utc(now).timestamp() // 60)))
    return "|".join(parts)
