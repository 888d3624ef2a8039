from pathlib import Path

import pytest

from settings import SettingsError, from_env


def test_production_needs_a_secret_key():
    with pytest.raises(SettingsError, match="SECRET_KEY is not set"):
        from_env({})


def test_production_refuses_a_short_secret_key():
    with pytest.raises(SettingsError, match="too short"):
        from_env({"SECRET_KEY": "short"})


def test_demo_generates_and_keeps_a_secret(tmp_path):
    first = from_env({"DATA_DIR": str(tmp_path)}, demo=True)
    second = from_env({"DATA_DIR": str(tmp_path)}, demo=True)
    assert first.secret_key and first.secret_key == second.secret_key
    assert first.database_url == f"sqlite:///{tmp_path / 'runcontrol.sqlite3'}"
    assert (Path(tmp_path) / "demo-secret-key").stat().st_mode & 0o077 == 0


def test_cli_may_run_without_a_secret():
    assert from_env({}, require_secret=False).secret_key == ""


def test_official_ui_names_are_read():
    s = from_env(
        {
            "SECRET_KEY": "x" * 32,
            "PROCESS_MANAGER_URL": "pm-host:10054",
            "SESSION_MANAGER_URL": "grpc://sm:50000",
            "KAFKA_ADDRESS": "k1:9092, k2:9092",
            "MESSAGE_EXPIRE_SECS": "600",
            "CONTROLLER_URL": "root:3333",
            "DATABASE_URL": "postgresql://u:p@db/rc",
        }
    )
    assert (s.process_manager_url, s.session_manager_url) == ("pm-host:10054", "sm:50000")
    assert s.controller_url == "root:3333"
    assert s.kafka_address == "k1:9092,k2:9092"
    assert s.message_expire_secs == 600
    assert s.database_url == "postgresql+psycopg://u:p@db/rc"


@pytest.mark.parametrize(
    "name,value,message",
    [
        ("MESSAGE_EXPIRE_SECS", "soon", "MESSAGE_EXPIRE_SECS must be a whole number"),
        ("MESSAGE_EXPIRE_SECS", "0", "at least 1"),
        ("PROCESS_MANAGER_URL", "no port", "host:port"),
        ("KAFKA_ADDRESS", ",", "at least one host:port"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL must start with"),
        ("SESSION_COOKIE_SECURE", "maybe", "true or false"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL"),
        ("SESSION_HOURS", "-1", "positive"),
    ],
)
def test_bad_values_name_the_variable(name, value, message):
    with pytest.raises(SettingsError, match=message):
        from_env({"SECRET_KEY": "x" * 32, name: value})
