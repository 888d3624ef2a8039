"""Process table view-models: ps rows, changes between two polls, URL filter state, action results."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from drunc_client.process_manager import ProcessInfo
from viewmodels.text import clip

SHORT_UUID = 8
EXECUTABLE_CLIP = 160

# The grid row of one process, keyed by uuid. Only what the grid shows or needs: a new tab receives 10,000 of them.
Row = dict


def process_row(p: ProcessInfo) -> Row:
    dead = p.status == "DEAD"
    return {
        "uuid": p.uuid,
        "name": p.name,
        "user": p.user,
        "session": p.session,
        "host": p.hostname,
        "status": p.status,
        "exit": p.return_code if dead else None,
        "tree_id": p.tree_id,  # the grid derives its order and indentation from it (assets/ui/process_tree.js)
        "executable": clip(p.executable, EXECUTABLE_CLIP),
    }


def rows_by_uuid(processes: Iterable[ProcessInfo]) -> dict[str, Row]:
    return {p.uuid: process_row(p) for p in processes}


@dataclass
class Delta:
    """One step of the table: rows that appeared, rows whose data changed, uuids that left."""

    add: list[Row] = field(default_factory=list)
    update: list[Row] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.add or self.update or self.remove)

    def transaction(self) -> dict:
        """AG Grid rowTransaction. Updates carry the whole row, which keeps a selected row selected."""
        return {"add": self.add, "update": self.update, "remove": [{"uuid": u} for u in self.remove]}


def diff_rows(old: Mapping[str, Row], new: Mapping[str, Row]) -> Delta:
    delta = Delta()
    for uuid, row in new.items():
        before = old.get(uuid)
        if before is None:
            delta.add.append(row)
        elif before != row:
            delta.update.append(row)
    delta.remove = [uuid for uuid in old if uuid not in new]
    return delta


def merge_deltas(deltas: Iterable[Delta]) -> Delta:
    """Consecutive deltas as one, relative to the table before the first: what a browser behind by several
    versions needs. A row added then removed is never sent; one removed then added again is an update."""
    state: dict[str, tuple[str, Row | None]] = {}
    for delta in deltas:
        for row in delta.add:
            previous = state.get(row["uuid"])
            kind = "update" if previous and previous[0] == "remove" else "add"
            state[row["uuid"]] = (kind, row)
        for row in delta.update:
            previous = state.get(row["uuid"])
            state[row["uuid"]] = ("add" if previous and previous[0] == "add" else "update", row)
        for uuid in delta.remove:
            previous = state.get(uuid)
            if previous and previous[0] == "add":
                del state[uuid]
            else:
                state[uuid] = ("remove", None)
    out = Delta()
    for uuid, (kind, row) in state.items():
        if kind == "remove":
            out.remove.append(uuid)
        else:
            getattr(out, kind).append(row)
    return out


def status_counts(rows: Iterable[Row]) -> dict[str, int]:
    counts = {"RUNNING": 0, "DEAD": 0}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def count_text(total: int, counts: Mapping[str, int]) -> str:
    noun = "process" if total == 1 else "processes"
    return f"{total} {noun} · {counts.get('RUNNING', 0)} running · {counts.get('DEAD', 0)} dead"


# ------------------------------------------------------------------------------------------- URL filter state

URL_COLUMNS = ("uuid", "name", "user", "session", "host", "status", "tree")
_COLUMN_FIELDS = {"tree": "tree_key"}
_FIELD_COLUMNS = {v: k for k, v in _COLUMN_FIELDS.items()}
REFRESH_VALUES = ("1", "5", "0")


@dataclass(frozen=True)
class ViewState:
    filter_model: dict
    quick: str
    refresh: str


def view_from_query(search: str | None) -> ViewState:
    """`?session=np04&status=dead&q=ru&refresh=5` → grid filter model, quick search, refresh choice.

    Unknown parameters are ignored, so an old or hand-edited link still opens the page.
    """
    params = dict(parse_qsl((search or "").lstrip("?"), keep_blank_values=False))
    model = {}
    for column in URL_COLUMNS:
        value = params.get(column, "").strip()[:200]
        if value:
            model[_COLUMN_FIELDS.get(column, column)] = {"filterType": "text", "type": "contains", "filter": value}
    refresh = params.get("refresh", "1")
    return ViewState(model, params.get("q", "").strip()[:200], refresh if refresh in REFRESH_VALUES else "1")


def query_from_view(filter_model: Mapping | None, quick: str | None, refresh: str | None) -> str:
    """The inverse of view_from_query for the text 'contains' filters a link can carry; '' when nothing is set."""
    params: list[tuple[str, str]] = []
    for field_name, spec in (filter_model or {}).items():
        column = _FIELD_COLUMNS.get(field_name, field_name)
        if column not in URL_COLUMNS or not isinstance(spec, Mapping):
            continue
        value = spec.get("filter")
        if isinstance(value, str | int | float) and str(value).strip():
            params.append((column, str(value).strip()))
    if quick and quick.strip():
        params.append(("q", quick.strip()))
    if refresh and refresh != "1" and refresh in REFRESH_VALUES:
        params.append(("refresh", refresh))
    return "?" + urlencode(params) if params else ""


# ------------------------------------------------------------------------------------------------ actions

_UUID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$")


@dataclass(frozen=True)
class Target:
    uuid: str
    name: str


def targets_from_rows(rows: Iterable[Mapping] | None, limit: int = 10_000) -> list[Target]:
    """Selected grid rows → distinct, well-formed targets (a forged selection cannot smuggle odd values)."""
    seen: dict[str, Target] = {}
    for row in rows or ():
        if not isinstance(row, Mapping):
            continue
        uuid, name = row.get("uuid"), row.get("name")
        if isinstance(uuid, str) and _UUID.match(uuid) and uuid not in seen:
            seen[uuid] = Target(uuid, name if isinstance(name, str) else "")
        if len(seen) >= limit:
            break
    return list(seen.values())


@dataclass(frozen=True)
class Outcome:
    target: Target
    ok: bool
    message: str


def kill_outcomes(targets: list[Target], killed: Iterable[ProcessInfo]) -> list[Outcome]:
    done = {p.uuid: p for p in killed}
    out = []
    for t in targets:
        p = done.get(t.uuid)
        if p is None:
            out.append(Outcome(t, False, "not found: it had already left the process manager"))
        else:
            out.append(Outcome(t, True, f"killed (exit code {p.return_code})"))
    return out


def flush_outcomes(targets: list[Target], flushed: Iterable[ProcessInfo]) -> list[Outcome]:
    done = {p.uuid for p in flushed}
    return [Outcome(t, True, "flushed from the list") if t.uuid in done
            else Outcome(t, False, "not flushed: only DEAD processes are flushed") for t in targets]


def terminate_phrase(rows: Iterable[Mapping]) -> str:
    """What the operator types to terminate: the session when every process has the same one."""
    sessions = {row.get("session") or "" for row in rows}
    if len(sessions) == 1:
        only = next(iter(sessions))
        if only:
            return only
    return "terminate all"


def sessions_summary(rows: Iterable[Mapping]) -> list[tuple[str, int, int]]:
    """(session, processes, running) for every session, sorted by session name."""
    summary: dict[str, list[int]] = {}
    for row in rows:
        counts = summary.setdefault(row.get("session") or "", [0, 0])
        counts[0] += 1
        counts[1] += row.get("status") == "RUNNING"
    return [(s, n, r) for s, (n, r) in sorted(summary.items())]
