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


def process_summary(process_rows: Iterable[dict]) -> dict[str, dict]:
    """{session: its process count, running count and hosts}: what the table and the cards need of the process
    table, small enough to be computed once per table version and read by every tick."""
    out: dict[str, dict] = {}
    hosts: dict[str, set] = {}
    for row in process_rows:
        name = str(row.get("session") or "")
        if not name:
            continue
        entry = out.setdefault(name, {"processes": 0, "running": 0})
        entry["processes"] += 1
        entry["running"] += row.get("status") == "RUNNING"
        hosts.setdefault(name, set()).add(str(row.get("host") or ""))
    for name, entry in out.items():
        entry["hosts"] = sorted(hosts[name] - {""})
    return dict(sorted(out.items()))


def run_marks(runs: Mapping[str, object], now: datetime) -> list:
    """What a tab shows of the open runs: numbers, start times and minute-rounded elapsed times."""
    return sorted((name, getattr(r, "number", None), str(getattr(r, "started_at", "")),
                   elapsed_text((now - r.started_at).total_seconds()) if getattr(r, "started_at", None) else "")
                  for name, r in runs.items())


def session_rows(processes: Mapping[str, dict], summaries: Mapping[str, dict | None], runs: Mapping[str, object],
                 unacked: Mapping[str, int], now: datetime, extra_sessions: Iterable[str] = ()) -> list[dict]:
    """One JSON-safe row per session, by name.

    `processes`: process_summary(process rows); `summaries`: ControllerFeeds.summaries() (None before the first
    sweep); `runs`: RunStore.open_runs() (RunInfo by session); `unacked`: AckStore.unacknowledged_by_session()."""
    groups = dict(processes)
    for name in extra_sessions:
        if name:
            groups.setdefault(name, {"processes": 0, "running": 0, "hosts": []})
    out = []
    for name in sorted(groups):
        procs = groups[name]
        running = procs["running"]
        summary = summaries.get(name)
        head = (summary or {}).get("head") or {}
        registered = None if summary is None else bool(summary.get("registered"))
        state = head.get("state") if registered else None
        run = runs.get(name)
        number = getattr(run, "number", None) if run is not None else None
        since = getattr(run, "started_at", None) if run is not None else None
        out.append({
            "session": name,
            "processes": procs["processes"],
            "running": running,
            "dead": procs["processes"] - running,
            "hosts": list(procs["hosts"]),
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
