"""The one sanitising step at the store boundary: any Python value in, text both databases accept out.

PostgreSQL refuses NUL in text, and no driver can encode a lone surrogate ("x\\ud800" is a valid Python str, and a
browser's JSON can carry one). Every text column and every query parameter goes through `clean`, so a value that
was stored is found again by the same query on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import re

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean(value, limit: int | None = None) -> str:
    """`value` as storable text: str() of a non-string, lone surrogates → U+FFFD, NUL removed, clipped to `limit`
    characters (the last one an ellipsis)."""
    text = "" if value is None else value if isinstance(value, str) else str(value)
    if not text.isascii():
        text = _LONE_SURROGATE.sub(REPLACEMENT, text)
    if "\x00" in text:
        text = text.replace("\x00", "")
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def without_surrogates(value: str) -> str:
    """Lone surrogates → U+FFFD, nothing else changed: for what is hashed, not stored (a password)."""
    return _LONE_SURROGATE.sub(REPLACEMENT, value) if not value.isascii() else value


def clean_json(value, depth: int = 0):
    """A JSON-able value with every string (keys included) cleaned; what json cannot encode becomes its str()."""
    if isinstance(value, str):
        return clean(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth > 32:
        return clean(repr(value), 1000)
    if isinstance(value, dict):
        return {clean(k): clean_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [clean_json(v, depth + 1) for v in value]
    return clean(value)
