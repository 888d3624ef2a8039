"""Process log viewer view-models: the line-count choices, follow-mode overlap, titles, file names, messages.

Follow mode re-reads only a short tail window of the log (drunc has no offsets and no follow) and works out
which of those lines are new. The page keeps a small *tail signature*: digests of the last SIGNATURE lines it
shows. The newest place in the fetched window where that signature ends is where the shown text stops; what
comes after it is new. When the signature is not found (the log was rotated or truncated, or grew faster
than the window), the caller reloads everything.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from drunc_client.errors import BackendUnavailable, DruncError, DruncFlagError, InvalidArguments

LINE_CHOICES = (100, 1000, 10000)
DEFAULT_LINES = 100
FOLLOW_WINDOW = 500  # lines re-read per follow tick, at most
SIGNATURE = 64  # digests of the last lines shown, kept by the page to find the overlap
SHORT_UUID = 8
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")  # colour codes and other escape sequences
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def line_count(value) -> int:
    """The number of lines to show: one of LINE_CHOICES (a forged or missing value gives the default)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return DEFAULT_LINES
    return number if number in LINE_CHOICES else DEFAULT_LINES


def follow_window(lines: int) -> int:
    return max(1, min(lines, FOLLOW_WINDOW))


def line_digest(line: str) -> str:
    return hashlib.blake2b(line.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()


def tail_signature(lines: Sequence[str], size: int = SIGNATURE) -> list[str]:
    """Digests of the last `size` lines: what the page keeps to recognise where its text ends."""
    return [line_digest(line) for line in lines[-size:]] if size > 0 else []


def extend_signature(signature: Sequence[str], appended: Sequence[str], size: int = SIGNATURE) -> list[str]:
    """The signature after `appended` lines were added below the ones `signature` describes."""
    return ([*signature, *tail_signature(appended, size)])[-size:] if size > 0 else []


def new_lines(previous_tail: Sequence[str], fetched: Sequence[str]) -> tuple[list[str], bool]:
    """The lines of `fetched` (the newest lines of the log) that come after what is shown.

    `previous_tail` is the tail signature of the shown lines (see `tail_signature`). Returns
    `(lines_to_append, replaced)`: `replaced` is True when the shown lines could not be found in `fetched`
    (rotated or truncated log, or more new lines than the window holds, or nothing shown yet), and then
    `lines_to_append` is the whole of `fetched` and the caller should show a fresh read instead.

    The newest match wins: with lines repeated over the whole window, the shown tail matches at several
    places, and taking the newest one never shows a line twice (at worst, identical repeated lines are
    noticed late).
    """
    fetched = list(fetched)
    signature = list(previous_tail)
    if not signature:
        return fetched, bool(fetched)
    k = len(signature)
    digests = [line_digest(line) for line in fetched]
    for end in range(len(digests), k - 1, -1):
        if digests[end - k:end] == signature:
            return fetched[end:], False
    return fetched, True


@dataclass(frozen=True)
class FollowStep:
    """What one follow tick does to the shown lines."""

    kind: str  # "none": nothing new; "append": drop `drop` lines at the top, add `append`; "replace": show
    # `append` instead of everything; "reload": the shown lines were not found, read the last `cap` lines again
    append: tuple[str, ...] = ()
    drop: int = 0
    count: int = 0  # lines shown afterwards
    tail: tuple[str, ...] = ()  # the tail signature afterwards


def follow_step(tail: Sequence[str], shown: int, fetched: Sequence[str], cap: int) -> FollowStep:
    """Plan one follow tick: `shown` lines are on the page (signature `tail`), `fetched` is the new tail window,
    at most `cap` lines may be shown."""
    lines, replaced = new_lines(tail, fetched)
    if replaced:
        return FollowStep("reload")
    if not lines:
        return FollowStep("none", count=shown, tail=tuple(tail))
    total = shown + len(lines)
    drop = max(0, total - cap)
    if drop >= shown:  # the new lines alone fill the view
        kept = lines[-cap:]
        return FollowStep("replace", append=tuple(kept), drop=shown, count=len(kept),
                          tail=tuple(tail_signature(kept)))
    return FollowStep("append", append=tuple(lines), drop=drop, count=total - drop,
                      tail=tuple(extend_signature(tail, lines)))


def display_lines(lines: Sequence[str]) -> list[str]:
    """The Pre's children: one text node per line, terminal escape sequences removed."""
    return [_ANSI.sub("", line) + "\n" for line in lines]


def log_text(lines: Sequence[str]) -> str:
    return "".join(line + "\n" for line in lines)


def short_uuid(uuid: str) -> str:
    return (uuid or "")[:SHORT_UUID]


def panel_title(name: str, uuid: str) -> str:
    short = short_uuid(uuid)
    return f"{name} · {short}" if name else f"Process {short}"


def log_filename(name: str, uuid: str) -> str:
    """`<name>-<shortuuid>.log`, with anything but letters, digits, dot, dash and underscore replaced."""
    safe = _FILENAME_UNSAFE.sub("_", name or "").strip("._") or "process"
    short = _FILENAME_UNSAFE.sub("_", short_uuid(uuid)) or "unknown"
    return f"{safe[:80]}-{short}.log"


def updated_text(now: datetime, shown: int) -> str:
    noun = "line" if shown == 1 else "lines"
    return f"updated {now:%H:%M:%S} UTC · {shown:,} {noun}"


@dataclass(frozen=True)
class LogProblem:
    kind: str  # missing | unknown | down | refused | invalid | error
    message: str
    colour: str = "warning"


def describe_failure(exc: Exception, timeout: float) -> LogProblem:
    """A sentence for the panel (never a toast: follow mode would repeat it every tick)."""
    if isinstance(exc, BackendUnavailable):
        if exc.timed_out:
            return LogProblem("down", f"The process manager did not answer within {timeout:g} s. "
                                      "The lines shown may be out of date; follow mode keeps trying.", "danger")
        return LogProblem("down", f"The process manager is unreachable ({exc.address}). The lines shown may be "
                                  "out of date; follow mode keeps trying.", "danger")
    if isinstance(exc, DruncFlagError):
        text = exc.text or ""
        if "does not exist (yet)" in text:
            return LogProblem("missing", "This process has no log yet: nothing has been written to its log file. "
                                         "Follow mode keeps checking.", "info")
        if "doesn't exist" in text or "does not exist" in text:
            return LogProblem("unknown", "The process manager does not know this process (it may have been "
                                         "killed or flushed).")
        summary = text.strip().splitlines()[-1] if text.strip() else exc.flag
        return LogProblem("refused", f"The process manager did not return the log ({exc.flag}): {summary}")
    if isinstance(exc, InvalidArguments):
        return LogProblem("invalid", str(exc))
    if isinstance(exc, DruncError):
        return LogProblem("error", f"Could not read the log: {exc}", "danger")
    return LogProblem("error", "Could not read the log: unexpected server error (the details are in the "
                               "server log).", "danger")


def unknown_process(uuid: str) -> LogProblem:
    return LogProblem("unknown", f"No process with uuid {uuid} is known to the process manager (it may have "
                                 "been killed or flushed).")
