"""Login throttling, counted from the audit trail so that every worker sees the same numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from store import AuditLog
from store.models import utcnow


@dataclass(frozen=True)
class LoginLimits:
    per_user: int = 5
    per_address: int = 20
    window_secs: int = 300


def login_blocked(audit: AuditLog, limits: LoginLimits, username: str, address: str) -> str | None:
    """A message for the login page when this attempt must be refused, else None."""
    since = utcnow() - timedelta(seconds=limits.window_secs)
    minutes = max(1, round(limits.window_secs / 60))
    if username and audit.count("login", outcome="failed", since=since, username=username) >= limits.per_user:
        return f"Too many failed attempts for this user. Try again in {minutes} minutes."
    if audit.count("login", outcome="failed", since=since, address=address) >= limits.per_address:
        return f"Too many failed attempts from your address. Try again in {minutes} minutes."
    return None
