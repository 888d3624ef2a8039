"""`python -m job_runner --fd N`: the job runner a web worker starts for itself (see client.py); not for operators.

It reads the app's settings from the socket, builds the same app with create_app (nothing in the factory polls or
calls drunc: pollers start on the first read of a tab and channels on the first call), and then, single-threaded
and without ever touching gRPC, forks one child per job it is sent. A child runs the job function the runner's
own app registered under the same key as the worker's (dash's background-callback registry) and exits; the
runner answers with the child's pid, so dash's job_running / terminate_job by pid work as before.
It exits when the worker closes the socket or exits, or on SIGTERM; running jobs carry on.
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import socket
import sys
import threading

from job_runner import wire

log = logging.getLogger("runcontrol.jobs")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m job_runner",
                                     description="Run the UI's background jobs (started by a web worker).")
    parser.add_argument("--fd", type=int, required=True, help="the socket inherited from the worker")
    parser.add_argument("--exit-with-parent", type=int, default=None, metavar="PID",
                        help="stop when process PID is no longer the parent")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sock = socket.socket(fileno=args.fd)
    try:
        kind, settings = wire.receive(sock)
    except (OSError, wire.RunnerGone, wire.BadMessage) as exc:
        print(f"error: job runner: no settings from the worker ({exc})", file=sys.stderr)
        return 2
    try:
        manager = build(settings)
    except Exception as exc:  # noqa: BLE001 - the worker shows it in the operator's toast
        log.exception("the job runner could not build the app")
        wire.send(sock, ("error", f"the job runner could not build the app: {type(exc).__name__}: {exc}"))
        return 2
    hazard = fork_hazard()
    if hazard:
        wire.send(sock, ("error", f"the job runner is not safe to fork from: {hazard}"))
        return 2
    wire.send(sock, ("ready", os.getpid()))
    serve(sock, manager, args.exit_with_parent)
    return 0


def build(settings):
    """The app's background-callback manager, its registry filled by the same create_app as the worker's."""
    from app import create_app

    app = create_app(settings)
    # The migrations left pooled connections: none may cross a fork.
    app.server.extensions["runcontrol.services"].db.dispose()
    return app._background_manager


def fork_hazard() -> str:
    """Why forking now would be unsafe ("" when it is safe): another thread (gRPC's own threads are native
    ones, so the kernel's count is used), or a gRPC channel in this process."""
    from drunc_client import transport

    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:  # not Linux
        threads = threading.active_count()
    if threads != 1:
        return f"{threads} threads"
    if transport._channels:
        return "a gRPC channel was opened"
    return ""


def serve(sock: socket.socket, manager, parent: int | None) -> None:
    stopping = []
    signal.signal(signal.SIGCHLD, lambda *_: reap())
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    while not stopping:
        readable, _, _ = select.select([sock], [], [], 1.0)
        reap()
        if parent is not None and os.getppid() != parent:
            log.warning("job runner: worker %d exited; stopping", parent)
            return
        if not readable:
            continue
        try:
            message = wire.receive(sock)
        except wire.RunnerGone:
            return  # the worker closed the socket or exited
        except wire.BadMessage as exc:
            reply = ("error", f"the job runner could not read the job: {exc}")
        else:
            reply = start(sock, manager, message)
        try:
            wire.send(sock, reply)
        except OSError:
            return  # the worker is gone; the job, if started, carries on


def start(sock: socket.socket, manager, message) -> tuple[str, object]:
    kind, registry_key, result_key, progress_key, args, context = message
    job_fn = manager.func_registry.get(registry_key)
    if job_fn is None:
        return "error", ("the job runner does not know this callback (was the app updated since the worker "
                         "started? restart the server)")
    hazard = fork_hazard()
    if hazard:
        return "error", f"the job runner is not safe to fork from: {hazard}"
    pid = os.fork()
    if pid == 0:
        run_child(sock, job_fn, result_key, progress_key, args, context)
    return "started", pid


def run_child(sock: socket.socket, job_fn, result_key, progress_key, args, context) -> None:
    """In the job's process: run the job, never return to the runner's loop."""
    code = 1
    try:
        sock.close()
        for sig in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        job_fn(result_key, progress_key, args, context)
        code = 0
    except BaseException:  # noqa: BLE001 - job_fn stores the callback's own errors; this is the rest
        log.exception("background job %s failed", result_key)
    finally:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


def reap() -> None:
    """Collect finished jobs, so none stays a zombie (dash reads a zombie as finished anyway)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


if __name__ == "__main__":
    sys.exit(main())
