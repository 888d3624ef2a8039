"""The Messages page's view-models: URL ⇄ filter state, filter state → store filter, stored message → grid row and
inspector data (ERS chains nested), severity chips, export lines (CSV, JSON lines).

No Dash here: plain functions of plain values, tested without a browser.

Field filters take comma-separated terms; a term starting with `!` excludes that value (`session=np04,!test`),
as InfoLogger's match/exclude per field.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from store.messages import KINDS, MessageFilter, StoredMessage
from viewmodels.messages import LEVELS, severity_class
from viewmodels.text import clip

OTHER = "other"  # any stored severity outside LEVELS
SEVERITY_CHOICES = (*LEVELS, OTHER)
# Every drunc rpc (the process table's ps each second too) broadcasts an ACK and a success at DEBUG: off by default.
DEFAULT_SEVERITIES = tuple(s for s in SEVERITY_CHOICES if s != "DEBUG")
MODES = ("live", "query")
# query-mode time ranges, label → seconds
PRESETS: dict[str, int] = {"10m": 600, "30m": 1800, "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400}
PRESET_LABELS = {"10m": "10 min", "30m": "30 min", "1h": "1 hour", "6h": "6 hours", "24h": "24 hours",
                 "7d": "7 days", "custom": "from/to"}
DEFAULT_RANGE = "1h"
# URL key → (MessageFilter include field, exclude column name)
FIELD_FILTERS: dict[str, tuple[str, str]] = {
    "session": ("sessions", "session"),
    "source": ("sources", "source"),
    "host": ("hosts", "host"),
    "topic": ("topics", "topic"),
    "btype": ("broadcast_types", "broadcast_type"),
    "issue": ("issue_names", "issue_name"),
}
FIELD_LABELS = {"session": "Session", "source": "Emitter / application", "host": "Host", "topic": "Topic",
                "btype": "Broadcast type", "issue": "ERS issue"}
TEXT_MAX = 200  # characters of one filter text (URL and store)
TERMS_MAX = 20  # values per field
TEXT_CLIP = 2000  # characters of a message text in a grid row
MAX_RANGE = timedelta(days=31)


@dataclass(frozen=True)
class QueryState:
    """Everything the page's filters hold; `kinds` empty means any."""

    mode: str = "live"
    range: str = DEFAULT_RANGE  # a PRESETS key or "custom" (then start/end)
    start: str = ""  # ISO time, UTC
    end: str = ""
    severities: tuple[str, ...] = DEFAULT_SEVERITIES
    kinds: tuple[str, ...] = ()
    session: str = ""
    source: str = ""
    host: str = ""
    topic: str = ""
    btype: str = ""
    issue: str = ""
    text: str = ""
    text_exclude: str = ""


_URL_KEYS = {"mode": "mode", "range": "range", "start": "from", "end": "to", "severities": "sev", "kinds": "kind",
             "text": "q", "text_exclude": "qx", **{k: k for k in FIELD_FILTERS}}


def _one_line(value, limit: int = TEXT_MAX) -> str:
    return " ".join(str(value or "").split())[:limit]


def _choices(value, allowed: Iterable[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    chosen = {str(v).strip() for v in items}
    return tuple(a for a in allowed if a in chosen)


def make_state(**values) -> QueryState:
    """A QueryState from loose values (URL strings, control values): unknown choices dropped, texts one line."""
    mode = values.get("mode") if values.get("mode") in MODES else "live"
    rng = values.get("range")
    rng = rng if rng in PRESETS or rng == "custom" else DEFAULT_RANGE
    sev = values.get("severities")
    sev = DEFAULT_SEVERITIES if sev is None else _choices(sev, SEVERITY_CHOICES) or SEVERITY_CHOICES
    kinds = _choices(values.get("kinds"), KINDS)
    texts = {k: _one_line(values.get(k)) for k in (*FIELD_FILTERS, "text", "text_exclude", "start", "end")}
    if set(kinds) == set(KINDS):
        kinds = ()
    return QueryState(mode=mode, range=rng, severities=sev, kinds=kinds, **texts)


def state_from_query(search: str | None) -> QueryState:
    params = dict(parse_qsl((search or "").lstrip("?"), keep_blank_values=False))
    return make_state(**{name: params.get(key) for name, key in _URL_KEYS.items()})


def query_from_state(state: QueryState) -> str:
    """The URL query string of a state; defaults are left out so a plain /messages stays plain."""
    default = QueryState()
    params = []
    for name, key in _URL_KEYS.items():
        value = getattr(state, name)
        if value == getattr(default, name):
            continue
        params.append((key, ",".join(value) if isinstance(value, tuple) else value))
    return "?" + urlencode(params) if params else ""


def state_to_dict(state: QueryState) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(state).items()}


def state_from_dict(data: Mapping | None) -> QueryState:
    names = {f.name for f in fields(QueryState)}
    return make_state(**{k: v for k, v in (data or {}).items() if k in names})


def with_mode(state: QueryState, mode: str) -> QueryState:
    """Switching live ⇄ query keeps every filter."""
    return replace(state, mode=mode if mode in MODES else "live")


def parse_terms(value: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """("a, !b, c") → (("a", "c"), ("b",)): comma-separated values to match, `!value` to exclude."""
    include, exclude = [], []
    for term in (value or "").split(","):
        term = term.strip()
        if term.startswith("!"):
            term = term[1:].strip()
            if term:
                exclude.append(term)
        elif term:
            include.append(term)
    return tuple(dict.fromkeys(include))[:TERMS_MAX], tuple(dict.fromkeys(exclude))[:TERMS_MAX]


def parse_time(value: str) -> datetime | None:
    """An ISO date/time typed by an operator, read as UTC; None when blank. ValueError with a plain message."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise ValueError(f"{value!r} is not a date and time (use 2025-01-31 14:05 or 2025-01-31T14:05:00)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def time_bounds(state: QueryState, now: datetime) -> tuple[datetime | None, datetime | None]:
    """(since, until) of the state: none in live mode; a preset ends now; from/to as typed. ValueError when bad."""
    if state.mode == "live":
        return None, None
    if state.range != "custom":
        return now - timedelta(seconds=PRESETS[state.range]), None
    since, until = parse_time(state.start), parse_time(state.end)
    if since is not None and until is not None and until < since:
        raise ValueError("the end of the time range is before its start")
    if since is None and until is None:
        return now - timedelta(seconds=PRESETS[DEFAULT_RANGE]), None
    return since, until


def to_filter(state: QueryState, now: datetime) -> MessageFilter:
    """The store filter of a state (nothing ticked in a choice means any). ValueError, operator-readable, for a bad
    time range."""
    since, until = time_bounds(state, now)
    values: dict = {"since": since, "until": until, "kinds": state.kinds, "text": state.text,
                    "text_exclude": state.text_exclude}
    exclude: list[tuple[str, str]] = []
    for key, (include_field, column) in FIELD_FILTERS.items():
        include, excluded = parse_terms(getattr(state, key))
        values[include_field] = include
        exclude.extend((column, v) for v in excluded)
    # the store reads OTHER as "any severity outside the five levels"
    if set(state.severities) != set(SEVERITY_CHOICES):
        values["severities"] = tuple(s.upper() for s in state.severities)
    values["exclude"] = tuple(exclude)
    return MessageFilter(**values)


# -- rows, chips, inspector ------------------------------------------------------------------------------------

def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def stamp(moment: datetime | None) -> str:
    if moment is None:
        return ""
    when = _utc(moment)
    return when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond // 1000:03d}"


def message_type(m: StoredMessage) -> str:
    return m.broadcast_type or m.issue_name or m.kind


def grid_row(m: StoredMessage, acked: bool = False, fresh: bool = False) -> dict:
    """One grid row; `t` is the exact stored time (the keyset anchor of the next block); drunc text stays text."""
    return {
        "id": str(m.id),
        "t": m.time.isoformat(),
        "time": stamp(m.time),
        "severity": m.severity,
        "sev_class": severity_class(m.severity),
        "kind": m.kind,
        "session": m.session,
        "source": m.source,
        "host": m.host,
        "topic": m.topic,
        "type": message_type(m),
        "text": clip(" ".join((m.text or "").split()), TEXT_CLIP),
        "ack": bool(acked),
        "fresh": bool(fresh),
    }


def severity_chips(counts: Mapping[str, int]) -> list[dict]:
    """One chip per level plus "other" (the sum of the unusual severities), in the level order."""
    other = sum(int(n) for s, n in counts.items() if s not in LEVELS)
    chips = [{"severity": s, "count": int(counts.get(s, 0)), "class": severity_class(s)} for s in LEVELS]
    chips.append({"severity": OTHER, "count": other, "class": severity_class(OTHER)})
    return chips


def _context(ctx: Mapping | None) -> dict:
    ctx = ctx or {}
    where = str(ctx.get("file") or "")
    if where and ctx.get("line"):
        where = f"{where}:{ctx.get('line')}"
    return {
        "host": str(ctx.get("host") or ""),
        "application": str(ctx.get("application") or ""),
        "package": str(ctx.get("package") or ""),
        "where": where,
        "function": str(ctx.get("function") or ""),
        "process": " ".join(f"{k} {ctx.get(k)}" for k in ("pid", "thread", "user") if ctx.get(k)),
    }


def _issue(name, severity, message, time, inheritance, context, parameters) -> dict:
    params = parameters if isinstance(parameters, Mapping) else {}
    return {
        "name": str(name or ""),
        "severity": str(severity or ""),
        "message": str(message or ""),
        "time": str(time or ""),
        "inheritance": [str(i) for i in (inheritance or []) if i],
        "context": _context(context if isinstance(context, Mapping) else None),
        "parameters": [(str(k), str(v)) for k, v in sorted(params.items())],
        "cause": None,
    }


def ers_chain(m: StoredMessage) -> dict | None:
    """An ERS message as nested issues: the final issue, its `cause`, that cause's `cause`, … (ERS sends the
    causes as a list, each the cause of the one before)."""
    if m.kind != "ers":
        return None
    d = m.details if isinstance(m.details, Mapping) else {}
    top = _issue(m.issue_name, m.severity, m.text, stamp(m.time), d.get("inheritance"), d.get("context"),
                 d.get("parameters"))
    node = top
    for cause in d.get("causes") or []:
        if not isinstance(cause, Mapping):
            continue
        child = _issue(cause.get("name"), cause.get("severity"), cause.get("message"), cause.get("time"),
                       cause.get("inheritance"), cause.get("context"), cause.get("parameters"))
        node["cause"] = child
        node = child
    return top


def chain_depth(chain: dict | None) -> int:
    depth = 0
    while chain is not None:
        depth, chain = depth + 1, chain["cause"]
    return depth


def inspector_fields(m: StoredMessage) -> list[tuple[str, str]]:
    """Every stored field, as (label, text) pairs, in reading order."""
    rows = [("Id", str(m.id)), ("Time", stamp(m.time) + " UTC"), ("Received", stamp(m.received_at) + " UTC"),
            ("Severity", m.severity), ("Kind", m.kind), ("Session", m.session)]
    if m.kind == "broadcast":
        rows += [("Emitter", m.source), ("Broadcast type", m.broadcast_type),
                 ("Payload type", "druncschema.PlainText" if m.text else "none")]
    elif m.kind == "ers":
        rows += [("Application", m.source), ("Host", m.host), ("Issue", m.issue_name)]
    else:
        rows += [("Source", m.source), ("Host", m.host)]
    rows += [("Topic", m.topic), ("Partition / offset", f"{m.partition} / {m.offset}")]
    return rows


def message_record(m: StoredMessage) -> dict:
    """The whole message as JSON-able data: a JSON line of the export and the inspector's copy."""
    return {
        "id": m.id, "time": _utc(m.time).isoformat(), "received_at": _utc(m.received_at).isoformat(),
        "severity": m.severity, "kind": m.kind, "session": m.session, "source": m.source, "host": m.host,
        "topic": m.topic, "partition": m.partition, "offset": m.offset, "broadcast_type": m.broadcast_type,
        "issue_name": m.issue_name, "text": m.text, "details": m.details,
    }


# -- export ----------------------------------------------------------------------------------------------------

CSV_COLUMNS = ("id", "time", "severity", "kind", "session", "source", "host", "topic", "partition", "offset",
               "broadcast_type", "issue_name", "text", "details")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    value = str(value)
    # A spreadsheet runs a cell starting with = + - @ as a formula: drunc text must never become one.
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_header() -> str:
    return _csv_line(CSV_COLUMNS)


def _csv_line(cells) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()


def csv_line(m: StoredMessage) -> str:
    record = message_record(m)
    return _csv_line(_cell(record[c]) if c not in ("id", "partition", "offset") else str(record[c])
                     for c in CSV_COLUMNS)


def json_line(m: StoredMessage) -> str:
    return json.dumps(message_record(m), ensure_ascii=False, separators=(",", ":")) + "\n"


EXPORT_FORMATS = {"csv": ("text/csv; charset=utf-8", "csv"), "jsonl": ("application/x-ndjson", "jsonl")}


def export_filename(fmt: str, now: datetime) -> str:
    return f"messages-{_utc(now):%Y%m%dT%H%M%SZ}.{EXPORT_FORMATS[fmt][1]}"


def export_href(state: QueryState, fmt: str) -> str:
    """The export link of the current filter (the route reads the same query string as the page)."""
    query = query_from_state(state).lstrip("?")
    return f"/messages/export.{fmt}" + (f"?{query}" if query else "")


# -- rate plot -------------------------------------------------------------------------------------------------

def bucket_secs(since: datetime | None, until: datetime | None, now: datetime) -> int:
    """Messages per minute up to 6 hours; coarser beyond, so a plot never has more than ~400 bars."""
    span = ((until or now) - (since or now - timedelta(hours=1))).total_seconds()
    for secs in (60, 300, 900, 3600):
        if span / secs <= 400:
            return secs
    return 3 * 3600


def range_from_relayout(relayout: Mapping | None) -> tuple[str, str] | None:
    """The (from, to) an operator dragged on the plot's time axis, as ISO UTC texts; None for anything else."""
    if not isinstance(relayout, Mapping):
        return None
    start, end = relayout.get("xaxis.range[0]"), relayout.get("xaxis.range[1]")
    if start is None and isinstance(relayout.get("xaxis.range"), list) and len(relayout["xaxis.range"]) == 2:
        start, end = relayout["xaxis.range"]
    if not isinstance(start, str) or not isinstance(end, str):
        return None
    try:
        a, b = parse_time(start), parse_time(end)
    except ValueError:
        return None
    if a is None or b is None:
        return None
    a, b = min(a, b), max(a, b)
    return a.strftime("%Y-%m-%d %H:%M:%S"), b.strftime("%Y-%m-%d %H:%M:%S")


def consumer_health(status, now: datetime) -> tuple[str, str]:
    """Last message time, errors and lag, and how loudly ("ok" | "warn" | "error")."""
    if status is None:
        return "no consumer has run yet: no messages can arrive", "warn"
    parts = []
    last = getattr(status, "last_message_time", None)
    parts.append(f"last message {stamp(last)} UTC" if last else "no message yet")
    lag = getattr(status, "lag", None)
    if lag is not None:
        parts.append(f"lag {lag}")
    undecodable = getattr(status, "undecodable", 0)
    if undecodable:
        parts.append(f"{undecodable} undecodable")
    error = getattr(status, "last_error", None)
    if error:
        parts.append(f"error: {clip(' '.join(error.split()), 300)}")
        return " · ".join(parts), "error"
    polled = getattr(status, "last_poll_time", None)
    if polled is None or (_utc(now) - _utc(polled)).total_seconds() > 120:
        parts.append("consumer silent" if polled is None else f"consumer silent since {stamp(polled)} UTC")
        return " · ".join(parts), "warn"
    return " · ".join(parts), "ok"


SEVERITY_COLOURS = {"DEBUG": "#adb5bd", "INFO": "#0d6efd", "WARNING": "#fd7e14", "ERROR": "#dc3545",
                    "FATAL": "#6f0d16", "OTHER": "#6c757d"}


def rate_figure(buckets, secs: int, since: datetime, until: datetime) -> dict:
    """Stacked bars of messages per bucket per severity, a plain Plotly figure dict (no plotly import needed).

    `buckets`: (bucket start, severity, count) triples as the store returns them."""
    series: dict[str, dict[str, int]] = {}
    for start, severity, count in buckets:
        key = severity if severity in LEVELS else "OTHER"
        x = _utc(start).strftime("%Y-%m-%d %H:%M:%S")
        column = series.setdefault(key, {})
        column[x] = column.get(x, 0) + int(count)
    unit = "minute" if secs == 60 else f"{secs // 60} min" if secs < 3600 else f"{secs // 3600} h"
    data = [
        {"type": "bar", "name": key.lower() if key == "OTHER" else key, "x": list(series[key]),
         "y": list(series[key].values()), "marker": {"color": SEVERITY_COLOURS[key]},
         "hovertemplate": "%{x}<br>%{y} " + key + "<extra></extra>"}
        for key in (*LEVELS, "OTHER") if key in series
    ]
    layout = {
        "barmode": "stack", "height": 150, "margin": {"l": 40, "r": 10, "t": 10, "b": 30},
        "xaxis": {"type": "date", "range": [_utc(since).strftime("%Y-%m-%d %H:%M:%S"),
                                            _utc(until).strftime("%Y-%m-%d %H:%M:%S")]},
        "yaxis": {"title": {"text": f"per {unit}"}, "fixedrange": True},
        "showlegend": True, "legend": {"orientation": "h", "y": 1.15, "font": {"size": 10}},
        "dragmode": "zoom", "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"size": 10},
    }
    return {"data": data, "layout": layout}
