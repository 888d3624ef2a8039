"""Settings read from environment variables, once, at start-up.

The names shared with the official drunc UI (DUNE-DAQ/drunc_ui) keep its meaning, so a deployment can switch
over without renaming anything. Every value is validated here so that a bad setting is a one-line start-up
error rather than a traceback at the first request.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from drunc_client.log_paths import (
    DEFAULT_LOG_DIR,
    DEFAULT_LOG_PATTERN,
    LogPathError,
    check_directory,
    check_pattern,
)

ROOT = Path(__file__).resolve().parent
DEFAULT_DATA_DIR = ROOT / "data"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable and what it expects."""


@dataclass(frozen=True)
class Settings:
    demo: bool = False
    secret_key: str = ""
    database_url: str = ""
    data_dir: Path = DEFAULT_DATA_DIR
    process_manager_url: str = "localhost:10054"
    session_manager_url: str = "localhost:50000"
    controller_url: str = ""
    kafka_address: str = "localhost:9092"
    message_expire_secs: int = 1800
    # Kafka topics (a leading ^ makes an entry a regex) the message consumer subscribes to, and its group id
    kafka_broadcast_topics: tuple[str, ...] = ("^control\\..+",)
    kafka_ers_topics: tuple[str, ...] = ("monitoring.ers_stream", "^erscontrol\\..+")
    kafka_group_id: str = "runcontrol-ui"
    message_max_rows: int = 1_000_000
    demo_password: str = "demo"
    session_hours: float = 12.0
    # a session nobody has used (no open tab, no request) for this long is ended on the server
    session_idle_minutes: int = 60
    session_cookie_secure: bool = False
    trusted_proxies: int = 0
    # failed logins in the window: for one user from one address, from one address, for one user from anywhere
    login_max_failures: int = 5
    login_max_failures_per_address: int = 20
    login_max_failures_per_user: int = 100
    login_window_secs: int = 300
    log_level: str = "INFO"
    drunc_timeout: float = 5.0
    fsm_timeout: float = 120.0
    # druncschema layout of the controllers and the session manager: "auto" (detected per endpoint), "0.8"
    # (drunc 0.10.x) or "0.11" (drunc 0.13.2 / 0.14.0)
    drunc_schema: str = "auto"
    # child controller name -> address, for walking the tree below the root (an override of the connectivity
    # service's answer, for set-ups without one)
    controller_addresses: tuple[tuple[str, str], ...] = ()
    # Boot: drunc has no default log path (a process booted without one dies at once), so a blank log path
    # is derived from this directory and pattern (see drunc_client/log_paths.py).
    boot_log_dir: str = DEFAULT_LOG_DIR
    boot_log_pattern: str = DEFAULT_LOG_PATTERN
    # The Unix account the process runs as on the DAQ host (drunc ssh-es in as it). Not the web user's name:
    # web accounts are not Unix accounts there, and ssh fails (Permission denied, DEAD 255). The default is
    # the account running the web server: it exists, and a deployment usually runs the UI and drunc as its DAQ
    # account; set BOOT_DEFAULT_USER (e.g. np04daq) when it does not.
    boot_default_user: str = field(default_factory=lambda: _server_user() or "daq")
    # the DUNE-DAQ connectivity service, where controllers register themselves ("" = not used), and the
    # session whose controllers the UI shows by default (drunc_ui's names and default session)
    csc_url: str = ""
    csc_session: str = "local-1x1-config"

    @property
    def sqlite_path(self) -> Path | None:
        if self.database_url.startswith("sqlite:///"):
            return Path(self.database_url.removeprefix("sqlite:///"))
        return None

    def with_overrides(self, **changes) -> Settings:
        return replace(self, **changes)


# name -> (attribute, parser); the README's settings table documents the same list.
def _int(name: str, raw: str, minimum: int = 0) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {raw!r}")
    return value


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


_ADDRESS = re.compile(r"^[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


def _address(name: str, raw: str) -> str:
    value = raw.strip()
    for prefix in ("grpc://", "http://"):
        value = value.removeprefix(prefix)
    if not _ADDRESS.match(value):
        raise SettingsError(f"{name} must look like host:port, got {raw!r}")
    return value


_SESSION = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


def _csc_url(raw: str) -> str:
    """host:port or http(s)://host:port, kept as a base URL (drunc adds http:// when there is no scheme)."""
    value = raw.strip().rstrip("/")
    scheme = "https://" if value.startswith("https://") else "http://"
    if not _ADDRESS.match(value.removeprefix(scheme)):
        raise SettingsError(f"CSC_URL must look like host:port or http://host:port, got {raw!r}")
    return scheme + value.removeprefix(scheme)


def session_name(name: str, raw: str) -> str:
    value = raw.strip()
    if not _SESSION.match(value):
        raise SettingsError(f"{name} must be a drunc session name (letters, digits, '.', '_', '-'), got {raw!r}")
    return value


def _kafka(name: str, raw: str) -> str:
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts:
        raise SettingsError(f"{name} must list at least one host:port")
    return ",".join(_address(name, p) for p in parts)


def _topics(name: str, raw: str) -> tuple[str, ...]:
    """Comma-separated topic names or (with a leading ^) regular expressions, as librdkafka subscribes to them."""
    topics = tuple(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))
    if not topics:
        raise SettingsError(f"{name} must list at least one topic name or ^regex, comma-separated")
    for topic in topics:
        if topic.startswith("^"):
            try:
                re.compile(topic)
            except re.error as exc:
                raise SettingsError(f"{name}: {topic!r} is not a valid regular expression ({exc})") from None
        elif not re.fullmatch(r"[A-Za-z0-9._\-]{1,249}", topic):
            raise SettingsError(
                f"{name}: {topic!r} is not a Kafka topic name (letters, digits, '.', '_', '-'); "
                "start a regular expression with ^"
            )
    return topics


def _controller_addresses(raw: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in (p.strip() for p in raw.split(",") if p.strip()):
        name, sep, address = item.partition("@")
        if not sep or not name:
            raise SettingsError(f"CONTROLLER_ADDRESSES entries look like name@host:port, got {item!r}")
        pairs.append((name, _address("CONTROLLER_ADDRESSES", address)))
    return tuple(pairs)


_UNIX_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")


def _server_user() -> str:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        return ""
    return name if _UNIX_USER.match(name) else ""


def _boot_user(raw: str) -> str:
    value = raw.strip()
    if not _UNIX_USER.match(value):
        raise SettingsError(f"BOOT_DEFAULT_USER must be a Unix user name (letters, digits, _ . -; at most 32), "
                            f"got {raw!r}")
    return value


def _log_setting(name: str, check, raw: str) -> str:
    try:
        return check(raw.strip())
    except LogPathError as exc:
        raise SettingsError(f"{name} {exc}") from None


def _database_url(raw: str) -> str:
    value = raw.strip()
    # psycopg 3 is our PostgreSQL driver; accept the bare scheme a deployment is likely to paste.
    for bare in ("postgresql://", "postgres://"):
        if value.startswith(bare):
            return "postgresql+psycopg://" + value[len(bare):]
    if value.startswith(("sqlite:///", "postgresql+psycopg://")):
        return value
    raise SettingsError(
        "DATABASE_URL must start with sqlite:/// or postgresql:// "
        f"(for example postgresql://user:pass@host/dbname), got {raw!r}"
    )


def from_env(
    environ: Mapping[str, str] | None = None, *, demo: bool | None = None, require_secret: bool = True
) -> Settings:
    """Build the settings from the environment; demo mode adds embedded defaults.

    `require_secret=False` is for tools that never sign a cookie (the user-management CLI).
    """
    env = dict(os.environ if environ is None else environ)
    if demo is None:
        demo = _bool("RUNCONTROL_DEMO", env.get("RUNCONTROL_DEMO", "0"))

    data_dir = Path(env.get("DATA_DIR") or DEFAULT_DATA_DIR)
    values: dict = {"demo": demo, "data_dir": data_dir}

    secret = env.get("SECRET_KEY", "")
    if not secret:
        if not demo and require_secret:
            raise SettingsError(
                "SECRET_KEY is not set. Set it to a long random string, the same for every worker "
                "(for example: export SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))'))"
            )
        secret = _demo_secret(data_dir) if demo else ""
    elif len(secret) < 16 and not demo:
        raise SettingsError("SECRET_KEY is too short: use at least 16 random characters")
    values["secret_key"] = secret

    if env.get("DATABASE_URL"):
        values["database_url"] = _database_url(env["DATABASE_URL"])
    else:
        values["database_url"] = f"sqlite:///{data_dir / 'runcontrol.sqlite3'}"

    for var, attr in (
        ("PROCESS_MANAGER_URL", "process_manager_url"),
        ("SESSION_MANAGER_URL", "session_manager_url"),
    ):
        if env.get(var):
            values[attr] = _address(var, env[var])
    if env.get("CONTROLLER_URL"):
        values["controller_url"] = _address("CONTROLLER_URL", env["CONTROLLER_URL"])
    if env.get("KAFKA_ADDRESS"):
        values["kafka_address"] = _kafka("KAFKA_ADDRESS", env["KAFKA_ADDRESS"])
    if env.get("MESSAGE_EXPIRE_SECS"):
        values["message_expire_secs"] = _int("MESSAGE_EXPIRE_SECS", env["MESSAGE_EXPIRE_SECS"], 1)
    if env.get("KAFKA_BROADCAST_TOPICS"):
        values["kafka_broadcast_topics"] = _topics("KAFKA_BROADCAST_TOPICS", env["KAFKA_BROADCAST_TOPICS"])
    if env.get("KAFKA_ERS_TOPICS"):
        values["kafka_ers_topics"] = _topics("KAFKA_ERS_TOPICS", env["KAFKA_ERS_TOPICS"])
    if env.get("KAFKA_GROUP_ID"):
        group = env["KAFKA_GROUP_ID"].strip()
        if not group or len(group) > 255 or any(c.isspace() for c in group):
            raise SettingsError(f"KAFKA_GROUP_ID must be a name without spaces, got {env['KAFKA_GROUP_ID']!r}")
        values["kafka_group_id"] = group
    if env.get("MESSAGE_MAX_ROWS"):
        values["message_max_rows"] = _int("MESSAGE_MAX_ROWS", env["MESSAGE_MAX_ROWS"], 1)
    if "DEMO_PASSWORD" in env:
        if not env["DEMO_PASSWORD"]:
            raise SettingsError("DEMO_PASSWORD must not be empty")
        values["demo_password"] = env["DEMO_PASSWORD"]
    if env.get("SESSION_HOURS"):
        values["session_hours"] = _float("SESSION_HOURS", env["SESSION_HOURS"])
    if env.get("SESSION_IDLE_MINUTES"):
        values["session_idle_minutes"] = _int("SESSION_IDLE_MINUTES", env["SESSION_IDLE_MINUTES"], 1)
    if env.get("SESSION_COOKIE_SECURE"):
        values["session_cookie_secure"] = _bool("SESSION_COOKIE_SECURE", env["SESSION_COOKIE_SECURE"])
    if env.get("TRUSTED_PROXIES"):
        values["trusted_proxies"] = _int("TRUSTED_PROXIES", env["TRUSTED_PROXIES"])
    for var, attr in (
        ("LOGIN_MAX_FAILURES", "login_max_failures"),
        ("LOGIN_MAX_FAILURES_PER_ADDRESS", "login_max_failures_per_address"),
        ("LOGIN_MAX_FAILURES_PER_USER", "login_max_failures_per_user"),
    ):
        if env.get(var):
            values[attr] = _int(var, env[var], 1)
    if env.get("DRUNC_TIMEOUT_SECS"):
        values["drunc_timeout"] = _float("DRUNC_TIMEOUT_SECS", env["DRUNC_TIMEOUT_SECS"])
    if env.get("DRUNC_FSM_TIMEOUT_SECS"):
        values["fsm_timeout"] = _float("DRUNC_FSM_TIMEOUT_SECS", env["DRUNC_FSM_TIMEOUT_SECS"])
    if env.get("DRUNC_SCHEMA"):
        schema = env["DRUNC_SCHEMA"].strip().lower()
        if schema not in ("auto", "0.8", "0.11"):
            raise SettingsError(f"DRUNC_SCHEMA must be auto, 0.8 or 0.11, got {env['DRUNC_SCHEMA']!r}")
        values["drunc_schema"] = schema
    if env.get("CONTROLLER_ADDRESSES"):
        values["controller_addresses"] = _controller_addresses(env["CONTROLLER_ADDRESSES"])
    if env.get("BOOT_LOG_DIR"):
        values["boot_log_dir"] = _log_setting("BOOT_LOG_DIR", check_directory, env["BOOT_LOG_DIR"])
    if env.get("BOOT_LOG_PATTERN"):
        values["boot_log_pattern"] = _log_setting("BOOT_LOG_PATTERN", check_pattern, env["BOOT_LOG_PATTERN"])
    if env.get("BOOT_DEFAULT_USER"):
        values["boot_default_user"] = _boot_user(env["BOOT_DEFAULT_USER"])
    if env.get("CSC_URL"):
        values["csc_url"] = _csc_url(env["CSC_URL"])
    if env.get("CSC_SESSION"):
        values["csc_session"] = session_name("CSC_SESSION", env["CSC_SESSION"])
    if env.get("LOG_LEVEL"):
        level = env["LOG_LEVEL"].upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise SettingsError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {env['LOG_LEVEL']!r}")
        values["log_level"] = level
    return Settings(**values)


def _demo_secret(data_dir: Path) -> str:
    """A per-checkout secret for the demo, kept in the git-ignored data folder so restarts keep sessions."""
    import secrets

    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "demo-secret-key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
