"""The user-management CLI (manage.py): every command, its audit events and every error path, in-process."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

import manage
from services import Services
from settings import Settings
from store import UserRepository
from store.users import would_lock_out

ROOT = Path(manage.__file__).resolve().parent
# Everything settings.from_env reads, so the developer's own environment cannot leak into a test.
SETTINGS_VARS = (
    "RUNCONTROL_DEMO", "SECRET_KEY", "DATABASE_URL", "DATA_DIR", "PROCESS_MANAGER_URL", "SESSION_MANAGER_URL",
    "CONTROLLER_URL", "KAFKA_ADDRESS", "MESSAGE_EXPIRE_SECS", "DEMO_PASSWORD", "SESSION_HOURS",
    "SESSION_COOKIE_SECURE", "TRUSTED_PROXIES", "LOGIN_MAX_FAILURES", "LOG_LEVEL", "SESSION_IDLE_MINUTES",
    "LOGIN_MAX_FAILURES_PER_ADDRESS", "LOGIN_MAX_FAILURES_PER_USER",
    "BOOT_LOG_DIR", "BOOT_LOG_PATTERN", "BOOT_DEFAULT_USER",
)
PASSWORD = "correct-horse-1"
OTHER_PASSWORD = "battery-staple-2"


@pytest.fixture
def db_url(tmp_path, monkeypatch):
    for var in SETTINGS_VARS:
        monkeypatch.delenv(var, raising=False)
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(manage.getpass, "getuser", lambda: "tester")
    monkeypatch.setattr(manage.getpass, "getpass", _no_prompt)
    return url


def _no_prompt(prompt=""):
    raise AssertionError(f"unexpected password prompt {prompt!r}")


@pytest.fixture
def run(db_url, capsys, monkeypatch):
    """run(*argv, stdin=None) -> (exit code, stdout, stderr)."""

    def _run(*argv: str, stdin: str | None = None):
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = manage.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return _run


@pytest.fixture
def store(db_url):
    """The same database, opened the way the app opens it, to check what the CLI did."""
    services = Services.from_settings(Settings(database_url=db_url))
    yield services
    services.db.dispose()


@pytest.fixture
def prompts(monkeypatch):
    """prompts(*answers) makes getpass return these answers in turn; returns the list of prompts shown."""

    def _set(*answers: str) -> list[str]:
        shown: list[str] = []
        pending = list(answers)

        def fake(prompt=""):
            shown.append(prompt)
            return pending.pop(0)

        monkeypatch.setattr(manage.getpass, "getpass", fake)
        return shown

    return _set


def create(run, name: str, *roles: str, password: str = PASSWORD):
    argv = ["users", "create", name, "--password-stdin"]
    for role in roles:
        argv += ["--role", role]
    code, out, err = run(*argv, stdin=password + "\n")
    assert code == 0, err
    return out


def events(store, action: str | None = None):
    """Audit events, oldest first."""
    return list(reversed(store.audit.query(action=action or "user")))


def assert_error(result, *fragments: str, code: int = 2):
    rc, out, err = result
    assert rc == code, (out, err)
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, f"not one line: {err!r}"
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err


# -- migrate and listing ------------------------------------------------------------------------------------
def test_migrate_on_an_empty_database_prints_the_revision(run, store):
    code, out, err = run("migrate")
    assert code == 0, err
    assert "revision 0008" in out
    assert store.db.current_revision() == "0008"
    assert {r.name for r in store.users.list_roles()} == {"admin", "expert", "shifter", "viewer"}


def test_migrate_twice_is_harmless(run):
    assert run("migrate")[0] == 0
    assert run("migrate")[0] == 0


def test_users_list_on_an_empty_database(run):
    code, out, err = run("users", "list")
    assert code == 0, err
    assert "no users yet" in out


def test_users_list_shows_a_table(run):
    create(run, "alice", "admin")
    create(run, "bob", "viewer", "shifter")
    run("users", "disable", "bob")
    code, out, _ = run("users", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["USER", "ACTIVE", "ROLES"]
    assert lines[1].split() == ["alice", "yes", "admin"]
    assert lines[2].split() == ["bob", "no", "shifter,", "viewer"]


def test_roles_list_shows_every_role_with_its_permissions(run):
    code, out, err = run("roles", "list")
    assert code == 0, err
    for role in ("admin:", "expert:", "shifter:", "viewer:"):
        assert role in out
    admin_block = out.split("\n\n")[0]
    assert admin_block.startswith("admin:")
    assert "users.admin" in admin_block
    viewer_block = out.split("viewer:")[1]
    assert viewer_block.split("\n")[1].strip() == "view"


def test_the_cli_never_seeds_demo_users(run, monkeypatch):
    monkeypatch.setenv("RUNCONTROL_DEMO", "1")
    code, out, _ = run("users", "list")
    assert code == 0
    assert "no users yet" in out


# -- create -------------------------------------------------------------------------------------------------
def test_create_with_password_stdin_and_roles(run, store):
    out = create(run, "alice", "viewer", "shifter")
    assert "created user alice" in out
    info = store.users.verify("alice", PASSWORD)
    assert info is not None and info.roles == ("shifter", "viewer")


def test_password_stdin_reads_one_line_without_its_line_ending(run, store):
    code, _, err = run("users", "create", "alice", "--password-stdin", stdin=PASSWORD + "\r\nsecond line\n")
    assert code == 0, err
    assert store.users.verify("alice", PASSWORD)


def test_create_asks_twice_without_password_stdin(run, store, prompts):
    shown = prompts(PASSWORD, PASSWORD)
    code, _, err = run("users", "create", "alice", "--role", "admin")
    assert code == 0, err
    assert len(shown) == 2 and "alice" in shown[0]
    assert store.users.verify("alice", PASSWORD).roles == ("admin",)


def test_create_refuses_mismatched_passwords(run, store, prompts):
    prompts(PASSWORD, OTHER_PASSWORD)
    assert_error(run("users", "create", "alice"), "passwords do not match")
    assert store.users.get("alice") is None


def test_create_without_a_terminal_or_password_stdin(run, store, monkeypatch):
    def closed(prompt=""):
        raise EOFError

    monkeypatch.setattr(manage.getpass, "getpass", closed)
    assert_error(run("users", "create", "alice"), "--password-stdin")
    assert store.users.get("alice") is None


def test_create_an_existing_user_fails_before_asking_for_a_password(run):
    create(run, "alice")
    assert_error(run("users", "create", "alice"), "'alice' already exists")


def test_create_with_an_unknown_role_fails_before_asking_for_a_password(run, store):
    result = run("users", "create", "alice", "--role", "wizard")
    assert_error(result, "no role named 'wizard'", "admin, expert, shifter, viewer")
    assert store.users.get("alice") is None


def test_create_with_a_bad_name(run):
    assert_error(run("users", "create", "_x", "--password-stdin", stdin=PASSWORD), "user names are")
    assert_error(run("users", "create", "a b", "--password-stdin", stdin=PASSWORD), "user names are")


def test_create_with_a_short_or_empty_password(run, store):
    assert_error(run("users", "create", "alice", "--password-stdin", stdin="abc\n"), "at least 4 characters")
    assert_error(run("users", "create", "alice", "--password-stdin", stdin=""), "at least 4 characters")
    assert store.users.get("alice") is None


def test_interrupting_the_prompt_changes_nothing(run, store, monkeypatch):
    def interrupted(prompt=""):
        raise KeyboardInterrupt

    monkeypatch.setattr(manage.getpass, "getpass", interrupted)
    code, _, err = run("users", "create", "alice")
    assert code == 130
    assert "Traceback" not in err
    assert store.users.get("alice") is None


# -- set-password -------------------------------------------------------------------------------------------
def test_set_password_from_stdin(run, store):
    create(run, "alice")
    code, out, err = run("users", "set-password", "alice", "--password-stdin", stdin=OTHER_PASSWORD + "\n")
    assert code == 0, err
    assert "password set for alice" in out
    assert store.users.verify("alice", OTHER_PASSWORD)
    assert not store.users.verify("alice", PASSWORD)


def test_set_password_asks_twice(run, store, prompts):
    create(run, "alice")
    shown = prompts(OTHER_PASSWORD, OTHER_PASSWORD)
    assert run("users", "set-password", "alice")[0] == 0
    assert len(shown) == 2
    assert store.users.verify("alice", OTHER_PASSWORD)


def test_set_password_mismatch_keeps_the_old_password(run, store, prompts):
    create(run, "alice")
    prompts(OTHER_PASSWORD, "typo")
    assert_error(run("users", "set-password", "alice"), "do not match")
    assert store.users.verify("alice", PASSWORD)


def test_set_password_for_an_unknown_user_fails_before_asking(run):
    assert_error(run("users", "set-password", "ghost"), "no user named 'ghost'")


def test_set_password_too_short(run, store):
    create(run, "alice")
    assert_error(run("users", "set-password", "alice", "--password-stdin", stdin="abc\n"), "at least 4")
    assert store.users.verify("alice", PASSWORD)


# -- grant, revoke, disable, enable -------------------------------------------------------------------------
def test_grant_and_revoke(run, store):
    create(run, "alice")
    code, out, err = run("users", "grant", "alice", "expert")
    assert code == 0, err
    assert "granted expert to alice" in out
    assert store.users.get("alice").roles == ("expert",)
    code, out, err = run("users", "revoke", "alice", "expert")
    assert code == 0, err
    assert "revoked expert from alice" in out
    assert store.users.get("alice").roles == ()


@pytest.mark.parametrize("action", ["grant", "revoke"])
def test_grant_and_revoke_errors(run, action):
    create(run, "alice")
    assert_error(run("users", action, "alice", "wizard"), "no role named 'wizard'")
    assert_error(run("users", action, "ghost", "viewer"), "no user named 'ghost'")


def test_disable_and_enable(run, store):
    create(run, "alice", "viewer")
    code, out, err = run("users", "disable", "alice")
    assert code == 0, err
    assert "disabled alice" in out
    assert store.users.verify("alice", PASSWORD) is None
    code, out, err = run("users", "enable", "alice")
    assert code == 0, err
    assert "enabled alice" in out
    assert store.users.verify("alice", PASSWORD) is not None


def test_end_sessions_password_and_disable_log_the_user_out(run, store):
    create(run, "alice", "shifter")
    alice = store.users.get("alice").id
    tokens = [store.login_sessions.start(alice) for _ in range(2)]
    code, out, err = run("users", "end-sessions", "alice")
    assert code == 0, err
    assert "ended 2 open sessions of alice" in out
    assert all(store.login_sessions.load(alice, t) is None for t in tokens)
    [event] = events(store, "user.end_sessions")
    assert (event.username, event.target, event.outcome) == ("cli:tester", "alice", "ok")
    for argv, stdin in ((("users", "set-password", "alice", "--password-stdin"), OTHER_PASSWORD + "\n"),
                        (("users", "disable", "alice"), None)):
        token = store.login_sessions.start(alice)
        assert run(*argv, stdin=stdin)[0] == 0
        assert store.login_sessions.load(alice, token) is None, argv


@pytest.mark.parametrize("action", ["disable", "enable", "end-sessions"])
def test_disable_and_enable_an_unknown_user(run, action):
    assert_error(run("users", action, "ghost"), "no user named 'ghost'")


# -- the last administrator ---------------------------------------------------------------------------------
def test_the_last_admin_cannot_be_disabled_or_lose_the_admin_role(run, store):
    create(run, "alice", "admin", "viewer")
    assert_error(run("users", "disable", "alice"), "alice is the last active user with users.admin")
    assert_error(run("users", "revoke", "alice", "admin"), "alice is the last active user with users.admin")
    info = store.users.get("alice")
    assert info.active and "admin" in info.roles
    # Roles that do not carry users.admin can still go.
    assert run("users", "revoke", "alice", "viewer")[0] == 0


def test_with_a_second_admin_the_first_can_go(run, store):
    create(run, "alice", "admin")
    create(run, "bob", "admin")
    assert run("users", "revoke", "alice", "admin")[0] == 0
    assert_error(run("users", "disable", "bob"), "bob is the last active user")
    create(run, "carol", "admin")
    assert run("users", "disable", "bob")[0] == 0
    assert not store.users.get("bob").active


def test_a_disabled_admin_does_not_count(run):
    create(run, "alice", "admin")
    create(run, "bob", "admin")
    assert run("users", "disable", "bob")[0] == 0
    assert_error(run("users", "revoke", "alice", "admin"), "last active user")


def test_would_lock_out_takes_the_permission_name(run, store):
    create(run, "alice", "expert")
    assert would_lock_out(store.users, "alice", permission="session.manage")
    assert not would_lock_out(store.users, "alice")  # alice never had users.admin
    assert would_lock_out(store.users, "alice", revoke_role="expert", permission="session.manage")
    assert not would_lock_out(store.users, "ghost", permission="session.manage")


# -- the audit trail ----------------------------------------------------------------------------------------
def test_every_change_is_audited(run, store):
    create(run, "alice", "admin")
    create(run, "bob")
    run("users", "set-password", "bob", "--password-stdin", stdin=OTHER_PASSWORD)
    run("users", "grant", "bob", "viewer")
    run("users", "revoke", "bob", "viewer")
    run("users", "disable", "bob")
    run("users", "enable", "bob")
    got = [(e.username, e.action, e.target, e.arguments, e.outcome) for e in events(store)]
    assert got == [
        ("cli:tester", "user.create", "alice", {"roles": ["admin"]}, "ok"),
        ("cli:tester", "user.create", "bob", {"roles": []}, "ok"),
        ("cli:tester", "user.set_password", "bob", None, "ok"),
        ("cli:tester", "user.grant", "bob", {"role": "viewer"}, "ok"),
        ("cli:tester", "user.revoke", "bob", {"role": "viewer"}, "ok"),
        ("cli:tester", "user.disable", "bob", None, "ok"),
        ("cli:tester", "user.enable", "bob", None, "ok"),
    ]


@pytest.mark.parametrize(
    ("argv", "action", "detail"),
    [
        (["users", "create", "alice"], "user.create", "already exists"),
        (["users", "set-password", "ghost"], "user.set_password", "no user named 'ghost'"),
        (["users", "grant", "alice", "wizard"], "user.grant", "no role named 'wizard'"),
        (["users", "revoke", "alice", "admin"], "user.revoke", "last active user"),
        (["users", "disable", "alice"], "user.disable", "last active user"),
        (["users", "enable", "ghost"], "user.enable", "no user named 'ghost'"),
    ],
)
def test_failed_changes_are_audited_with_the_error(run, store, argv, action, detail):
    create(run, "alice", "admin")
    assert run(*argv)[0] == 2
    event = events(store, action)[-1]
    assert (event.username, event.outcome, event.target) == ("cli:tester", "failed", argv[2])
    assert detail in event.detail


def test_listing_writes_no_audit_event(run, store):
    run("users", "list")
    run("roles", "list")
    run("migrate")
    assert events(store) == []


def test_no_password_ever_reaches_the_audit_trail(run, store, prompts):
    create(run, "alice", "admin", password="first-secret-1")
    run("users", "set-password", "alice", "--password-stdin", stdin="second-secret-2\n")
    run("users", "create", "bob", "--password-stdin", stdin="abc\n")  # too short: failed
    prompts("third-secret-3", "fourth-secret-4")
    run("users", "create", "bob")  # mismatch: failed
    prompts("fifth-secret-5", "fifth-secret-5")
    run("users", "set-password", "alice")
    with store.db.engine.connect() as conn:
        rows = [tuple(map(str, row)) for row in conn.execute(text("SELECT * FROM audit_events"))]
    assert len(rows) == 5
    dump = "\n".join("\t".join(row) for row in rows)
    for secret in ("first-secret-1", "second-secret-2", "abc", "third-secret-3", "fourth-secret-4",
                   "fifth-secret-5"):
        assert secret not in dump


# -- settings and database errors ---------------------------------------------------------------------------
def test_a_secret_key_is_not_needed(run, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    assert run("users", "list")[0] == 0


def test_an_unsupported_database_url(run, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    assert_error(run("users", "list"), "DATABASE_URL must start with sqlite:/// or postgresql://", "'mysql://x'")


def test_another_bad_setting(run, monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "loud")
    assert_error(run("migrate"), "LOG_LEVEL must be")


def test_a_sqlite_file_that_cannot_be_opened(run, tmp_path, monkeypatch):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{folder}")
    assert_error(run("users", "list"), "cannot use the database", "unable to open database file")


def test_a_sqlite_folder_that_cannot_be_created(run, tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'a-file' / 'x.sqlite3'}")
    assert_error(run("users", "list"), "cannot use the database")


def test_an_unreachable_postgresql_server_hides_the_password(run, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://runcontrol:pg-secret-9@127.0.0.1:1/runcontrol")
    rc, out, err = run("users", "list")
    assert_error((rc, out, err), "cannot use the database postgresql+psycopg://runcontrol:***@127.0.0.1:1")
    assert "pg-secret-9" not in err


def test_a_database_error_during_a_change_is_reported(run, monkeypatch):
    create(run, "alice")

    def broken(*args, **kwargs):
        raise OperationalError("UPDATE users", {}, Exception("database is locked\nmore detail"))

    monkeypatch.setattr(UserRepository, "set_active", broken)
    assert_error(run("users", "disable", "alice"), "cannot use the database", "database is locked")


# -- argparse and the real command --------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [[], ["users"], ["users", "grant", "alice"], ["roles", "drop"], ["bogus"]])
def test_usage_errors_are_argparse_errors(run, argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        manage.main(argv)
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_help_documents_the_exit_status(capsys):
    with pytest.raises(SystemExit) as exit_info:
        manage.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "exit status" in out and "DATABASE_URL" in out


def test_runs_as_a_real_command(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    env["DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "manage.py", "users", "list"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "no users yet" in result.stdout
    assert result.stderr == ""
