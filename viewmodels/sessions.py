"""Sessions as the control room sees them: one row per session, joined from what the shared pollers hold.

Pure functions, no Dash, no drunc. A session is a name seen in the process table (processes grouped by session)
or a session whose root is known to the controller feed. Each row joins the process counts and hosts, the
controller feed's summary of the root (registered, state, who is in charge), the open run (number and since
when) and the unacknowledged ERROR/FATAL messages of that session.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from urllib.parse import quote

from viewmodels.control import actor_name

RUNNING_STATES = ("running",)
READY_STATES = ("configured", "ready", "connected", "trigger_enabled", "trigger_sources_stopped")


def sessions_of(process_rows: Iterable[dict]) -> list[str]:
    return sorted({str(r.get("session") or "") for r in process_rows} - {""})


def state_colour(state: str | None, in_error: bool = False, registered: bool | None = True) -> str:
    """A Bootstrap colour: running green, configured/ready blue, initial grey, errors red, unknown light."""
    if in_error:
        return "danger"
    if registered is False or not state:
        return "light"
    state = state.lower()
    if state in RUNNING_STATES:
        return "success"
    if state in READY_STATES:
        return "primary"
    if state in ("unknown",):
        return "warning"
    return "secondary"


def elapsed_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    # Minutes at most: a row that changes every second could never be answered "unchanged".
    minutes = max(0, int(seconds)) // 60
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m" if minutes else "<1m"


def links(session: str) -> dict[str, str]:
    q = quote(session, safe="")
    return {"processes": f"/process-manager?session={q}", "controller": f"/controller?session={q}",
            "messages": f"/messages?session={q}", "sessions": f"/sessions?session={q}"}


def session_rows(process_rows: Iterable[dict], summaries: Mapping[str, dict | None], runs: Mapping[str, object],
                 unacked: Mapping[str, int], now: datetime, extra_sessions: Iterable[str] = ()) -> list[dict]:
    """One JSON-safe row per session, by name.

    `summaries`: ControllerFeeds.summary(session) (None before the first sweep); `runs`: RunStore.current(session)
    (a RunInfo or None); `unacked`: AckStore.unacknowledged_by_session()."""
    groups: dict[str, list[dict]] = {}
    for row in process_rows:
        groups.setdefault(str(row.get("session") or ""), []).append(row)
    groups.pop("", None)
    for name in extra_sessions:
        if name:
            groups.setdefault(name, [])
    out = []
    for name in sorted(groups):
        procs = groups[name]
        running = sum(1 for p in procs if p.get("status") == "RUNNING")
        summary = summaries.get(name)
        head = (summary or {}).get("head") or {}
        registered = None if summary is None else bool(summary.get("registered"))
        state = head.get("state") if registered else None
        run = runs.get(name)
        number = getattr(run, "number", None) if run is not None else None
        since = getattr(run, "started_at", None) if run is not None else None
        out.append({
            "session": name,
            "processes": len(procs),
            "running": running,
            "dead": len(procs) - running,
            "hosts": sorted({str(p.get("host") or "") for p in procs} - {""}),
            "registered": registered,
            "state": state or "",
            "sub_state": head.get("sub_state") or "" if registered else "",
            "in_error": bool(head.get("in_error")) if registered else False,
            "busy": bool(head.get("busy")) if registered else False,
            "in_charge": actor_name(head.get("in_charge")) if registered else "",
            "root_error": (summary or {}).get("error") or "",
            "run_number": number,
            "run_since": since.isoformat(timespec="seconds") if since else "",
            "run_elapsed": elapsed_text((now - since).total_seconds()) if since else "",
            "errors": int(unacked.get(name, 0)),
            "colour": state_colour(state, bool(head.get("in_error")) if registered else False, registered),
        })
    return out


def root_text(row: dict) -> str:
    if row["registered"] is None:
        return "not swept yet"
    if not row["registered"]:
        return "not registered"
    if row["root_error"]:
        return "unreachable"
    state = row["state"] or "unknown"
    if row["busy"] and row["sub_state"]:
        state += f" ({row['sub_state']})"
    return state + (" · in error" if row["in_error"] else "")


def run_text(row: dict) -> str:
    if row["run_number"] is None and not row["run_since"]:
        return "no run"
    number = f"run {row['run_number']}" if row["run_number"] is not None else "run (number unknown)"
    return f"{number} · {row['run_elapsed']}"


def signature(rows: list[dict]) -> str:
    """What a tab compares to skip an unchanged refresh (elapsed times are minute-rounded)."""
    import hashlib
    import json

    return hashlib.sha1(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()[:16]
