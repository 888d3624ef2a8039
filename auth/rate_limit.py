"""Login throttling, counted from the audit trail so that every worker sees the same numbers.

Failures are counted per (user, address), so someone typing wrong passwords for `shifter` elsewhere cannot lock
the real shifter out of the control room; per address, so one machine cannot try many names; and per user from
anywhere, with a much higher ceiling, against a guessing attack spread over many addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from store import AuditLog
from store.models import utcnow


@dataclass(frozen=True)
class LoginLimits:
    per_user_and_address: int = 5
    per_address: int = 20
    per_user: int = 100
    window_secs: int = 300

    @classmethod
    def from_settings(cls, settings) -> LoginLimits:
        return cls(settings.login_max_failures, settings.login_max_failures_per_address,
                   settings.login_max_failures_per_user, settings.login_window_secs)


def login_blocked(audit: AuditLog, limits: LoginLimits, username: str, address: str) -> str | None:
    """A message for the login page when this attempt must be refused, else None."""
    since = utcnow() - timedelta(seconds=limits.window_secs)
    minutes = max(1, round(limits.window_secs / 60))

    def failures(**where) -> int:
        return audit.count("login", outcome="failed", since=since, **where)

    if username and failures(username=username, address=address) >= limits.per_user_and_address:
        return f"Too many failed attempts for this user from your address. Try again in {minutes} minutes."
    if failures(address=address) >= limits.per_address:
        return f"Too many failed attempts from your address. Try again in {minutes} minutes."
    if username and failures(username=username) >= limits.per_user:
        return f"Too many failed attempts for this user. Try again in {minutes} minutes."
    return None
