"""Each node's state over a window, as a Plotly figure (a plain dict: no plotly import on the server).

Two sources, merged: the controllers' stored FSM_STATUS_UPDATE broadcasts ("Changing operational_state from X to
Y", one per sub-state step, emitter = the controller's name; applications broadcast nothing in 0.10.x), and the
tree poller's observations (time, path, state) of every node. The snapshot's current state closes each lane at
"now". A sub-state step (preparing-start, start-ready, ...) is drawn as "transition".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from viewmodels.runs import duration_text

_CHANGE = re.compile(r"from\s+(\S+)\s+to\s+(\S+)\s*$")
_SUB_PREFIXES = ("preparing-", "propagating-", "executing-", "finalising-")
_SUB_SUFFIXES = ("-ready", "-propagated", "-terminated")
TRANSITION = "transition"
MAX_LANES_DEFAULT = 12  # lanes shown with "controllers only"; "all nodes" shows every node (up to MAX_LANES)
MAX_LANES = 300

COLOURS = {  # the Bootstrap palette of the state badges
    "running": "#198754", "ready": "#0dcaf0", "paused": "#ffc107", "dataflow_drained": "#6edff6",
    "trigger_sources_stopped": "#9eeaf9", "configured": "#0d6efd", "initial": "#6c757d",
    TRANSITION: "#adb5bd", "error": "#dc3545", "unknown": "#495057",
}


def parse_change(text: str) -> tuple[str, str] | None:
    """ "Changing operational_state from initial to preparing-conf" → ("initial", "preparing-conf")."""
    m = _CHANGE.search(text or "")
    return (m.group(1), m.group(2)) if m else None


def is_sub_state(value: str) -> bool:
    return value.startswith(_SUB_PREFIXES) or value.endswith(_SUB_SUFFIXES)


def shown_state(value: str) -> str:
    return TRANSITION if is_sub_state(value) else value


@dataclass(frozen=True)
class Segment:
    lane: str  # the node's path
    state: str
    start: datetime
    end: datetime
    detail: str  # the raw state/sub-state


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def events_from_broadcasts(messages: Iterable, paths_by_name: dict[str, str]) -> list[tuple[datetime, str, str]]:
    """Stored FSM_STATUS_UPDATE messages → (time, path, new state); the previous state of the oldest one is
    returned too, just before it, so a lane starts with what it was."""
    events: list[tuple[datetime, str, str]] = []
    first_seen: set[str] = set()
    for m in sorted(messages, key=lambda m: (_utc(m.time), m.id)):
        change = parse_change(m.text)
        path = paths_by_name.get(m.source)
        if change is None or path is None:
            continue
        if path not in first_seen:
            first_seen.add(path)
            events.append((_utc(m.time), path, change[0]))
        events.append((_utc(m.time), path, change[1]))
    return events


def segments(events: Iterable[tuple[datetime, str, str]], current: dict[str, str], since: datetime,
             now: datetime) -> list[Segment]:
    """Events (any order) → contiguous segments per lane inside [since, now]. `current` (path → state) closes
    each lane; a lane's first known state is drawn from `since` (no change was stored before it)."""
    since, now = _utc(since), _utc(now)
    lanes: dict[str, list[tuple[datetime, str]]] = {}
    for t, path, state in sorted(events, key=lambda e: e[0]):
        lanes.setdefault(path, []).append((_utc(t), state))
    for path, state in current.items():
        lanes.setdefault(path, []).append((now, state))
    out: list[Segment] = []
    for path, points in lanes.items():
        merged: list[tuple[datetime, str]] = []
        for t, state in points:
            if merged and merged[-1][1] == state:
                continue
            merged.append((t, state))
        # no change is stored between `since` and the first event: its previous state held since then
        merged[0] = (min(merged[0][0], since), merged[0][1])
        for i, (t, state) in enumerate(merged):
            end = merged[i + 1][0] if i + 1 < len(merged) else now
            start, stop = max(t, since), min(end, now)
            if stop <= start:
                continue
            out.append(Segment(path, shown_state(state), start, stop, state))
    return out


def figure(segs: list[Segment], lanes: list[tuple[str, str]], since: datetime, now: datetime) -> dict:
    """A horizontal-bar Gantt: one trace per state (the legend), lanes = [(path, label)] top to bottom."""
    labels = dict(lanes)
    order = [label for _path, label in lanes]
    traces: dict[str, dict] = {}
    for s in segs:
        if s.lane not in labels:
            continue
        trace = traces.setdefault(s.state, {
            "type": "bar", "orientation": "h", "name": s.state, "x": [], "y": [], "base": [], "text": [],
            "marker": {"color": COLOURS.get(s.state, "#6f42c1")}, "hovertemplate": "%{text}<extra></extra>",
            "textposition": "none",
        })
        ms = (s.end - s.start).total_seconds() * 1000
        trace["x"].append(ms)
        trace["y"].append(labels[s.lane])
        trace["base"].append(s.start.astimezone(UTC).isoformat())
        trace["text"].append(f"{labels[s.lane]}: {s.detail}<br>{s.start:%H:%M:%S} → {s.end:%H:%M:%S} UTC "
                             f"({duration_text((s.end - s.start).total_seconds())})")
    font, grid = "#8a9199", "rgba(128,128,128,0.25)"  # readable on the light and the dark theme alike
    layout = {
        "barmode": "overlay", "height": max(160, 34 * len(order) + 70),
        "margin": {"l": 10, "r": 10, "t": 10, "b": 30},
        "xaxis": {"type": "date", "range": [since.astimezone(UTC).isoformat(), now.astimezone(UTC).isoformat()],
                  "gridcolor": grid, "title": {"text": "UTC"}},
        "yaxis": {"categoryorder": "array", "categoryarray": list(reversed(order)), "automargin": True,
                  "gridcolor": grid},
        "legend": {"orientation": "h", "y": -0.25},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": {"color": font, "size": 11},
        "uirevision": "timeline",
    }
    return {"data": list(traces.values()), "layout": layout}


def lanes_for(nodes, all_nodes: bool) -> list[tuple[str, str]]:
    """(path, label) of the lanes: the root and the controllers by default, every node with `all_nodes`."""
    chosen = [n for n in nodes if all_nodes or n.get("kind") == "controller" or n.get("depth", 0) == 0]
    limit = MAX_LANES if all_nodes else MAX_LANES_DEFAULT
    return [(n["path"], "  " * int(n.get("depth", 0)) + n.get("name", n["path"])) for n in chosen[:limit]]
