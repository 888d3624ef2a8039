"""Controller tree view-models: node rows → grid rows, the counts line, state badge colours, changes between two
sweeps (keyed by the node's path) and session names from the URL or the picker."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from viewmodels.control import actor_name

Row = dict  # a node row of polling.controller_feed (NODE_FIELDS), or a grid row made from one

SESSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

# Bootstrap badge classes by FSM state (the standard DUNE FSM, drunc-protocol §10); errors win over any state.
RUNNING_STATES = frozenset({"running"})
CONFIGURED_STATES = frozenset({"configured", "ready"})
BADGE_RUNNING = "text-bg-success"
BADGE_CONFIGURED = "text-bg-info"
BADGE_INITIAL = "text-bg-secondary"
BADGE_ERROR = "text-bg-danger"
BADGE_UNKNOWN = "text-bg-warning"
BADGE_OTHER = "text-bg-primary"


def badge_class(state: str, in_error: bool = False, unreachable: bool = False) -> str:
    """The badge colour of a node: errors (and unreachable nodes) red, running green, configured blue-ish,
    initial grey; the states between a run and configured (dataflow_drained...) and any state the standard
    FSM does not name plain blue, "unknown" yellow."""
    state = (state or "").lower()
    if in_error or unreachable or state == "error":
        return BADGE_ERROR
    if state in RUNNING_STATES:
        return BADGE_RUNNING
    if state in CONFIGURED_STATES:
        return BADGE_CONFIGURED
    if state in ("initial", "none", ""):
        return BADGE_INITIAL
    if state == "unknown":
        return BADGE_UNKNOWN
    return BADGE_OTHER


def state_text(row: Mapping) -> str:
    """"configured (preparing-start)" while a transition runs, the state alone otherwise."""
    if row.get("unreachable"):
        return "unreachable"
    state = row.get("state") or "unknown"
    sub = row.get("sub_state") or ""
    if row.get("busy") and sub and sub not in ("idle", state):
        return f"{state} ({sub})"
    return state


ALWAYS = ("path", "order", "name", "depth", "kind", "state", "badge")


def grid_row(row: Mapping) -> Row:
    """The grid's row of one node: what the tree shows, keyed by path, ordered by `order`. False flags and empty
    texts are left out (the renderers read a missing key as false or blank): a new tab receives 1,000 rows."""
    full = {
        "path": row["path"],
        "order": row.get("order", 0),
        "name": row["name"],
        "depth": row.get("depth", 0),
        "kind": row.get("kind", ""),
        "state": state_text(row),
        "badge": badge_class(row.get("state", ""), bool(row.get("in_error")), bool(row.get("unreachable"))),
        "busy": bool(row.get("busy")),
        "in_error": bool(row.get("in_error")),
        "excluded": not row.get("included", True) and not row.get("unreachable"),
        "unreachable": bool(row.get("unreachable")),
        "host": row.get("host", ""),
        # drunc's start-up token means nobody: say so, as the banner and the control panel do
        "in_charge": (actor_name(row.get("in_charge")) or "nobody") if row.get("kind") == "controller" else "",
        "error": row.get("error", ""),
    }
    return {k: v for k, v in full.items() if k in ALWAYS or v}


def grid_rows(rows: Iterable[Mapping]) -> list[Row]:
    return [grid_row(r) for r in rows]


@dataclass
class TreeDelta:
    """One step of the tree: nodes that appeared, nodes whose row changed, paths that left."""

    add: list[Row] = field(default_factory=list)
    update: list[Row] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.add or self.update or self.remove)

    def as_tuple(self) -> tuple[list, list, list]:
        return self.add, self.update, self.remove

    def transaction(self) -> dict:
        """AG Grid rowTransaction of grid rows (the whole row on update, so an expanded/collapsed node keeps its
        state in the browser)."""
        return {"add": grid_rows(self.add), "update": grid_rows(self.update),
                "remove": [{"path": p} for p in self.remove]}


def diff_nodes(old: Iterable[Mapping], new: Iterable[Mapping]) -> TreeDelta:
    before = {r["path"]: r for r in old}
    after = {r["path"]: r for r in new}
    delta = TreeDelta()
    for path, row in after.items():
        previous = before.get(path)
        if previous is None:
            delta.add.append(dict(row))
        elif previous != row:
            delta.update.append(dict(row))
    delta.remove = [p for p in before if p not in after]
    return delta


def merge_deltas(deltas: Iterable[TreeDelta]) -> TreeDelta:
    """Consecutive deltas as one, relative to the tree before the first (a tab behind by several sweeps)."""
    state: dict[str, tuple[str, Row | None]] = {}
    for delta in deltas:
        for row in delta.add:
            previous = state.get(row["path"])
            state[row["path"]] = ("update" if previous and previous[0] == "remove" else "add", row)
        for row in delta.update:
            previous = state.get(row["path"])
            state[row["path"]] = ("add" if previous and previous[0] == "add" else "update", row)
        for path in delta.remove:
            previous = state.get(path)
            if previous and previous[0] == "add":
                del state[path]
            else:
                state[path] = ("remove", None)
    out = TreeDelta()
    for path, (kind, row) in state.items():
        if kind == "remove":
            out.remove.append(path)
        else:
            getattr(out, kind).append(row)
    return out


def node_counts(rows: Iterable[Mapping]) -> dict[str, int]:
    counts = {"nodes": 0, "running": 0, "error": 0, "excluded": 0, "unreachable": 0, "busy": 0}
    for row in rows:
        counts["nodes"] += 1
        if row.get("unreachable"):
            counts["unreachable"] += 1
        if row.get("in_error"):
            counts["error"] += 1
        elif row.get("state") == "running":
            counts["running"] += 1
        if not row.get("included", True) and not row.get("unreachable"):
            counts["excluded"] += 1
        if row.get("busy"):
            counts["busy"] += 1
    return counts


def counts_text(counts: Mapping[str, int]) -> str:
    """"111 nodes · 110 running · 1 in error", with excluded, unreachable and busy nodes when there are any."""
    total = counts.get("nodes", 0)
    parts = [f"{total} node{'' if total == 1 else 's'}", f"{counts.get('running', 0)} running",
             f"{counts.get('error', 0)} in error"]
    for key, label in (("excluded", "excluded"), ("unreachable", "unreachable"), ("busy", "in transition")):
        if counts.get(key):
            parts.append(f"{counts[key]} {label}")
    return " · ".join(parts)


def clean_session(value: str | None) -> str | None:
    """A session name from the picker or the URL, stripped; None when it is not a plausible session name."""
    name = (value or "").strip()
    return name if SESSION_PATTERN.match(name) else None


def session_choices(process_rows: Iterable[Mapping], configured: str, current: str = "") -> list[str]:
    """The sessions to offer: those the process manager runs processes for, the configured one, the one shown."""
    names = {r.get("session") or "" for r in process_rows}
    names.update({configured, current})
    return sorted(n for n in names if clean_session(n))


def query_for(session: str, configured: str, refresh: str) -> dict[str, str | None]:
    """The URL parameters of the view (None: remove it from the link): the default session and refresh 1 s are
    left out so the plain /controller link stays plain."""
    return {"session": session if session and session != configured else None,
            "refresh": refresh if refresh in ("5", "0") else None}
