"""The shapes a callback's inputs may take, checked by `guarded_callback` before the callback runs.

A browser (stale, forged or fuzzed) can send any JSON in any input. Each server callback declares, next to every
Input and State, the shape it accepts (`In(id, prop, shape)`, `St(id, prop, shape)`); the guard checks the values
and hands the callback cleaned ones (lone surrogates replaced, so no later `encode` can fail), or answers "bad
request" without running it. So a callback body only ever sees the types it was written for.

A shape is a callable `shape(value) -> cleaned value` that raises `BadShape` with a short reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dash import Input, State

Shape = Callable[[Any], Any]

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # a valid pair is one code point once JSON is decoded
MAX_ITEMS = 100_000  # the longest list or dict any input may carry
MAX_DEPTH = 32
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # no input is meaningful beyond what a database column holds


class BadShape(ValueError):
    """An input value that does not have the declared shape; the message says what was expected."""


def clean_str(value: str) -> str:
    return _LONE_SURROGATE.sub("\ufffd", value) if not value.isascii() else value


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return f"text of {len(value)} characters" if len(value) > 80 else "text"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _optional(check: Shape, optional: bool) -> Shape:
    if not optional:
        return check

    def shape(value):
        return None if value is None else check(value)

    return shape


def clicks(value):
    """n_clicks, n_intervals, n_submit: missing, or a count."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
        raise BadShape(f"expected a count, got {_kind(value)}")
    return value


def text(max_len: int = 1000, *, optional: bool = True, choices: Iterable[str] | None = None) -> Shape:
    """A string of at most `max_len` characters (or one of `choices`); None when optional."""
    allowed = frozenset(choices) if choices is not None else None

    def check(value):
        if not isinstance(value, str):
            raise BadShape(f"expected text, got {_kind(value)}")
        if len(value) > max_len:
            raise BadShape(f"expected at most {max_len} characters, got {len(value)}")
        if allowed is not None and value not in allowed:
            raise BadShape("not one of the offered choices")
        return clean_str(value)

    return _optional(check, optional)


def integer(minimum: int | None = None, maximum: int | None = None, *, optional: bool = True) -> Shape:
    minimum = INT64_MIN if minimum is None else max(minimum, INT64_MIN)
    maximum = INT64_MAX if maximum is None else min(maximum, INT64_MAX)

    def check(value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadShape(f"expected a whole number, got {_kind(value)}")
        if value < minimum or value > maximum:
            raise BadShape(f"expected a number between {minimum} and {maximum}")
        return value

    return _optional(check, optional)


def boolean(value):
    if value is None or isinstance(value, bool):
        return value
    raise BadShape(f"expected true or false, got {_kind(value)}")


def list_of(item: Shape, max_items: int = 10_000, *, optional: bool = True) -> Shape:
    def check(value):
        if not isinstance(value, list):
            raise BadShape(f"expected a list, got {_kind(value)}")
        if len(value) > max_items:
            raise BadShape(f"expected at most {max_items} items, got {len(value)}")
        out = []
        for index, element in enumerate(value):
            try:
                out.append(item(element))
            except BadShape as exc:
                raise BadShape(f"item {index}: {exc}") from None
        return out

    return _optional(check, optional)


def record(fields: Mapping[str, Shape] | None = None, *, optional: bool = True, max_bytes: int = 1_000_000) -> Shape:
    """An object whose listed keys (each may be missing) have their shapes; other keys are kept as any JSON."""
    fields = dict(fields or {})
    rest = json_value(max_bytes)

    def check(value):
        if not isinstance(value, dict):
            raise BadShape(f"expected an object, got {_kind(value)}")
        out = {}
        for key, element in value.items():
            try:
                out[clean_str(key)] = fields[key](element) if key in fields else rest(element)
            except BadShape as exc:
                raise BadShape(f"{clean_str(key)[:40]!r}: {exc}") from None
        return out

    return _optional(check, optional)


def one_of(*shapes: Shape) -> Shape:
    def check(value):
        reasons = []
        for shape in shapes:
            try:
                return shape(value)
            except BadShape as exc:
                reasons.append(str(exc))
        raise BadShape(" or ".join(dict.fromkeys(reasons)))

    return check


def or_reset(shape: Shape) -> Shape:
    """For a store the server itself writes (a cursor, the version a tab shows): a value of the wrong shape, from
    a page older than the server or a forged one, is read as missing, so the callback starts afresh instead of
    refusing every tick."""

    def check(value):
        try:
            return shape(value)
        except BadShape:
            return None

    return check


def json_value(max_chars: int = 1_000_000) -> Shape:
    """Any JSON (AG Grid's filter model, a row), bounded in size and nesting, with its strings cleaned."""

    def walk(value, depth: int, budget: list[int]):
        if depth > MAX_DEPTH:
            raise BadShape("nested too deeply")
        if isinstance(value, str):
            budget[0] -= len(value)
            if budget[0] < 0:
                raise BadShape(f"larger than {max_chars} characters")
            return clean_str(value)
        if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
            raise BadShape("a number too large")
        if value is None or isinstance(value, bool | int | float):
            budget[0] -= 1
            return value
        if isinstance(value, list):
            if len(value) > MAX_ITEMS:
                raise BadShape("too many items")
            return [walk(v, depth + 1, budget) for v in value]
        if isinstance(value, dict):
            if len(value) > MAX_ITEMS:
                raise BadShape("too many keys")
            return {clean_str(str(k)): walk(v, depth + 1, budget) for k, v in value.items()}
        raise BadShape(f"unexpected {_kind(value)}")

    def check(value):
        return walk(value, 0, [max_chars])

    return check


ANY = json_value()


def In(component_id, component_property: str, shape: Shape) -> Input:  # noqa: N802 - reads like Dash's Input
    dependency = Input(component_id, component_property)
    dependency.shape = shape
    return dependency


def St(component_id, component_property: str, shape: Shape) -> State:  # noqa: N802 - reads like Dash's State
    dependency = State(component_id, component_property)
    dependency.shape = shape
    return dependency


def declared_shapes(dependencies: Iterable) -> list[tuple[str, Shape]]:
    """(name, shape) of every Input then State, in the order Dash passes their values; refuses an undeclared one."""
    deps = list(dependencies)
    ordered = [d for d in deps if type(d) is Input or isinstance(d, Input)] + [d for d in deps if isinstance(d, State)]
    shapes = []
    for dep in ordered:
        shape = getattr(dep, "shape", None)
        if shape is None:
            raise TypeError(f"{dep.component_id}.{dep.component_property}: declare its shape with In()/St()")
        shapes.append((f"{dep.component_id}.{dep.component_property}", shape))
    return shapes


def check_values(shapes: list[tuple[str, Shape]], values: tuple) -> tuple:
    """The cleaned values, or BadShape naming the first input that does not fit."""
    if len(values) != len(shapes):
        raise BadShape(f"expected {len(shapes)} values, got {len(values)}")
    out = []
    for (name, shape), value in zip(shapes, values, strict=True):
        try:
            out.append(shape(value))
        except BadShape as exc:
            raise BadShape(f"{name}: {exc}") from None
    return tuple(out)


def scalar(max_len: int = 1000) -> Shape:
    """A form field's value: missing, true/false, a finite number, or text of at most `max_len` characters."""
    bounded = text(max_len)

    def check(value):
        if value is None or isinstance(value, bool | int):
            return value
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise BadShape("expected a finite number")
            return value
        if isinstance(value, str):
            return bounded(value)
        raise BadShape(f"expected a value, got {_kind(value)}")

    return check
