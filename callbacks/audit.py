"""Audit page: filter the trail by user, action, outcome and time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from dash import Output, html

from auth.actions import guarded_callback
from auth.shapes import In, clicks, text
from pages import audit as page

LIMIT = 500
_PERIODS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d")


class BadTime(ValueError):
    pass


def parse_utc(text: str | None, label: str) -> datetime | None:
    """'YYYY-MM-DD[ HH:MM[:SS]]' in UTC, or None when blank; BadTime names the field otherwise."""
    value = (text or "").strip()
    if not value:
        return None
    for fmt in _FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise BadTime(f"{label}: “{value}” is not a time. Use YYYY-MM-DD HH:MM (UTC).")


def audit_rows(entries) -> list[dict]:
    return [
        {
            "id": str(e.id),
            "time": e.time.strftime("%Y-%m-%d %H:%M:%S"),
            "username": e.username,
            "action": e.action,
            "target": e.target,
            "outcome": e.outcome,
            "detail": e.detail,
            "arguments": json.dumps(e.arguments, sort_keys=True) if e.arguments else "",
            "address": e.address,
        }
        for e in entries
    ]


def action_options(actions: list[str]) -> list[dict]:
    """Each family once ("process" for process.kill and process.restart), then the actions themselves."""
    families = sorted({a.split(".", 1)[0] for a in actions if "." in a})
    return [{"label": f"{f}.*", "value": f} for f in families] + [{"label": a, "value": a} for a in actions]


def register(app, services) -> None:
    audit = services.audit

    @guarded_callback(
        app,
        audit,
        Output(page.GRID, "rowData"),
        Output(page.STATUS, "children"),
        Output(page.USER, "options"),
        Output(page.ACTION, "options"),
        In(page.USER, "value", text(64)),
        In(page.ACTION, "value", text(64)),
        In(page.OUTCOME, "value", text(16)),
        In(page.PERIOD, "value", text(16)),
        In(page.SINCE, "value", text(64)),
        In(page.UNTIL, "value", text(64)),
        In(page.REFRESH, "n_clicks", clicks),
        In(page.TICK, "n_intervals", clicks),
    )
    def show_audit(user, action, outcome, period, since_text, until_text, _clicks, _ticks):
        now = datetime.now(UTC)
        users = [{"label": u, "value": u} for u in audit.distinct_values("username")]
        actions = action_options(audit.distinct_values("action"))
        try:
            since = parse_utc(since_text, "From")
            until = parse_utc(until_text, "To")
        except BadTime as exc:
            return [], html.Span(str(exc), className="text-danger", id="audit-error"), users, actions
        if since is None and period in _PERIODS:
            since = now - _PERIODS[period]
        if since and until and since > until:
            return [], html.Span("From is after To.", className="text-danger", id="audit-error"), users, actions
        entries = audit.query(username=user, action=action, outcome=outcome, since=since, until=until, limit=LIMIT)
        more = " (the newest 500; narrow the filters to see older ones)" if len(entries) == LIMIT else ""
        status = f"{len(entries)} events{more} · updated {now:%H:%M:%S} UTC"
        return audit_rows(entries), status, users, actions
