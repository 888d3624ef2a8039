"""python -m drunc_client: an operator CLI over the client layer (ps, boot, kill, restart, flush, terminate, logs,
describe, status, fsm, sequence, who, take-control, surrender, include, exclude). Addresses default to
PROCESS_MANAGER_URL / SESSION_MANAGER_URL; controllers are found through the connectivity service (CSC_URL,
--session) unless CONTROLLER_URL / --controller names the root. --schema (DRUNC_SCHEMA) picks the druncschema
layout: auto (detected per server), 0.8 (drunc 0.10.x) or 0.11 (drunc 0.13.2 / 0.14.0). Errors are one line,
never a trace."""

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
    parser.add_argument("--controller", default=os.environ.get("CONTROLLER_URL", ""),
                        help="root controller address, overriding the connectivity service (default $CONTROLLER_URL;"
                        " localhost:3333 when neither it nor --csc is set)")
    parser.add_argument("--controllers", default=os.environ.get("CONTROLLER_ADDRESSES", ""),
                        metavar="NAME@ADDR,...",
                        help="child controller addresses for walking the tree (default $CONTROLLER_ADDRESSES)")
    parser.add_argument("--sm", default=os.environ.get("SESSION_MANAGER_URL", "localhost:50000"),
                        help="session manager address (default $SESSION_MANAGER_URL or localhost:50000)")
    parser.add_argument("--csc", default=os.environ.get("CSC_URL", ""), metavar="HOST:PORT",
                        help="connectivity service where controllers register (default $CSC_URL)")
    parser.add_argument("--session", dest="csc_session", default=None, metavar="SESSION",
                        help="find this session's controllers through the connectivity service "
                        "(default $CSC_SESSION or local-1x1-config; needs --csc)")
    parser.add_argument("--user", default=getpass.getuser(), help="user name sent in the drunc token")
    parser.add_argument("--timeout", type=float, default=5.0, help="deadline per call in seconds (default 5)")
    parser.add_argument("--schema", default=os.environ.get("DRUNC_SCHEMA", "auto"), metavar="auto|0.8|0.11",
                        help="druncschema layout of the servers: auto (detected per server), 0.8 (drunc 0.10.x) or "
                        "0.11 (drunc 0.13.2 / 0.14.0); default $DRUNC_SCHEMA or auto")
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
    _add_protocol_commands(sub)
    return parser


def _add_protocol_commands(sub) -> None:
    describe = sub.add_parser("describe", help="describe each service (or one): pm, controller, sm, connectivity")
    describe.add_argument("service", nargs="?", default="all",
                          choices=["all", "pm", "controller", "sm", "connectivity"])

    terminate = sub.add_parser("terminate", help="kill EVERY process of the process manager (needs --yes)")
    terminate.add_argument("--yes", action="store_true", help="confirm: every process is killed")

    sequence = sub.add_parser("sequence", help="run a standard sequence: sequence start_run run_number=12")
    sequence.add_argument("sequence", choices=["start_run", "stop_run", "shutdown"])
    sequence.add_argument("arguments", nargs="*", help="NAME=VALUE")
    sequence.add_argument("--take-control", action="store_true", help="take control first")

    for name, text in (("who", "who is in control of a controller"),
                       ("take-control", "become the actor of a controller and its descendants"),
                       ("surrender", "give up control of a controller"),
                       ("include", "include a controller and its descendants"),
                       ("exclude", "exclude a controller and its descendants")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--node", default="", metavar="CONTROLLER",
                       help="a child controller by name (default the root)")
        if name in ("include", "exclude"):
            p.add_argument("--take-control", action="store_true", help="take control first")


def run(args) -> int:
    from drunc_client.process_manager import BootSpec, ProcessManagerClient

    pm = ProcessManagerClient(args.pm, args.user, timeout=args.timeout, schema=args.schema)
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
    elif args.command in PROTOCOL_COMMANDS:
        return PROTOCOL_COMMANDS[args.command](args)
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


def _controller(args, node: str = ""):
    """The root controller (or the child controller `node`): --controller when given without --session, else
    resolved by session through the connectivity service, else localhost:3333."""
    from drunc_client.controller import ControllerClient

    client = _backends(args).controller(args.user, timeout=args.timeout, session=_session(args))
    if not node:
        return client
    address = client.child_addresses.get(node)
    if address is None:
        known = ", ".join(sorted(client.child_addresses)) or "none known"
        raise DruncError(f"no address for controller {node!r} ({known}); give --controllers or --csc")
    return ControllerClient(address, args.user, timeout=args.timeout, child_addresses=client.child_addresses,
                            schema=args.schema, layouts=client.layouts)


def _child_addresses(args) -> dict[str, str]:
    children = {}
    for item in (p.strip() for p in args.controllers.split(",") if p.strip()):
        name, sep, address = item.partition("@")
        if not sep or not name or not address:
            raise DruncError(f"--controllers entries look like name@host:port, got {item!r}")
        children[name] = address
    return children


def _session(args) -> str | None:
    """The session to resolve through the connectivity service; None when the controller is given directly."""
    if args.controller and args.csc_session is None:
        return None
    if not args.csc:
        if args.csc_session is not None:
            raise DruncError("--session needs the connectivity service: give --csc HOST:PORT or set CSC_URL")
        return None
    return args.csc_session or os.environ.get("CSC_SESSION") or "local-1x1-config"


def _backends(args):
    from drunc_client.backends import DruncBackends

    session = _session(args)
    return DruncBackends(
        process_manager_url=args.pm, session_manager_url=args.sm, timeout=args.timeout,
        controller_url="" if session else (args.controller or "localhost:3333"),
        controller_addresses=_child_addresses(args),
        csc_url=args.csc if session else "", csc_session=session or "local-1x1-config", schema=args.schema,
    )


# ---------------------------------------------------------------------------------------------------------------
# Protocol commands: describe, terminate, sequence, who, take-control, surrender, include, exclude


def _describe_cmd(args) -> int:
    from drunc_client.connectivity import ConnectivityClient
    from drunc_client.process_manager import ProcessManagerClient
    from drunc_client.session_manager import SessionManagerClient

    def pm():
        d = ProcessManagerClient(args.pm, args.user, timeout=args.timeout, schema=args.schema).describe()
        kafka = f"  kafka {d.kafka_address} topic {d.topic}" if d.kafka_address else ""
        log = [f"  log: {d.info}"] if d.info else []
        return [f"process manager  {args.pm}  schema {d.layout}  name {d.name}  session {d.session or '-'}{kafka}",
                *log, f"  commands: {', '.join(d.commands)}"]

    def sm():
        client = SessionManagerClient(args.sm, args.user, timeout=args.timeout, schema=args.schema)
        d = client.describe()
        kafka = f"  kafka {d.kafka_address} topic {d.topic}" if d.kafka_address else ""
        return [f"session manager  {args.sm}  schema {client.layout}  name {d.name}  session {d.session or '-'}"
                f"{kafka}", f"  commands: {', '.join(d.commands)}"]

    def controller():
        client = _controller(args)
        described = client.describe()
        return [f"controller       {client.address}  schema {client.layout}", *_described(described)]

    def connectivity():
        session = _session(args)
        if not session:
            raise DruncError("no connectivity service: give --csc HOST:PORT or set CSC_URL")
        found = ConnectivityClient(args.csc).controllers(session)
        lines = [f"connectivity     {found.service}  session {session}: {len(found.controllers)} controller(s)"]
        if found.root is None:
            lines.append("  root-controller is not registered in the connectivity service")
        lines += [f"  {name:<32} {address}" for name, address in sorted(found.controllers.items())]
        return lines

    services = {"pm": pm, "controller": controller, "sm": sm, "connectivity": connectivity}
    if args.service != "all":
        print("\n".join(services[args.service]()))
        return 0
    if not _session(args):
        services.pop("connectivity")
    code = 0
    for name, describe in services.items():
        try:
            print("\n".join(describe()))
        except DruncError as exc:
            print(f"{name}: down: {exc}")
            code = 1
    return code


def _described(description, depth: int = 1) -> list[str]:
    if description.error:
        what = f"error: {description.error}"
    else:
        session = f"  session {description.session}" if description.session else ""
        what = f"{description.type or '?'}{session}  {len(description.commands)} commands"
    lines = [f"{'  ' * depth}{description.name:<{max(8, 40 - 2 * depth)}} {what}"]
    for child in description.children:
        lines += _described(child, depth + 1)
    return lines


def _terminate_cmd(args) -> int:
    from drunc_client.process_manager import ProcessManagerClient

    if not args.yes:
        raise DruncError(f"terminate kills every process of the process manager at {args.pm}: add --yes to confirm")
    pm = ProcessManagerClient(args.pm, args.user, timeout=args.timeout, schema=args.schema)
    print(table(_process_rows(pm.terminate()), PROCESS_COLUMNS))
    return 0


def _sequence_cmd(args) -> int:
    controller = _controller(args)
    if args.take_control:
        controller.take_control()
    values = {k: _fsm_value(v) for k, v in _key_values(args.arguments, "sequence arguments").items()}

    def show(step):
        if step.skipped:
            print(f"{step.transition}: skipped (not offered in this state)")
        elif step.error is None:
            print(f"{step.transition}: ok")
        else:
            print(f"{step.transition}: FAILED  {step.error}")

    steps = controller.run_sequence(args.sequence, values, on_step=show)
    return 0 if all(step.ok for step in steps) else 1


def _who_cmd(args) -> int:
    actor = _controller(args, args.node).who_is_in_charge()
    print(actor or "(nobody)")
    return 0


def _take_control_cmd(args) -> int:
    result = _controller(args, args.node).take_control()
    _print_result(result)
    return 0 if result.ok else 1


def _surrender_cmd(args) -> int:
    controller = _controller(args, args.node)
    controller.surrender_control()
    print(f"surrendered control of {controller.address}")
    return 0


def _include_exclude_cmd(args) -> int:
    controller = _controller(args, args.node)
    if args.take_control:
        controller.take_control()
    result = controller.include() if args.command == "include" else controller.exclude()
    _print_result(result)
    return 0 if result.ok else 1


PROTOCOL_COMMANDS = {
    "describe": _describe_cmd, "terminate": _terminate_cmd, "sequence": _sequence_cmd, "who": _who_cmd,
    "take-control": _take_control_cmd, "surrender": _surrender_cmd, "include": _include_exclude_cmd,
    "exclude": _include_exclude_cmd,
}


def _print_result(result, depth: int = 0) -> None:
    outcome = result.fsm_flag or result.flag
    text = f"  {result.text.strip().splitlines()[-1]}" if result.text.strip() else ""
    print(f"{'  ' * depth}{result.name}: {outcome}{text}")
    for child in result.children:
        _print_result(child, depth + 1)


def _schema(value: str) -> str:
    from drunc_client.layouts import check_schema

    try:
        return check_schema(value)
    except DruncError as exc:
        raise DruncError(f"--schema (default $DRUNC_SCHEMA): {exc}") from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.schema = _schema(args.schema)
        return run(args)
    except DruncError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
