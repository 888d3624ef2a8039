"""python -m drunc_client: a small operator CLI over the client layer (ps, boot, kill, restart, flush, logs,
status, fsm). Addresses default to PROCESS_MANAGER_URL / CONTROLLER_URL; errors are one line, never a trace."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from drunc_client.errors import DruncError


def table(rows: list[dict], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _process_rows(processes) -> list[dict]:
    return [
        {"uuid": p.uuid, "name": p.name, "user": p.user, "session": p.session, "host": p.hostname,
         "status": p.status, "exit": p.return_code if p.status == "DEAD" else "", "tree": p.tree_id}
        for p in processes
    ]


PROCESS_COLUMNS = ["uuid", "name", "user", "session", "host", "status", "exit", "tree"]


def _key_values(items: list[str], what: str) -> dict[str, str]:
    result = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DruncError(f"{what} must look like KEY=VALUE, got {item!r}")
        result[key] = value
    return result


def _fsm_value(raw: str):
    """CLI values are text; the client validates types against the transition's specs."""
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return raw


def _print_tree(node, depth: int = 0) -> None:
    status = node.status
    if status is None:
        state = f"unreachable: {node.error}" if node.error else "unknown"
    elif status.unreachable:
        # drunc's fallback for a child it cannot reach says included = false: that is not an exclusion.
        state = f"unreachable: {node.error}" if node.error else "unreachable"
    else:
        flags = [f for f, on in (("IN ERROR", status.in_error), ("excluded", not status.included)) if on]
        idle = not status.sub_state or status.sub_state in (status.state, "idle")
        sub = "" if idle else f" ({status.sub_state})"
        state = f"{status.state}{sub}" + (f"  [{', '.join(flags)}]" if flags else "")
    print(f"{'  ' * depth}{node.name:<{max(8, 40 - 2 * depth)}} {state}")
    for child in node.children:
        _print_tree(child, depth + 1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m drunc_client", description=__doc__)
    parser.add_argument("--pm", default=os.environ.get("PROCESS_MANAGER_URL", "localhost:10054"),
                        help="process manager address (default $PROCESS_MANAGER_URL or localhost:10054)")
    parser.add_argument("--controller", default=os.environ.get("CONTROLLER_URL", "localhost:3333"),
                        help="root controller address (default $CONTROLLER_URL or localhost:3333)")
    parser.add_argument("--controllers", default=os.environ.get("CONTROLLER_ADDRESSES", ""),
                        metavar="NAME@ADDR,...",
                        help="child controller addresses for walking the tree (default $CONTROLLER_ADDRESSES)")
    parser.add_argument("--user", default=getpass.getuser(), help="user name sent in the drunc token")
    parser.add_argument("--timeout", type=float, default=5.0, help="deadline per call in seconds (default 5)")
    sub = parser.add_subparsers(dest="command", required=True)

    ps = sub.add_parser("ps", help="list processes")
    ps.add_argument("--session", default="")
    ps.add_argument("--name", action="append", default=[], help="name regex (repeatable)")
    ps.add_argument("--uuid", action="append", default=[])

    boot = sub.add_parser("boot", help="boot one process: boot --name N --session S -- EXEC [ARGS...]")
    boot.add_argument("--name", required=True)
    boot.add_argument("--session", required=True)
    boot.add_argument("--process-user", default=None,
                      help="Unix account on the host that runs the process over ssh (default $BOOT_DEFAULT_USER, "
                           "else --user)")
    boot.add_argument("--host", action="append", default=[], help="allowed host (repeatable; default localhost)")
    boot.add_argument("--env", action="append", default=[], help="KEY=VALUE (repeatable)")
    boot.add_argument("--cwd", default="")
    boot.add_argument("--log", default=None,
                      help="log file path (default: $BOOT_LOG_PATTERN in $BOOT_LOG_DIR, "
                           "e.g. /tmp/log_USER_SESSION_NAME_TIME.log; drunc has no default of its own)")
    boot.add_argument("--tree-id", default="")
    boot.add_argument("command_line", nargs=argparse.REMAINDER, help="-- EXEC ARGS...")

    for name, text in (("kill", "kill processes"), ("flush", "remove dead processes")):
        p = sub.add_parser(name, help=text)
        p.add_argument("uuids", nargs="*")
        p.add_argument("--name", action="append", default=[], help="name regex (repeatable)")

    restart = sub.add_parser("restart", help="restart one process (same uuid)")
    restart.add_argument("uuid")

    logs = sub.add_parser("logs", help="print the last lines of a process's log")
    logs.add_argument("uuid")
    logs.add_argument("--lines", type=int, default=100)

    sub.add_parser("status", help="the controller tree with each node's state")

    fsm = sub.add_parser("fsm", help="list transitions allowed now, or run one: fsm start run_number=12")
    fsm.add_argument("transition", nargs="?")
    fsm.add_argument("arguments", nargs="*", help="NAME=VALUE")
    fsm.add_argument("--take-control", action="store_true", help="take control first")
    return parser


def run(args) -> int:
    from drunc_client.process_manager import BootSpec, ProcessManagerClient

    pm = ProcessManagerClient(args.pm, args.user, timeout=args.timeout)
    if args.command == "ps":
        print(table(_process_rows(pm.ps(uuids=args.uuid, names=args.name, session=args.session)), PROCESS_COLUMNS))
    elif args.command == "boot":
        command = [c for c in args.command_line if c != "--"] if args.command_line else []
        if not command:
            raise DruncError("boot needs the command to run after --, e.g. boot --name x --session s -- sleep 60")
        user = args.process_user or os.environ.get("BOOT_DEFAULT_USER", "").strip() or args.user
        log_path = _boot_log_path(args, user) if args.log is None else args.log
        spec = BootSpec(name=args.name, user=user, session=args.session,
                        executable=command[0], arguments=tuple(command[1:]),
                        environment=_key_values(args.env, "--env"), working_directory=args.cwd,
                        log_path=log_path, allowed_hosts=tuple(args.host or ["localhost"]), tree_id=args.tree_id)
        print(table(_process_rows([pm.boot(spec)]), PROCESS_COLUMNS))
    elif args.command in ("kill", "flush"):
        if not args.uuids and not args.name:
            raise DruncError(f"{args.command} needs at least one uuid or --name")
        method = pm.kill if args.command == "kill" else pm.flush
        print(table(_process_rows(method(uuids=args.uuids, names=args.name)), PROCESS_COLUMNS))
    elif args.command == "restart":
        print(table(_process_rows([pm.restart(args.uuid)]), PROCESS_COLUMNS))
    elif args.command == "logs":
        if not 1 <= args.lines <= 100_000:
            raise DruncError("--lines must be between 1 and 100000")
        for line in pm.logs(args.uuid, lines=args.lines, timeout=args.timeout):
            print(line)
    elif args.command == "status":
        _print_tree(_controller(args).tree())
    elif args.command == "fsm":
        controller = _controller(args)
        if args.take_control:
            controller.take_control()
        if not args.transition:
            for spec in controller.describe_fsm():
                arguments = ", ".join(
                    f"{a.name}:{a.type}{'' if a.mandatory else '?'}" for a in spec.arguments
                )
                print(f"{spec.name}({arguments})")
            return 0
        values = {k: _fsm_value(v) for k, v in _key_values(args.arguments, "transition arguments").items()}
        result = controller.execute(args.transition, values)
        _print_result(result)
        if not result.ok:
            print(f"FAILED: {result.summary()}")
            return 1
        return 0
    return 0


def _boot_log_path(args, user: str) -> str:
    """drunc has no default log path (a process booted without one dies at once): derive one, as the web UI does."""
    from drunc_client import log_paths

    checks = (("BOOT_LOG_DIR", log_paths.DEFAULT_LOG_DIR, log_paths.check_directory),
              ("BOOT_LOG_PATTERN", log_paths.DEFAULT_LOG_PATTERN, log_paths.check_pattern))
    values = []
    for variable, default, check in checks:
        try:
            values.append(check(os.environ.get(variable, "").strip() or default))
        except log_paths.LogPathError as exc:
            raise DruncError(f"{variable} {exc}; fix it, or give the log path with --log") from None
    directory, pattern = values
    try:
        return log_paths.derive_log_path(pattern, directory, session=args.session, name=args.name, user=user)
    except log_paths.LogPathError as exc:
        raise DruncError(f"{exc}; give the log path with --log") from None


def _controller(args):
    from drunc_client.controller import ControllerClient

    children = {}
    for item in (p.strip() for p in args.controllers.split(",") if p.strip()):
        name, sep, address = item.partition("@")
        if not sep or not name or not address:
            raise DruncError(f"--controllers entries look like name@host:port, got {item!r}")
        children[name] = address
    return ControllerClient(args.controller, args.user, timeout=args.timeout, child_addresses=children)


def _print_result(result, depth: int = 0) -> None:
    outcome = result.fsm_flag or result.flag
    text = f"  {result.text.strip().splitlines()[-1]}" if result.text.strip() else ""
    print(f"{'  ' * depth}{result.name}: {outcome}{text}")
    for child in result.children:
        _print_result(child, depth + 1)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except DruncError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
