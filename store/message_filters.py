"""The message filter and its SQL: match sets and per-field exclusions, the normalised severity set, the time range,
text match and exclude, and the (time, id) keyset that orders every page.

Severity is matched over the normalised set DEBUG, INFO, WARNING, ERROR, FATAL and OTHER (any stored severity
outside the five levels; `other` in any case works too). Other severity strings given literally still match
literally, so the live panel's explicit list of unusual severities keeps working.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, false, func, literal, not_, or_, true, tuple_

from store.models import Message
from store.text import clean

T = Message.__table__

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "FATAL")
OTHER = "OTHER"
SEVERITY_KEYS = (*LEVELS, OTHER)
ALARM_LEVELS = ("ERROR", "FATAL")

# filter field name (MessageFilter attribute) → (exclusion/field name, column). The order is the order in which
# one set filter is chosen to drive an index walk: the most selective first.
SET_FIELDS = (
    ("sources", "source", T.c.source),
    ("issue_names", "issue_name", T.c.issue_name),
    ("sessions", "session", T.c.session),
    ("broadcast_types", "broadcast_type", T.c.broadcast_type),
    ("topics", "topic", T.c.topic),
    ("hosts", "host", T.c.host),
    ("kinds", "kind", T.c.kind),
    ("severities", "severity", T.c.severity),
)
FIELD_COLUMNS = {name: col for _, name, col in SET_FIELDS}


@dataclass(frozen=True)
class MessageFilter:
    """Empty sets and empty text mean "any". `since`/`until` bound the message time (inclusive).

    `text` must appear in the message text and `text_exclude` must not (both case-insensitive substrings);
    `exclude` holds (field, value) pairs that must not match, for the fields of `FIELD_COLUMNS`.
    """

    severities: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    broadcast_types: tuple[str, ...] = ()
    text: str = ""
    since: datetime | None = None
    until: datetime | None = None
    kinds: tuple[str, ...] = field(default=())
    hosts: tuple[str, ...] = ()
    issue_names: tuple[str, ...] = ()
    text_exclude: str = ""
    exclude: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        for pair in self.exclude:
            if not (isinstance(pair, tuple | list) and len(pair) == 2) or pair[0] not in FIELD_COLUMNS:
                raise ValueError(f"exclusion {pair!r} is not a (field, value) pair with a field among "
                                 f"{', '.join(FIELD_COLUMNS)}")


def severity_key(severity: str | None) -> str:
    """A stored severity's counter: one of the five levels, or OTHER."""
    value = (severity or "").strip().upper()
    return value if value in LEVELS else OTHER


def _values(values: Iterable[str], limit: int | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(clean(v, limit) for v in values))


def _severity_values(values: Iterable[str]) -> tuple[tuple[str, ...], bool]:
    """(literal severities, whether OTHER is asked for): level names in any case count as the level."""
    literal, other = [], False
    for v in values:
        up = clean(v, 16).strip().upper()
        if up == OTHER:
            other = True
        else:
            literal.append(up if up in LEVELS else clean(v, 16))
    return tuple(dict.fromkeys(literal)), other


def set_condition(name: str, values: Iterable[str], *, unindexed: bool = False, column=None) -> ColumnElement:
    """`column IN values` for a field name (severity understands OTHER). `unindexed` writes `column || ''` so the
    planner does not pick that column's index (for walks driven by the primary key). `column` puts the test on
    another table's column of that field (the rollup's)."""
    col = FIELD_COLUMNS[name]
    column = col.concat("") if unindexed else col if column is None else column
    if name == "severity":
        literal, other = _severity_values(values)
        parts = [column.in_(literal)] if literal else []
        if other:
            parts.append(column.not_in(LEVELS))
        return or_(*parts) if parts else false()
    vals = _values(values, col.type.length)
    return column == vals[0] if len(vals) == 1 else column.in_(vals)


def text_pattern(value: str) -> str:
    return clean(value).lower()


def conditions(flt: MessageFilter | None, *, skip: str = "", unindexed: bool = False) -> list[ColumnElement]:
    """The WHERE conditions of a filter; `skip` names a set field already applied by the caller."""
    if flt is None:
        return []
    out: list[ColumnElement] = []
    for attr, name, _ in SET_FIELDS:
        values = getattr(flt, attr)
        if values and name != skip:
            out.append(set_condition(name, values, unindexed=unindexed))
    excluded: dict[str, list[str]] = {}
    for name, value in flt.exclude:
        excluded.setdefault(name, []).append(value)
    for name, values in excluded.items():
        out.append(not_(set_condition(name, values, unindexed=True)))
    if flt.since is not None:
        out.append(T.c.time >= flt.since)
    if flt.until is not None:
        out.append(T.c.time <= flt.until)
    if flt.text:
        out.append(func.lower(T.c.text).contains(text_pattern(flt.text), autoescape=True))
    if flt.text_exclude:
        out.append(not_(func.lower(T.c.text).contains(text_pattern(flt.text_exclude), autoescape=True)))
    return out


# The fields the per-minute rollup (message_counts) is keyed on, besides the minute.
ROLLUP_FIELDS = ("severity", "kind", "session")


def rollup_conditions(flt: MessageFilter | None, table) -> list[ColumnElement] | None:
    """The filter's conditions on the rollup table `table`, time aside; None when the filter needs more than
    the rollup knows (text, or a field other than severity, kind and session)."""
    if flt is None:
        return []
    if flt.text or flt.text_exclude:
        return None
    out: list[ColumnElement] = []
    for attr, name, _ in SET_FIELDS:
        values = getattr(flt, attr)
        if not values:
            continue
        if name not in ROLLUP_FIELDS:
            return None
        out.append(set_condition(name, values, column=table.c[name]))
    excluded: dict[str, list[str]] = {}
    for name, value in flt.exclude:
        if name not in ROLLUP_FIELDS:
            return None
        excluded.setdefault(name, []).append(value)
    for name, values in excluded.items():
        out.append(not_(set_condition(name, values, column=table.c[name])))
    return out


def driving_field(flt: MessageFilter) -> tuple[str, tuple[str, ...]] | None:
    """The set filter whose (column, time, id) index a page walks, with its values: None → the (time, id) index.

    Severity with OTHER cannot drive (its values are not known in advance).
    """
    for attr, name, col in SET_FIELDS:
        values = getattr(flt, attr)
        if not values:
            continue
        if name == "severity":
            literal, other = _severity_values(values)
            if other:
                continue
            return name, literal
        return name, _values(values, col.type.length)
    return None


def before_key(key: tuple[datetime, int] | None) -> ColumnElement:
    if key is None:
        return true()
    return tuple_(T.c.time, T.c.id) < tuple_(*_key_binds(key))


def after_key(key: tuple[datetime, int] | None) -> ColumnElement:
    if key is None:
        return true()
    return tuple_(T.c.time, T.c.id) > tuple_(*_key_binds(key))


def _key_binds(key: tuple[datetime, int]):
    moment, ident = key
    return literal(moment, T.c.time.type), literal(int(ident), T.c.id.type)


__all__ = [
    "ALARM_LEVELS", "FIELD_COLUMNS", "LEVELS", "OTHER", "ROLLUP_FIELDS", "SET_FIELDS", "SEVERITY_KEYS",
    "MessageFilter", "after_key",
    "before_key", "conditions", "driving_field", "rollup_conditions", "set_condition", "severity_key",
]
