"""User management and database upkeep from the command line (installed as `runcontrol-admin`).

    python manage.py migrate
    python manage.py users list
    python manage.py users create NAME [--role ROLE ...] [--password-stdin]
    python manage.py users set-password NAME [--password-stdin]
    python manage.py users grant NAME ROLE        python manage.py users revoke NAME ROLE
    python manage.py users disable NAME           python manage.py users enable NAME
    python manage.py users end-sessions NAME      (log the user out of every browser now)
    python manage.py roles list

Settings come from the environment like the web app's (DATABASE_URL above all; SECRET_KEY is not needed).
Every command first brings the database up to date, so it works on an empty one. Every change is written to
the audit trail as `cli:<login name>`; passwords never are. docs/cli.md has examples.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import textwrap
from collections.abc import Callable

from alembic.util.exc import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

import settings as settings_module
from services import Services
from settings import SettingsError
from store import InvalidInput, UnknownRole, UnknownUser, UserExists
from store.users import validate_username, would_lock_out

ADMIN = "users.admin"
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

EPILOG = """\
settings: DATABASE_URL (default: a SQLite file in DATA_DIR, which defaults to the data folder of this
checkout); SECRET_KEY is not needed. Every command migrates the database first.

exit status: 0 on success; 2 on any error (a bad setting, an unknown user or role, a refused change, an
unreachable database, a command-line mistake), with a one-line "error: ..." on stderr; 130 when interrupted.
"""


class CliError(Exception):
    """A refusal or a mistake the CLI reports as one line; nothing was changed."""


# -- entry point ---------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    services: Services | None = None
    url = ""
    try:
        settings = settings_module.from_env(demo=False, require_secret=False)
        url = settings.database_url
        services = Services.from_settings(settings)
        services.prepare()
        return args.handler(services, args)
    except (SettingsError, InvalidInput, CliError) as exc:
        return _fail(str(exc))
    except OperationalError as exc:
        return _fail(f"cannot use the database {_safe_url(url)}: {_first_line(exc.orig or exc)}")
    except CommandError as exc:
        return _fail(f"cannot migrate the database {_safe_url(url)}: {_first_line(exc)}")
    except (SQLAlchemyError, ArgumentError) as exc:
        return _fail(f"database error on {_safe_url(url)}: {_first_line(getattr(exc, 'orig', None) or exc)}")
    except OSError as exc:  # e.g. the folder for a SQLite file cannot be created
        return _fail(f"cannot use the database {_safe_url(url)}: {exc}")
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if services is not None:
            services.db.dispose()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runcontrol-admin",
        description="Manage the run-control UI's users, roles and database.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    migrate = commands.add_parser("migrate", help="apply the database migrations and print the revision")
    migrate.set_defaults(handler=cmd_migrate)

    users = commands.add_parser("users", help="list, create and change user accounts").add_subparsers(
        dest="users_command", required=True, metavar="ACTION"
    )
    users.add_parser("list", help="every user with status and roles").set_defaults(handler=cmd_users_list)

    create = users.add_parser("create", help="create a user (asks for the password twice)")
    create.add_argument("name")
    create.add_argument("--role", action="append", default=[], metavar="ROLE",
                        help="give the user this role; repeat for several (see `roles list`)")
    _password_stdin(create)
    create.set_defaults(handler=cmd_users_create)

    set_password = users.add_parser("set-password", help="set a user's password (asks for it twice)")
    set_password.add_argument("name")
    _password_stdin(set_password)
    set_password.set_defaults(handler=cmd_users_set_password)

    for action, handler, text in (
        ("grant", cmd_users_grant, "give a user a role"),
        ("revoke", cmd_users_revoke, "take a role from a user (refused for the last active administrator)"),
    ):
        sub = users.add_parser(action, help=text)
        sub.add_argument("name")
        sub.add_argument("role")
        sub.set_defaults(handler=handler)

    for action, handler, text in (
        ("disable", cmd_users_disable, "stop a user logging in (refused for the last active administrator)"),
        ("enable", cmd_users_enable, "let a disabled user log in again"),
        ("end-sessions", cmd_users_end_sessions, "log a user out of every browser now"),
    ):
        sub = users.add_parser(action, help=text)
        sub.add_argument("name")
        sub.set_defaults(handler=handler)

    roles = commands.add_parser("roles", help="list the roles").add_subparsers(
        dest="roles_command", required=True, metavar="ACTION"
    )
    roles.add_parser("list", help="every role with its permissions").set_defaults(handler=cmd_roles_list)
    return parser


def _password_stdin(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input instead of asking")


# -- commands ------------------------------------------------------------------------------------------------
def cmd_migrate(services: Services, _args) -> int:
    print(f"database {_safe_url(services.db.url)} is at revision {services.db.current_revision()}")
    return 0


def cmd_users_list(services: Services, _args) -> int:
    accounts = services.users.list_users()
    if not accounts:
        print("no users yet (create one with: users create NAME --role admin)")
        return 0
    rows = [(u.username, "yes" if u.active else "no", ", ".join(u.roles) or "-") for u in accounts]
    print(_table(("USER", "ACTIVE", "ROLES"), rows))
    return 0


def cmd_users_create(services: Services, args) -> int:
    users = services.users

    def create() -> str:
        name = validate_username(args.name)
        if users.get(name) is not None:  # say so before asking for a password that would be thrown away
            raise UserExists(f"user {name!r} already exists")
        known = sorted(r.name for r in users.list_roles())
        for role in args.role:
            if role.strip() not in known:
                raise UnknownRole(f"no role named {role!r} (roles: {', '.join(known)})")
        info = users.create_user(name, _read_password(args, name), args.role)
        return f"created user {info.username} (roles: {', '.join(info.roles) or 'none'})"

    return _audited(services, "user.create", args.name, {"roles": list(args.role)}, create)


def cmd_users_set_password(services: Services, args) -> int:
    users = services.users

    def set_password() -> str:
        if users.get(args.name.strip()) is None:  # say so before asking for the password
            raise UnknownUser(f"no user named {args.name!r}")
        users.set_password(args.name, _read_password(args, args.name.strip()))
        return f"password set for {args.name}"

    return _audited(services, "user.set_password", args.name, None, set_password)


def cmd_users_grant(services: Services, args) -> int:
    def grant() -> str:
        info = services.users.grant(args.name, args.role)
        return f"granted {args.role} to {info.username} (roles: {', '.join(info.roles)})"

    return _audited(services, "user.grant", args.name, {"role": args.role}, grant)


def cmd_users_revoke(services: Services, args) -> int:
    def revoke() -> str:
        if would_lock_out(services.users, args.name, revoke_role=args.role, permission=ADMIN):
            raise CliError(_last_admin(args.name))
        info = services.users.revoke(args.name, args.role)
        return f"revoked {args.role} from {info.username} (roles: {', '.join(info.roles) or 'none'})"

    return _audited(services, "user.revoke", args.name, {"role": args.role}, revoke)


def cmd_users_disable(services: Services, args) -> int:
    def disable() -> str:
        if would_lock_out(services.users, args.name, permission=ADMIN):
            raise CliError(_last_admin(args.name))
        services.users.set_active(args.name, False)
        return f"disabled {args.name}"

    return _audited(services, "user.disable", args.name, None, disable)


def cmd_users_enable(services: Services, args) -> int:
    def enable() -> str:
        services.users.set_active(args.name, True)
        return f"enabled {args.name}"

    return _audited(services, "user.enable", args.name, None, enable)


def cmd_users_end_sessions(services: Services, args) -> int:
    def end_sessions() -> str:
        ended = services.users.end_sessions(args.name)
        return f"ended {ended} open session{'' if ended == 1 else 's'} of {args.name.strip()}"

    return _audited(services, "user.end_sessions", args.name, None, end_sessions)


def cmd_roles_list(services: Services, _args) -> int:
    for i, role in enumerate(services.users.list_roles()):
        if i:
            print()
        print(f"{role.name}: {role.description}" if role.description else role.name)
        perms = ", ".join(role.permissions) or "(no permissions)"
        print(textwrap.fill(perms, width=100, initial_indent="  ", subsequent_indent="  "))
    return 0


# -- helpers -------------------------------------------------------------------------------------------------
def _audited(
    services: Services, action: str, target: str, arguments: dict | None, change: Callable[[], str]
) -> int:
    """Run one change and write its audit event, ok or failed; the error propagates to main()."""
    who = f"cli:{_login_name()}"
    try:
        message = change()
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        detail = _first_line(getattr(exc, "orig", None) or exc)
        try:
            services.audit.record(
                who, action, target=target, arguments=arguments, outcome="failed", detail=detail
            )
        except SQLAlchemyError:
            pass  # the database itself is what failed; main() reports that
        raise
    services.audit.record(who, action, target=target, arguments=arguments, outcome="ok")
    print(message)
    return 0


def _read_password(args, name: str) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    try:
        first = getpass.getpass(f"Password for {name}: ")
        second = getpass.getpass("Repeat the password: ")
    except EOFError:
        raise CliError("no password given (input closed); use --password-stdin to pipe one in") from None
    if first != second:
        raise CliError("the two passwords do not match; nothing was changed")
    return first


def _last_admin(name: str) -> str:
    return f"{name} is the last active user with {ADMIN}: give it to someone else first; nothing was changed"


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no USER/LOGNAME and no passwd entry (some containers)
        return "unknown"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=False)]
    lines = ("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in (header, *rows))
    return "\n".join(line.rstrip() for line in lines)


def _safe_url(url: str) -> str:
    """The database URL without its password, fit for an error message."""
    if not url:
        return "(not configured)"
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"


def _first_line(exc: BaseException | str) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
