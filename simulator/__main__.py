"""python -m simulator: serve a simulated drunc until SIGTERM or SIGINT, then stop every child process."""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
import threading
from pathlib import Path

from simulator.run import SimulatorConfig, start_simulator


def _tree(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if not match or not (1 <= int(match.group(1)) <= 100 and 1 <= int(match.group(2)) <= 100):
        raise argparse.ArgumentTypeError(f"expected SEGMENTSxAPPS with 1..100 each, e.g. 2x3, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"ports are 0..65535 (0 = any free port), got {value}")
    return value


def _count(limit: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not 0 <= value <= limit:
            raise argparse.ArgumentTypeError(f"must be between 0 and {limit}, got {value}")
        return value

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="A drunc 0.10.x simulator: process manager, controller tree and session manager over real "
        "gRPC, with Kafka broadcasts and ERS issues.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--pm-port", type=_port, default=10054, help="process manager port (default 10054)")
    parser.add_argument("--controller-port", type=_port, default=3333,
                        help="root controller port (default 3333); child controllers take the next ports")
    parser.add_argument("--session-manager-port", type=_port, default=50000,
                        help="session manager port (default 50000)")
    parser.add_argument("--connectivity-port", type=_port, default=None,
                        help="serve a look-alike DUNE-DAQ connectivity service on this port, where the controllers "
                        "register themselves every 2 s (0 = any free port; default: none)")
    parser.add_argument("--connectivity-ttl", type=float, default=10.0,
                        help="seconds a connectivity entry lives without a new publish (default 10)")
    parser.add_argument("--kafka", default="none", metavar="BOOTSTRAP|none",
                        help="Kafka bootstrap address for broadcasts and ERS, or none (default none)")
    parser.add_argument("--processes", type=_count(10_000), default=0,
                        help="processes to start with (real: up to a few dozen; --virtual: up to 10000)")
    parser.add_argument("--virtual", action="store_true", help="simulate processes in memory, no OS processes")
    parser.add_argument("--churn", type=float, default=0.0,
                        help="virtual mode: chance per process per second of dying and being restarted")
    parser.add_argument("--tree", type=_tree, default=(2, 2), metavar="SEGMENTSxAPPS",
                        help="controller tree: segment controllers x applications each (default 2x2)")
    parser.add_argument("--session", default="demo-session", help="DAQ session name (default demo-session)")
    parser.add_argument("--transition-seconds", type=float, default=0.5,
                        help="how long each FSM transition takes (default 0.5)")
    parser.add_argument("--ers-period", type=float, default=0.0,
                        help="seconds between simulated ERS issues (needs --kafka; default 0 = none)")
    parser.add_argument("--log-dir", type=Path, default=None, help="where process logs go (default a temp dir)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for churn and ERS issues")
    parser.add_argument("--schema", choices=("0.8", "0.11"), default="0.8",
                        help="druncschema layout of the process manager, controllers and session manager: "
                        "0.8 (drunc 0.10.x) or 0.11 (drunc 0.13.2 / 0.14.0); default 0.8")
    parser.add_argument("--drunc-bugs", action="store_true",
                        help="reproduce the drunc bugs of that release (0.11: named-key describe_fsm, "
                        "recompute_status on a leaf, the surrender text, the unusable session manager)")
    parser.add_argument("--exit-with-parent", type=int, default=None, metavar="PID",
                        help="stop when process PID ends (the demo passes its own pid)")
    args = parser.parse_args(argv)
    if args.processes > 200 and not args.virtual:
        parser.error("more than 200 real processes: use --virtual for scale tests")
    if not 0.0 <= args.churn <= 1.0:
        parser.error("--churn is a probability between 0 and 1")
    if args.connectivity_ttl <= 0:
        parser.error("--connectivity-ttl must be positive")
    if args.transition_seconds < 0 or args.ers_period < 0:
        parser.error("durations cannot be negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    segments, apps = args.tree
    config = SimulatorConfig(
        host=args.host, pm_port=args.pm_port, controller_port=args.controller_port,
        session_manager_port=args.session_manager_port,
        kafka=None if args.kafka.strip().lower() == "none" else args.kafka.strip(),
        processes=args.processes, virtual=args.virtual, churn=args.churn, segments=segments, apps=apps,
        seed=args.seed, session=args.session, transition_seconds=args.transition_seconds, log_dir=args.log_dir,
        ers_period=args.ers_period, connectivity_port=args.connectivity_port, connectivity_ttl=args.connectivity_ttl,
        schema=args.schema, bugs=args.drunc_bugs,
    )
    try:
        sim = start_simulator(config)
    except OSError as exc:
        print(f"error: {exc} (is another simulator or drunc already running? pick other ports)", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"process manager   {sim.addresses['process_manager']}")
    print(f"root controller   {sim.addresses['controller']}")
    for name, address in sim.controller_addresses.items():
        if address != sim.addresses["controller"]:
            print(f"  controller      {address}  {name}")
    print(f"session manager   {sim.addresses['session_manager']}")
    print(f"kafka             {config.kafka or 'none'}")
    if "connectivity" in sim.addresses:
        print(f"connectivity      http://{sim.addresses['connectivity']}  session {config.session}")
    # One machine-readable line for scripts and tests. The controller list is for set-ups without the
    # connectivity service (CONTROLLER_ADDRESSES); with it, clients resolve the controllers by session name.
    controllers = ",".join(f"{name}@{address}" for name, address in sim.controller_addresses.items())
    print("READY " + " ".join(f"{k}={v}" for k, v in sim.addresses.items()) + f" controllers={controllers}"
          + f" session={config.session} schema={config.schema}",
          flush=True)
    if args.exit_with_parent:
        threading.Thread(target=_watch_parent, args=(args.exit_with_parent, stop), daemon=True).start()
    try:
        stop.wait()
    finally:
        sim.stop()
    return 0


def _watch_parent(pid: int, stop: threading.Event) -> None:
    import os

    while not stop.wait(1.0):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            stop.set()
        except PermissionError:
            pass


if __name__ == "__main__":
    sys.exit(main())
