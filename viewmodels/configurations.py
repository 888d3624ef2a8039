"""Saved boot configurations: parsing, validation the boot form's way, diffs, and plans from running processes.

Pure functions, no Dash. A plan is the boot file's JSON form, {"processes": [{...}, ...]}, each process with the
keys of viewmodels.boot.FILE_KEYS. It is validated by the very parser of the Process Manager's boot file
(`parse_entry`), so a configuration that is saved boots: a blank user or log path is allowed (filled in at boot
time from BOOT_DEFAULT_USER and BOOT_LOG_DIR/BOOT_LOG_PATTERN, so every boot gets fresh log files).
Booting into a session: every process takes the session name chosen at boot (the plan's own by default).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

from viewmodels.boot import (
    FILE_KEYS,
    MAX_FILE_BYTES,
    MAX_PROCESSES,
    BootDefaults,
    BootEntry,
    BootFileError,
    parse_boot_file,
    parse_entry,
)
from viewmodels.text import clip

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SESSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


class PlanError(ValueError):
    """The plan cannot be saved or booted; the message says why (every invalid process named)."""


def check_name(name) -> str:
    text = (name or "").strip() if isinstance(name, str) else ""
    if not NAME.match(text):
        raise PlanError("A configuration name is 1 to 128 letters, digits, '.', '_' or '-', starting with a letter "
                        "or digit.")
    return text


def check_session(session) -> str:
    text = (session or "").strip() if isinstance(session, str) else ""
    if not SESSION.match(text):
        raise PlanError("A session name is letters, digits, '.', '_' or '-', starting with a letter or digit.")
    return text


def _canonical(process: dict) -> dict:
    """The process with only the plan's keys, in a fixed order, empty values dropped (diffs stay readable)."""
    out = {}
    for key in FILE_KEYS:
        value = process.get(key)
        if value in (None, "", [], {}):
            continue
        out[key] = value
    return out


def parse_plan(text: str, defaults: BootDefaults | str) -> tuple[dict, list[BootEntry]]:
    """JSON text (a list of processes or {"processes": [...]}) → (the canonical plan, its preview entries).

    PlanError when the text is unusable or any process is invalid (each one named with its field)."""
    if not isinstance(text, str):
        raise PlanError("Give the plan as JSON text.")
    raw = text.encode("utf-8", "replace")
    try:
        entries = parse_boot_file(raw, defaults)
    except BootFileError as exc:
        raise PlanError(str(exc)) from None
    bad = [e for e in entries if not e.ok]
    if bad:
        raise PlanError(f"{len(bad)} of {len(entries)} processes are invalid: "
                        + "; ".join(f"#{e.index} {e.name or '?'}: {e.status}" for e in bad[:10])
                        + (" …" if len(bad) > 10 else ""))
    data = json.loads(raw.decode("utf-8-sig"))
    processes = data["processes"] if isinstance(data, dict) else data
    names = [p.get("name") for p in processes]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PlanError(f"Process names must be unique in a configuration: {', '.join(duplicates[:10])}.")
    return {"processes": [_canonical(p) for p in processes]}, entries


def plan_text(plan: dict) -> str:
    return json.dumps(plan, indent=2, ensure_ascii=False)


def plan_session(plan: dict) -> str:
    """The session the plan names (its first process's), the default when booting it."""
    for process in (plan or {}).get("processes") or []:
        if isinstance(process, dict) and isinstance(process.get("session"), str):
            return process["session"]
    return ""


def entries_for_session(plan: dict, session: str, defaults: BootDefaults | str) -> list[BootEntry]:
    """The plan's processes as boot entries under `session` (validated again: a plan stored by an older version
    of the rules is previewed with its errors rather than booted)."""
    defaults = BootDefaults.of(defaults)
    processes = list((plan or {}).get("processes") or [])
    if not processes:
        raise PlanError("The configuration lists no processes.")
    if len(processes) > MAX_PROCESSES:
        raise PlanError(f"The configuration lists {len(processes)} processes; at most {MAX_PROCESSES}.")
    return [parse_entry(i, {**p, "session": session} if isinstance(p, dict) else p, defaults)
            for i, p in enumerate(processes, start=1)]


# ------------------------------------------------------------------------------------------------- diffs


@dataclass(frozen=True)
class Change:
    process: str
    kind: str  # "added", "removed", "changed"
    field: str = ""
    old: str = ""
    new: str = ""

    def text(self) -> str:
        if self.kind != "changed":
            return f"{self.process}: {self.kind}"
        return f"{self.process}.{self.field}: {self.old or '∅'} → {self.new or '∅'}"


def _shown(value) -> str:
    if value is None:
        return ""
    return clip(value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False), 300)


def diff_plans(old: dict, new: dict) -> list[Change]:
    """Process by process (by name): added, removed, and each changed field with its old and new value."""
    def by_name(plan):
        return {str(p.get("name", f"#{i}")): p for i, p in enumerate((plan or {}).get("processes") or [], 1)
                if isinstance(p, dict)}

    before, after = by_name(old), by_name(new)
    changes: list[Change] = []
    for name in before:
        if name not in after:
            changes.append(Change(name, "removed"))
    for name, process in after.items():
        if name not in before:
            changes.append(Change(name, "added"))
            continue
        for key in FILE_KEYS:
            a, b = before[name].get(key), process.get(key)
            if (a or None) != (b or None):
                changes.append(Change(name, "changed", key, _shown(a), _shown(b)))
    return changes


# ----------------------------------------------------------------------------------- from running processes


def plan_from_processes(processes) -> dict:
    """drunc_client ProcessInfo of a running session → a plan that boots the same processes again.

    ps reports the command line as "exec args..." with each argument as drunc got it (shell-quoted by our boot), so
    it is split like a shell. The log path is left out (each boot derives fresh ones) and so is the environment:
    drunc's ps does not report it."""
    out = []
    for p in sorted(processes, key=lambda p: (p.tree_id or "~", p.name)):
        command = (p.executable or "").split("; ")[0]
        try:
            argv = shlex.split(command)
        except ValueError:
            argv = command.split()
        process = {"name": p.name, "session": p.session, "user": p.user,
                   "executable": argv[0] if argv else "", "arguments": argv[1:],
                   "allowed_hosts": list(p.allowed_hosts) or [p.hostname or "localhost"], "tree_id": p.tree_id}
        out.append(_canonical(process))
    if not out:
        raise PlanError("The session has no processes to save.")
    return {"processes": out}


def upload_text(contents) -> str:
    """dcc.Upload contents → the JSON text (PlanError when unreadable)."""
    from viewmodels.boot import decode_upload

    try:
        raw = decode_upload(contents)
    except BootFileError as exc:
        raise PlanError(str(exc)) from None
    if len(raw) > MAX_FILE_BYTES:
        raise PlanError("The file is too big (at most 1 MB).")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PlanError("The file is not UTF-8 text.") from None
