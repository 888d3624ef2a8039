"""Message panel view-models: stored message → grid row, severity colours and choices, the filter a panel asks
the store for, the incremental cursor and the cap on the rows a browser keeps.

No Dash here: everything is a plain function of plain values, tested without a browser.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from store.messages import ConsumerStatusInfo, MessageFilter, StoredMessage
from viewmodels.text import clip

# The levels the consumer stores (consumers/decode.py normalises broadcasts and ERS issues to these).
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "FATAL")
OTHER = "OTHER"  # any other severity string found in the store
SEVERITY_CHOICES = (*LEVELS, OTHER)
# Every drunc rpc (the process table's ps once a second included) broadcasts an ACK and a success at DEBUG.
DEFAULT_SEVERITIES = tuple(s for s in SEVERITY_CHOICES if s != "DEBUG")
SEVERITY_LABELS = {"DEBUG": "Debug", "INFO": "Info", "WARNING": "Warning", "ERROR": "Error", "FATAL": "Fatal",
                   OTHER: "Other"}

SEVERITY_CLASSES = {
    "DEBUG": "rc-sev-debug",
    "INFO": "rc-sev-info",
    "WARNING": "rc-sev-warning",
    "WARN": "rc-sev-warning",
    "ERROR": "rc-sev-error",
    "FATAL": "rc-sev-fatal",
    "CRITICAL": "rc-sev-fatal",
}
OTHER_CLASS = "rc-sev-other"
ALL_CLASSES = tuple(dict.fromkeys([*SEVERITY_CLASSES.values(), OTHER_CLASS]))

RELOAD_LIMIT = 200  # rows sent on a (re)load: the newest matching ones
TICK_LIMIT = 200  # new rows fetched per poll; a bigger burst reloads the newest instead
CAP = 500  # rows a browser keeps: the oldest beyond it are removed
TEXT_CLIP = 2000  # characters of a message text sent to the browser
SEARCH_CLIP = 200  # characters of a search text
CONSUMER_SILENT_SECS = 120  # a consumer that has not polled for this long is reported as silent


def severity_class(severity: str | None) -> str:
    """The CSS class of a severity cell: DEBUG grey, INFO normal, WARNING amber, ERROR red, FATAL/CRITICAL red
    bold, anything else plain."""
    return SEVERITY_CLASSES.get((severity or "").strip().upper(), OTHER_CLASS)


def severity_options() -> list[dict]:
    return [{"label": SEVERITY_LABELS[s], "value": s} for s in SEVERITY_CHOICES]


def other_severities(stored: Iterable[str]) -> tuple[str, ...]:
    """The severities in the store outside the known levels (what "Other" stands for), sorted."""
    return tuple(sorted({s for s in stored if s and s not in LEVELS}))


def selected_severities(value) -> tuple[str, ...]:
    """The severity choices of a filter value: None (never set) means the default; unknown values are dropped."""
    if value is None:
        return DEFAULT_SEVERITIES
    if isinstance(value, str):
        value = [value]
    chosen = {str(v) for v in value}
    return tuple(s for s in SEVERITY_CHOICES if s in chosen)


def clean_search(text) -> str:
    value = " ".join(str(text or "").split())  # newlines and runs of blanks as one space
    return value[:SEARCH_CLIP]


def needs_others(severities) -> bool:
    """Whether the filter needs the store's unusual severities: "Other" ticked, but not everything."""
    chosen = set(selected_severities(severities))
    return OTHER in chosen and chosen != set(SEVERITY_CHOICES)


def build_filter(base: MessageFilter, severities, text, others: Sequence[str] = ()) -> MessageFilter | None:
    """The panel's fixed filter (kinds, sources) narrowed by the severity choice and the search text.

    None means that nothing can match (no severity chosen): the panel is empty without asking the store.
    Every choice ticked means no severity condition at all, so an unusual severity is never lost.
    """
    chosen = selected_severities(severities)
    if set(chosen) == set(SEVERITY_CHOICES):
        levels: tuple[str, ...] = ()
    else:
        levels = tuple(s for s in chosen if s != OTHER) + (tuple(others) if OTHER in chosen else ())
        if not levels:
            return None
    return replace(base, severities=levels, text=clean_search(text))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def message_row(m: StoredMessage) -> dict:
    """One grid row. The id is a string (AG Grid row ids must be); drunc strings stay plain text."""
    when = _utc(m.time)
    return {
        "id": str(m.id),
        "time": when.strftime("%H:%M:%S"),
        "ts": when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond // 1000:03d} UTC",
        "severity": m.severity,
        "sev_class": severity_class(m.severity),
        "session": m.session,
        "source": m.source,
        "type": m.broadcast_type or m.issue_name or m.kind,
        "text": clip(m.text or "", TEXT_CLIP),
    }


def newest_first(messages: Iterable[StoredMessage]) -> list[StoredMessage]:
    return sorted(messages, key=lambda m: m.id, reverse=True)


def next_cursor(cursor: int, latest_before: int, messages: Iterable[StoredMessage]) -> int:
    """The id after which the next poll starts.

    `latest_before` is the store's newest id read *before* the query: every matching message up to it has been
    returned, so the next walk starts there even when nothing matched (hours of hidden DEBUG rows are then never
    walked again). Messages above it that the query returned move the cursor further.
    """
    return max([int(cursor or 0), int(latest_before or 0), *(m.id for m in messages)])


def cap_ids(new_ids: Sequence[int], shown: Sequence[int], limit: int = CAP) -> tuple[list[int], list[int]]:
    """(ids kept, ids to remove): the new ids (newest first) go on top; the oldest beyond `limit` drop off."""
    ids = [int(i) for i in new_ids] + [int(i) for i in shown or ()]
    return ids[:limit], ids[limit:]


def add_transaction(rows: list[dict], removed: Sequence[int]) -> dict:
    """An AG Grid transaction: the new rows (newest first) on top, the dropped ones removed by id."""
    transaction = {"add": rows, "addIndex": 0, "async": False}
    if removed:
        transaction["remove"] = [{"id": str(i)} for i in removed]
    return transaction


def updated_text(now: datetime, paused: bool) -> str:
    stamp = _utc(now).strftime("%H:%M:%S")
    return f"paused · updated {stamp} UTC" if paused else f"updated {stamp} UTC"


def consumer_text(status: ConsumerStatusInfo | None, now: datetime) -> tuple[str, str]:
    """What the operator needs to know about the consumer, and how loudly: ("text", "ok" | "warn" | "error")."""
    if status is None:
        return "no consumer has run yet: no messages can arrive", "warn"
    if status.last_error:
        return f"consumer error: {clip(' '.join(status.last_error.split()), 300)}", "error"
    if status.last_poll_time is None:
        return "consumer has not polled yet", "warn"
    polled = _utc(status.last_poll_time)
    if (_utc(now) - polled).total_seconds() > CONSUMER_SILENT_SECS:
        return f"consumer silent since {polled:%Y-%m-%d %H:%M:%S} UTC", "warn"
    return f"consumer polled {polled:%H:%M:%S} UTC", "ok"
