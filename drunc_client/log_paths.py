"""Log paths for boot requests, derived from a directory and a pattern when the operator gives none.

drunc has no default log path: it runs `{ <chain>; } &> <process_logs_path>` and, with an empty path, bash
fails on `&> ` ("syntax error near unexpected token `newline'") and the process is DEAD (exit 2) right after
boot answered RUNNING. So a client never sends an empty path; the web UI and the CLI derive one from
BOOT_LOG_DIR and BOOT_LOG_PATTERN, e.g. `/tmp/log_np04daq_np04-hd_ru-01_20250101T120000Z.log`.

drunc writes the path unquoted into a shell line, so the directory and the pattern's literal text are
restricted to shell-safe path characters, and the session, name and user are sanitised before they go in.
"""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime

DEFAULT_LOG_DIR = "/tmp"
# drunc's own OKS boot names logs log_<user>_<session>_<app>.log; the time keeps a reboot of the same
# process from truncating its previous log (`&>` truncates).
DEFAULT_LOG_PATTERN = "{dir}/log_{user}_{session}_{name}_{time}.log"
PLACEHOLDERS = ("dir", "session", "name", "user", "time")
TIME_FORMAT = "%Y%m%dT%H%M%SZ"  # UTC; only digits and letters, so safe in a path and a shell line
MAX_PART = 100
MAX_PATH = 4096

# Characters a shell passes through unquoted and unexpanded (no spaces, quotes, $, ~, globs, ; & | < >).
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/+@%,=:-]*$")
_UNSAFE_PART = re.compile(r"[^A-Za-z0-9._-]")


class LogPathError(ValueError):
    """A log directory or pattern that cannot give a usable path; the message says what to change."""


def safe_part(value: str) -> str:
    """A session, name or user as one harmless path component: other characters become `_`, no `..`."""
    part = _UNSAFE_PART.sub("_", value.strip())[:MAX_PART]
    if not part.strip("."):
        part = "_" * max(1, len(part))  # "", "." and ".." must not name a directory
    return part


def check_directory(directory: str) -> str:
    value = directory.strip().rstrip("/") or "/"
    if not _SAFE_PATH.match(value):
        raise LogPathError(f"must be an absolute path of letters, digits and ._/+@%,=:- only (drunc passes "
                           f"it to a shell unquoted), got {directory!r}")
    if "/../" in f"{value}/":
        raise LogPathError(f"must not contain '..', got {directory!r}")
    return value


def check_pattern(pattern: str) -> str:
    """The pattern, or LogPathError: known placeholders only, {name} required, an absolute shell-safe result."""
    try:
        fields = [(literal, name, spec, conversion) for literal, name, spec, conversion
                  in string.Formatter().parse(pattern)]
    except ValueError as exc:
        raise LogPathError(f"is not a valid pattern ({exc}); use placeholders like {{name}}") from None
    used = set()
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            raise LogPathError(f"has an unknown placeholder {{{name}}}; the placeholders are "
                               + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS))
        if spec or conversion:
            raise LogPathError(f"placeholder {{{name}}} must not carry a format or conversion")
        used.add(name)
    if "name" not in used:
        raise LogPathError("must contain {name}, or processes booted together would share one log file")
    sample = _format(pattern, "/tmp", session="s", name="n", user="u", when=datetime(2000, 1, 1, tzinfo=UTC))
    if not _SAFE_PATH.match(sample) or "/../" in f"{sample}/":
        raise LogPathError(f"must give an absolute path of letters, digits and ._/+@%,=:- only (start it with "
                           f"{{dir}}/), got {pattern!r}")
    return pattern


def derive_log_path(pattern: str, directory: str, *, session: str, name: str, user: str,
                    when: datetime | None = None) -> str:
    """The log path of one process: the pattern with its placeholders filled (session, name, user sanitised)."""
    path = _format(pattern, check_directory(directory), session=session, name=name, user=user,
                   when=when or datetime.now(UTC))
    if len(path) > MAX_PATH:
        raise LogPathError(f"the derived log path is too long ({len(path)} characters)")
    return path


def _format(pattern: str, directory: str, *, session: str, name: str, user: str, when: datetime) -> str:
    return pattern.format(dir=directory.rstrip("/"), session=safe_part(session), name=safe_part(name),
                          user=safe_part(user), time=when.astimezone(UTC).strftime(TIME_FORMAT))
