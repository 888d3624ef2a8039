"""The web worker's end of its job runner: start it (a fresh interpreter, never a fork of the worker), ask it to
start jobs, restart it when it has died, stop it.

One runner per worker process, joined by a socketpair: nothing on disk to elect, lock, authenticate or clean up,
and the runner exits as soon as its worker does (end of file on the socket). Jobs are the runner's children
and outlive both: a worker restart never cuts a transition short.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from auth.actions import UserError
from job_runner import wire

log = logging.getLogger("runcontrol.jobs")

ROOT = Path(__file__).resolve().parents[1]  # where app.py is: the runner imports the worker's own code
READY_TIMEOUT = 90.0  # importing the app and building it, on a loaded host
REPLY_TIMEOUT = 30.0  # a fork and a pid


class JobRunnerError(UserError):
    """The job was not started (or may not have been): the message says why, in the operator's toast."""


class RunnerClient:
    def __init__(self, settings, *, ready_timeout: float = READY_TIMEOUT):
        self._settings = settings
        self._ready_timeout = ready_timeout
        self._lock = threading.Lock()  # one request and its reply at a time on the socket
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def ensure_started(self) -> int:
        with self._lock:
            return self._ensure_started()

    def start_job(self, registry_key: str, result_key: str, progress_key: str, args, context) -> int:
        """Start the job in a child of the runner and return its pid; JobRunnerError if it did not start."""
        message = ("job", registry_key, result_key, progress_key, args, context)
        with self._lock:
            for attempt in (1, 2):
                self._ensure_started()
                try:
                    wire.send(self._sock, message)
                except OSError:
                    # Nothing reached the runner (it died since the last job): start a fresh one, send again.
                    self._discard()
                    if attempt == 2:
                        raise JobRunnerError("the job runner is not running; the job was not started") from None
                    continue
                break
            try:
                reply = wire.receive(self._sock)
            except (OSError, wire.RunnerGone, wire.BadMessage) as exc:
                # The request was sent: the job may have started, so it is never sent twice.
                self._discard()
                raise JobRunnerError(f"the job runner did not answer ({exc}); check the audit trail before "
                                     "running it again") from None
        kind, value = reply
        if kind != "started":
            raise JobRunnerError(str(value))
        return int(value)

    def close(self) -> None:
        """Stop the runner (its running jobs carry on)."""
        with self._lock:
            self._discard()

    # ------------------------------------------------------------------------------------------------ internals

    def _ensure_started(self) -> int:
        if self._proc is not None and self._proc.poll() is None and self._sock is not None:
            return self._proc.pid
        if self._proc is not None:
            log.warning("the job runner (pid %d) exited with %s; starting another", self._proc.pid,
                        self._proc.returncode)
        self._discard()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # No preexec_fn: the child of a threaded, gRPC-using process runs no Python before exec. A new
            # session: a Ctrl-C meant for the server's terminal does not reach the runner and its jobs.
            proc = subprocess.Popen(
                [sys.executable, "-m", "job_runner", "--fd", str(theirs.fileno()),
                 "--exit-with-parent", str(os.getpid())],
                cwd=ROOT, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            ours.close()
            log.error("cannot start the job runner: %s", exc)
            raise JobRunnerError(f"cannot start the job runner: {exc}") from None
        finally:
            theirs.close()
        self._proc, self._sock = proc, ours
        try:
            ours.settimeout(self._ready_timeout)
            wire.send(ours, ("settings", self._settings))
            kind, value = wire.receive(ours)
            ours.settimeout(REPLY_TIMEOUT)
        except (OSError, wire.RunnerGone, wire.BadMessage) as exc:
            kind, value = "error", str(exc)
        if kind != "ready":
            self._discard()
            log.error("the job runner did not start: %s", value)
            raise JobRunnerError(f"the job runner did not start: {value}")
        log.info("job runner started (pid %d)", proc.pid)
        return proc.pid

    def _discard(self) -> None:
        sock, proc = self._sock, self._proc
        self._sock = self._proc = None
        if sock is not None:
            sock.close()  # the runner reads end of file and exits
        if proc is not None:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
