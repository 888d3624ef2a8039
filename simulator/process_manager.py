"""A process manager that behaves like drunc 0.10.x's SSH process manager (protocol spec sections 6 and 9.2).

Real mode runs every booted process as a local `bash -c` chain in its own process group (the SSH PM runs
the same chain through `ssh host`), so only hosts naming this machine can be used. Virtual mode keeps
in-memory processes only: large, realistic process tables for demos and load tests, with optional churn.

Behaviour reproduced on purpose (section 14): OR query matching including the empty-string pitfall; `kill`
removes from `ps`; `terminate` ignores its (required) query; `restart` keeps the uuid and fails with flag 7
after `kill`; `boot` returns a single ProcessInstance; `logs` streams one Response per line and needs exactly
one match; a dotted `tree_id` is always set; `Description.session` is the Unix user; an empty
`process_logs_path` is not defaulted: drunc runs `{ <chain> ; } &> ` and bash refuses the line (syntax error
near `newline', exit code 2), so the boot answers RUNNING and the process is DEAD with exit code 2 an instant
later, the bash error being what `logs` returns (drunc's `tail` of "" fails and it reads the process's output).

Deliberate differences: the `logs` blocking hazard of 9.2.6 is not reproduced (a missing log file gives
flag 6 with an explanation); `LogLine.line` carries no line terminator; processes matched by one `kill` are
signalled together rather than one `kill_timeout` after the other, and whatever is left of a process group
after kill_timeout gets the SIGKILL (drunc's ssh hang-up does that job); an unusable host is refused with
flag 6 instead of a boot that dies later; the exit broadcast says "exit code 0" where drunc says "None";
SERVER_READY is left to whoever starts the gRPC server (simulator.run).

Return codes: bash 5.1+ execs the last command of the chain, so a single executable is the group leader and
a kill usually reports -3 (SIGQUIT), as observed with drunc. A leader that survives SIGQUIT (bash itself
always ignores it) is SIGKILLed after kill_timeout and reports -9.
"""

from __future__ import annotations

import atexit
import getpass
import ipaddress
import os
import random
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
import uuid as uuidlib
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from drunc_client.generated.druncschema import broadcast_pb2, request_response_pb2
from drunc_client.generated.druncschema import process_manager_pb2 as pm
from drunc_client.generated.druncschema import process_manager_pb2_grpc as pm_grpc
from simulator.rpc import DruncException, F, respond, stacktrace_of, traced, unpack_request

RUNNING = pm.ProcessInstance.RUNNING
DEAD = pm.ProcessInstance.DEAD
# A boot without a log path: bash's answer to drunc's `{ chain ; } &> ` (what real mode gets from bash itself)
NO_LOG_PATH_EXIT = 2
NO_LOG_PATH_OUTPUT = ["bash: -c: line 1: syntax error near unexpected token `newline'"]
_LIST_TYPE_URL = f"type.googleapis.com/{pm.ProcessInstanceList.DESCRIPTOR.full_name}"
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "127.0.0.1", "::1", "ip6-localhost"}

COMMANDS = (
    request_response_pb2.CommandDescription(
        name="describe", data_type=["None"],
        help="Describe self (return a list of commands, the type of endpoint, the name and session).",
        return_type="request_response_pb2.Description"),
    request_response_pb2.CommandDescription(
        name="kill", data_type=["process_manager_pb2.ProcessQuery"],
        help="Kill listed process from the process query input (can be multiple).",
        return_type="process_manager_pb2.ProcessInstanceList"),
    request_response_pb2.CommandDescription(
        name="restart", data_type=["process_manager_pb2.ProcessQuery"],
        help="Restart the process from the process query (which must correspond to one process).",
        return_type="process_manager_pb2.ProcessInstance"),
    request_response_pb2.CommandDescription(
        name="boot", data_type=["generic_pb2.BootRequest", "None"], help="Start a process.",
        return_type="process_manager_pb2.ProcessInstance"),
    request_response_pb2.CommandDescription(
        name="terminate", data_type=["process_manager_pb2.ProcessQuery"], help="Kill all processes in session.",
        return_type="process_manager_pb2.ProcessInstanceList"),
    request_response_pb2.CommandDescription(
        name="flush", data_type=["process_manager_pb2.ProcessQuery"],
        help="Remove the processes from the list that are dead",
        return_type="process_manager_pb2.ProcessInstanceList"),
    request_response_pb2.CommandDescription(
        name="logs", data_type=["process_manager_pb2.LogRequest"],
        help="Returns the logs from the process ( must correspond to one process). Note this is an ASYNC function",
        return_type="process_manager_pb2.LogLine"),
    request_response_pb2.CommandDescription(
        name="ps", data_type=["process_manager_pb2.ProcessQuery"],
        help="Get the status of the listed process from the process query input (can be multiple).",
        return_type="process_manager_pb2.ProcessInstance"),
)

# Exit codes a virtual process dies with under churn: errors, SIGABRT, SIGSEGV, SIGKILL, ssh's 255.
_CHURN_EXIT_CODES = (1, 2, -6, -9, -11, 255)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _double_quoted(value: str) -> str:
    """drunc writes `export K="V"`: keep $-expansion, but do not let a quote in V break the chain."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", part) or "_"


def shell_chain(description: pm.ProcessDescription) -> str:
    """The command chain of 9.2.2: banner, exports, cd, then each `exec args...`, joined with ';'.

    Arguments are joined unquoted, as drunc does: the shell interprets them (drunc's remote shell does too).
    """
    parts = ['echo "SSHPM: Starting process $$ on host $HOSTNAME as user $USER"']
    parts += [f'export {key}="{_double_quoted(value)}"' for key, value in description.env.items()]
    parts.append(f"cd {shlex.quote(description.process_execution_directory)}")
    for step in description.executable_and_arguments:
        parts.append(" ".join([step.exec, *step.args]))
    return " ; ".join(parts)


def tail_lines(path: Path, count: int) -> list[str]:
    """The last `count` lines of a file, without line terminators (what `tail -<count>` prints)."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        position = handle.tell()
        data = b""
        while position > 0 and data.count(b"\n") <= count:
            step = min(65536, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    lines = data.splitlines()
    return [line.decode("utf-8", errors="replace") for line in lines[-count:]]


def live_process_groups() -> set[int] | None:
    """Process groups that have a member which is not a zombie (None where /proc is unavailable)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    groups: set[int] = set()
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # state, ppid, pgrp, ...
        if len(fields) > 2 and fields[0] != "Z":
            groups.add(int(fields[2]))
    return groups


def group_alive(pgid: int, groups: set[int] | None = None) -> bool:
    """Whether a process group still has a member that is not a zombie (zombies cannot be killed anyway)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    groups = live_process_groups() if groups is None else groups
    return True if groups is None else pgid in groups


@dataclass
class _Process:
    uuid: str
    boot: pm.BootRequest  # as stored by the PM: uuid, hostname, tree_id and working directory set (not the log)
    status: int = RUNNING
    return_code: int = 0
    popen: subprocess.Popen | None = None
    started: float = 0.0
    framed: bytes | None = None  # cached `values` entry of a ProcessInstanceList (tag + length + instance)

    @property
    def meta(self) -> pm.ProcessMetadata:
        return self.boot.process_description.metadata

    def instance(self) -> pm.ProcessInstance:
        return pm.ProcessInstance(
            process_description=self.boot.process_description,
            process_restriction=self.boot.process_restriction,
            status_code=self.status,
            return_code=self.return_code,
            uuid=pm.ProcessUUID(uuid=self.uuid),
        )

    def list_entry(self) -> bytes:
        if self.framed is None:
            blob = self.instance().SerializeToString()
            self.framed = b"\x0a" + _varint(len(blob)) + blob
        return self.framed

    def set_state(self, status: int, return_code: int) -> None:
        self.status = status
        self.return_code = return_code
        self.framed = None


_live_servicers: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for servicer in list(_live_servicers):
        servicer.close()


class ProcessManagerServicer(pm_grpc.ProcessManagerServicer):
    """drunc 0.10.x's SSH process manager, on this machine only (or entirely in memory with `virtual=True`)."""

    name = "process_manager"

    def __init__(self, *, session: str | None = None, broadcaster, log_dir: Path, hostname: str | None = None,
                 kill_timeout: float = 0.5, virtual: bool = False, churn: float = 0.0, seed: int | None = None):
        self.session = session if session is not None else getpass.getuser()
        self.broadcaster = broadcaster
        self.log_dir = Path(log_dir)
        self.hostname = hostname or socket.gethostname()
        self.kill_timeout = kill_timeout
        self.virtual = virtual
        self.churn = churn
        self.random = random.Random(seed)
        self._lock = threading.RLock()
        self._processes: dict[str, _Process] = {}  # drunc's process_store: what ps sees
        self._boot_requests: dict[str, pm.BootRequest] = {}  # kept after kill, as drunc does
        self._children: list[subprocess.Popen] = []
        self._infra_counter = 0
        self._closed = threading.Event()
        self._churn_thread: threading.Thread | None = None
        if not virtual:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        _live_servicers.add(self)
        if virtual and churn > 0:
            self._churn_thread = threading.Thread(target=self._churn_loop, name="pm-churn", daemon=True)
            self._churn_thread.start()
        # SERVER_READY ("ready") is for whoever starts the gRPC server to emit once it listens (simulator.run).

    # ----------------------------------------------------------------------------------------------- plumbing

    def add_to_server(self, server) -> None:
        pm_grpc.add_ProcessManagerServicer_to_server(self, server)

    def close(self) -> None:
        """Stop churn and SIGKILL every process group this servicer started that still has members."""
        self._closed.set()
        with self._lock:
            children = list(self._children)
            self._children.clear()
        doomed = [p for p in children if p.returncode is None or group_alive(p.pid)]
        for popen in doomed:
            self._signal_group(popen, signal.SIGKILL)
        for popen in doomed:
            try:
                popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self._churn_thread is not None:
            self._churn_thread.join(timeout=2)

    def _emit(self, btype: int, text: str) -> None:
        self.broadcaster.emit(self.name, self.session, btype, text)

    # ------------------------------------------------------------------------------------------------ queries

    @staticmethod
    def _matcher(query: pm.ProcessQuery):
        """9.2.1: OR over uuid, name regex (re.search), exact session, exact user. "" matches "" too."""
        uuids = {u.uuid for u in query.uuids}
        names = [re.compile(n) for n in query.names]
        user, session = query.user, query.session

        def matches(uuid: str, meta: pm.ProcessMetadata) -> bool:
            return (uuid in uuids or meta.session == session or meta.user == user
                    or any(n.search(meta.name) for n in names))

        return matches

    def _match(self, query: pm.ProcessQuery) -> list[str]:
        matches = self._matcher(query)
        return [u for u, p in self._processes.items() if matches(u, p.meta)]

    @staticmethod
    def _ensure_one(uuids: list[str]) -> str:
        if not uuids:
            raise DruncException("The process corresponding to the query doesn't exist")
        if len(uuids) > 1:
            raise DruncException("There are more than 1 processes corresponding to the query")
        return uuids[0]

    # ------------------------------------------------------------------------------------------------ rpcs

    @traced("describe")
    def describe(self, request, context):
        description = request_response_pb2.Description(
            type="process_manager", name=self.name, session=self.session or "no_session", commands=COMMANDS)
        kafka_address = getattr(self.broadcaster, "kafka_address", None)
        if kafka_address:
            description.broadcast.Pack(broadcast_pb2.KafkaBroadcastHandlerConfiguration(
                kafka_address=kafka_address, topic=f"control.{self.session}.{self.name}"))
        return respond(self.name, description)

    @traced("ps")
    def ps(self, request, context):
        query = unpack_request(request, pm.ProcessQuery)
        with self._lock:
            matches = self._matcher(query)
            entries = [p.list_entry() for u, p in self._processes.items() if matches(u, p.meta)]
        response = request_response_pb2.Response(name=self.name, flag=F.EXECUTED_SUCCESSFULLY)
        response.data.type_url = _LIST_TYPE_URL
        response.data.value = b"".join(entries)
        return response

    @traced("boot")
    def boot(self, request, context):
        boot_request = unpack_request(request, pm.BootRequest)
        return respond(self.name, self._boot(boot_request, str(uuidlib.uuid4())))

    @traced("kill")
    def kill(self, request, context):
        query = unpack_request(request, pm.ProcessQuery)
        with self._lock:
            uuids = self._match(query)
        return respond(self.name, pm.ProcessInstanceList(values=self._kill(uuids)))

    @traced("terminate")
    def terminate(self, request, context):
        unpack_request(request, pm.ProcessQuery)  # required, then ignored (9.2.4)
        with self._lock:
            uuids = list(self._processes)
        return respond(self.name, pm.ProcessInstanceList(values=self._kill(uuids)))

    @traced("flush")
    def flush(self, request, context):
        query = unpack_request(request, pm.ProcessQuery)
        flushed = []
        with self._lock:
            for uuid in self._match(query):
                process = self._processes[uuid]
                if process.status == DEAD:
                    flushed.append(process.instance())
                    del self._processes[uuid]
        return respond(self.name, pm.ProcessInstanceList(values=flushed))

    @traced("restart")
    def restart(self, request, context):
        query = unpack_request(request, pm.ProcessQuery)
        with self._lock:
            matches = self._matcher(query)
            # drunc matches restart against the boot requests, which survive kill and flush ...
            uuid = self._ensure_one([u for u, b in self._boot_requests.items()
                                     if matches(u, b.process_description.metadata)])
            # ... and then looks the process up in the store: a KeyError (flag 7) once it was killed.
            process = self._processes[uuid]
            boot_request = self._boot_requests[uuid]
        if process.popen is not None:
            self._stop([process.popen], signal.SIGTERM)
        return respond(self.name, self._boot(boot_request, uuid, restart=True))

    def logs(self, request, context) -> Iterator[request_response_pb2.Response]:
        """Server streaming: one Response per line. `traced` does not wrap generators, so ACK/SUCCESS are here."""
        user = request.token.user_name
        self._emit(broadcast_pb2.ACK, f"User '{user}' attempting to execute 'logs'")
        try:
            log_request = unpack_request(request, pm.LogRequest)
            count = log_request.how_far if log_request.how_far > 0 else 100
            with self._lock:
                uuid = self._ensure_one(self._match(log_request.query))
                process = self._processes[uuid]
            lines = self._log_lines(process, count)
        except DruncException as exc:
            yield respond(self.name, stacktrace_of(exc), F.DRUNC_EXCEPTION_THROWN, token=request.token)
            return
        except Exception as exc:  # noqa: BLE001 - drunc turns any exception into flag 7
            yield respond(self.name, stacktrace_of(exc), F.UNHANDLED_EXCEPTION_THROWN, token=request.token)
            return
        process_uuid = pm.ProcessUUID(uuid=uuid)
        for line in lines:
            if context is not None and not context.is_active():
                return
            yield respond(self.name, pm.LogLine(uuid=process_uuid, line=line))
        self._emit(broadcast_pb2.COMMAND_EXECUTION_SUCCESS, f"User '{user}' successfully executed 'logs'")

    # ------------------------------------------------------------------------------------------ boot and kill

    def _usable_host(self, hosts: Sequence[str]) -> str:
        if not hosts:
            raise DruncException("No allowed host provided! bailing")
        if self.virtual:
            return hosts[0]
        local = _LOCAL_NAMES | {self.hostname.lower(), socket.gethostname().lower()}
        for host in hosts:
            if host.lower() in local:
                return host
            try:
                if ipaddress.ip_address(host).is_loopback:
                    return host
            except ValueError:
                continue
        raise DruncException(
            f"No allowed host could be used among {list(hosts)}: this simulated process manager only starts "
            f"processes on this machine (localhost, 127.0.0.1 or {self.hostname})")

    def _stored_request(self, boot_request: pm.BootRequest, uuid: str, host: str) -> pm.BootRequest:
        stored = pm.BootRequest()
        stored.CopyFrom(boot_request)
        description = stored.process_description
        meta = description.metadata
        meta.uuid.uuid = uuid
        meta.hostname = host
        if not meta.tree_id:
            with self._lock:
                self._infra_counter += 1
                meta.tree_id = f"1.0.{self._infra_counter}"
        if not description.process_execution_directory:
            description.process_execution_directory = str(self.log_dir)
        return stored

    def _boot(self, boot_request: pm.BootRequest, uuid: str, *, restart: bool = False) -> pm.ProcessInstance:
        if self._closed.is_set() and not self.virtual:
            raise DruncException("The process manager is shutting down: no new process is started")
        host = self._usable_host(list(boot_request.process_restriction.allowed_hosts))
        stored = boot_request if restart else self._stored_request(boot_request, uuid, host)
        popen = None if self.virtual else self._spawn(stored)
        with self._lock:
            process = self._processes.get(uuid) if restart else None
            if process is None:
                process = _Process(uuid=uuid, boot=stored)
                self._processes[uuid] = process
            process.popen = popen
            process.started = time.time()
            process.set_state(RUNNING, 0)
            self._boot_requests[uuid] = stored
            if popen is not None:
                self._children.append(popen)
            instance = process.instance()
            dies_now = self.virtual and not stored.process_description.process_logs_path
            if dies_now:  # what the real chain does without a log path (see _spawn); the answer says RUNNING
                process.set_state(DEAD, NO_LOG_PATH_EXIT)
        if dies_now:
            self._announce_exit(stored.process_description.metadata, NO_LOG_PATH_EXIT)
        if popen is not None:
            threading.Thread(target=self._watch, args=(uuid, popen, stored.process_description.metadata),
                             name=f"pm-watch-{uuid[:8]}", daemon=True).start()
        return instance

    def _output_path(self, uuid: str) -> Path:
        """Where a process booted without a log path writes: what drunc's ssh client would read from it."""
        return self.log_dir / f".output-{_safe(uuid)}"

    def _spawn(self, stored: pm.BootRequest) -> subprocess.Popen:
        description = stored.process_description
        if not description.process_logs_path:
            # drunc's own line, `{ chain ; } &> <path>`, with the empty path: bash itself gives the error
            with open(self._output_path(description.metadata.uuid.uuid), "wb") as output:
                return subprocess.Popen(
                    ["bash", "-c", f"{{ {shell_chain(description)} ; }} &> "], stdin=subprocess.DEVNULL,
                    stdout=output, stderr=subprocess.STDOUT, cwd=self.log_dir, start_new_session=True,
                    close_fds=True)
        log_path = Path(description.process_logs_path)
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_file = open(log_path, "wb")  # `&> log` truncates, as drunc's chain does
        except OSError as exc:
            raise DruncException(f"Cannot open the log file {log_path}: {exc}") from exc
        with log_file:
            return subprocess.Popen(
                ["bash", "-c", shell_chain(description)], stdin=subprocess.DEVNULL, stdout=log_file,
                stderr=subprocess.STDOUT, cwd=self.log_dir, start_new_session=True, close_fds=True)

    def _watch(self, uuid: str, popen: subprocess.Popen, meta: pm.ProcessMetadata) -> None:
        code = popen.wait()
        with self._lock:
            process = self._processes.get(uuid)
            if process is not None and process.popen is popen:
                process.set_state(DEAD, code)
        if not self._closed.is_set():
            self._announce_exit(meta, code)

    def _announce_exit(self, meta: pm.ProcessMetadata, code: int) -> None:
        self._emit(broadcast_pb2.SUBPROCESS_STATUS_UPDATE,
                   f"Process '{meta.name}' (session: '{meta.session}', user: '{meta.user}') "
                   f"process exited with exit code {code}")

    @staticmethod
    def _signal_group(popen: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(popen.pid, sig)  # start_new_session: the pgid is the shell's pid
        except (ProcessLookupError, PermissionError):
            pass

    def _stop(self, popens: Iterable[subprocess.Popen], first: int) -> None:
        """`first` to every live group; SIGKILL to whatever is left of a group (the shell or anything it
        started) after kill_timeout; then wait for the shells."""
        popens = [p for p in popens if p.returncode is None or group_alive(p.pid)]
        for popen in popens:
            self._signal_group(popen, first)
        deadline = time.monotonic() + self.kill_timeout
        pending = popens
        while pending:
            exited = [p for p in pending if p.returncode is not None]
            groups = live_process_groups() if exited else set()  # one /proc scan for all of them
            pending = [p for p in pending if p.returncode is None or group_alive(p.pid, groups)]
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        for popen in pending:
            self._signal_group(popen, signal.SIGKILL)
        for popen in popens:
            try:
                popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def _kill(self, uuids: list[str]) -> list[pm.ProcessInstance]:
        """9.2.4: SIGQUIT, SIGKILL after kill_timeout; return them DEAD, then remove them from the store."""
        with self._lock:
            targets = [self._processes[u] for u in uuids if u in self._processes]
        self._stop([p.popen for p in targets if p.popen is not None], signal.SIGQUIT)
        killed = []
        announce = []
        with self._lock:
            for process in targets:
                if process.popen is not None:
                    process.set_state(DEAD, process.popen.returncode or 0)
                elif process.status == RUNNING:  # virtual: dies of the SIGQUIT
                    process.set_state(DEAD, -signal.SIGQUIT)
                    announce.append(process.meta)
                killed.append(process.instance())
                self._processes.pop(process.uuid, None)
        for meta in announce:
            self._announce_exit(meta, -signal.SIGQUIT)
        return killed

    # ----------------------------------------------------------------------------------------------- logs

    def _log_lines(self, process: _Process, count: int) -> list[str]:
        if self.virtual:
            return self._virtual_log(process, count)
        given = process.boot.process_description.process_logs_path
        path = Path(given) if given else self._output_path(process.uuid)
        if not path.is_file():
            raise DruncException(
                f"Log file {path} of process '{process.meta.name}' does not exist (yet). drunc 0.10.x would "
                f"fall back to the process's stdout here and block until the process exits; the simulator "
                f"refuses instead. Try again once the process has written something.")
        return tail_lines(path, count)

    def _virtual_log(self, process: _Process, count: int) -> list[str]:
        meta = process.meta
        if not process.boot.process_description.process_logs_path:
            return NO_LOG_PATH_OUTPUT[-count:]
        seconds = max(0, int(time.time() - process.started))
        total = 1 + min(seconds, 10_000)
        lines = []
        for i in range(max(0, total - count), total):
            if i == 0:
                lines.append(f"SSHPM: Starting process {int(process.uuid[:4], 16) + 1000} on host "
                             f"{meta.hostname} as user {meta.user}")
                continue
            stamp = time.strftime("%Y-%b-%d %H:%M:%S", time.localtime(process.started + i))
            lines.append(f"{stamp} INFO [{meta.name}] heartbeat {i}: session {meta.session}, all queues nominal")
        if process.status == DEAD:
            lines.append(f"{meta.name} exited with code {process.return_code}")
        return lines[-count:]

    # ------------------------------------------------------------------------------------------ virtual mode

    def populate(self, n: int, *, sessions: Sequence[str] = ("np04-hd",), apps_per_controller: int = 8,
                 users: Sequence[str] = ("np04daq",), hosts: int = 40, session: str | None = None) -> list[str]:
        """Add `n` virtual RUNNING processes laid out like drunc sessions (9.2.7), split evenly over `sessions`
        (`session=` is shorthand for a single one).

        Per session: `root-controller` 1.0.0, infrastructure apps 1.0.K, then segments N = 1, 2, ... each with
        a controller 1.N.0 and `apps_per_controller` applications 1.N.M. Hosts are np04-srv-001 ... np04-srv-<hosts>.
        """
        if not self.virtual:
            raise RuntimeError("populate() needs a virtual process manager (virtual=True)")
        if session is not None:
            sessions = (session,)
        kinds = [("ru", "ru", "readout_application"), ("trg", "tc-maker", "trigger_application"),
                 ("df", "df", "dataflow_application"), ("hsi", "hsi", "hsi_application"),
                 ("wib", "wib", "wib_application"), ("tpg", "tpg", "tp_stream_writer")]
        infrastructure = ["local-connection-server", "opmon-collector", "ers-forwarder"]
        created: list[str] = []
        per_session = [n // len(sessions) + (1 if i < n % len(sessions) else 0) for i in range(len(sessions))]
        host_number = 0

        def host() -> str:
            nonlocal host_number
            host_number += 1
            return f"np04-srv-{(host_number - 1) % hosts + 1:03d}"

        with self._lock:
            for index, (session, quota) in enumerate(zip(sessions, per_session, strict=True)):
                user = users[index % len(users)]
                layout: list[tuple[str, str, str]] = [("root-controller", "1.0.0", "drunc-controller")]
                layout += [(name, f"1.0.{k}", name) for k, name in enumerate(infrastructure, start=1)]
                segment = 0
                while len(layout) < quota:
                    segment += 1
                    kind, prefix, executable = kinds[(segment - 1) % len(kinds)]
                    round_ = (segment - 1) // len(kinds)
                    suffix = f"-{round_:02d}" if round_ else ""
                    layout.append((f"{kind}-controller{suffix}", f"1.{segment}.0", "drunc-controller"))
                    layout += [(f"{prefix}{suffix}-{m:02d}", f"1.{segment}.{m}", executable)
                               for m in range(1, apps_per_controller + 1)]
                for name, tree_id, executable in layout[:quota]:
                    uuid = str(uuidlib.UUID(int=self.random.getrandbits(128), version=4))
                    boot_request = self._virtual_request(uuid, name, user, session, host(), tree_id, executable)
                    process = _Process(uuid=uuid, boot=boot_request, started=time.time())
                    process.list_entry()
                    self._processes[uuid] = process
                    self._boot_requests[uuid] = boot_request
                    created.append(uuid)
        return created

    def _virtual_request(self, uuid: str, name: str, user: str, session: str, host: str, tree_id: str,
                         executable: str) -> pm.BootRequest:
        log = f"/log/{session}/log_{user}_{session}_{name}.log"
        args = ["--name", name, "--session", session] if executable != name else ["--session", session]
        return pm.BootRequest(
            process_description=pm.ProcessDescription(
                metadata=pm.ProcessMetadata(uuid=pm.ProcessUUID(uuid=uuid), user=user, session=session, name=name,
                                            hostname=host, tree_id=tree_id),
                env={"DUNEDAQ_SESSION": session},
                executable_and_arguments=[pm.ProcessDescription.ExecAndArgs(exec=executable, args=args)],
                process_execution_directory=f"/data/{session}",
                process_logs_path=log),
            process_restriction=pm.ProcessRestriction(allowed_hosts=[host]))

    def churn_tick(self) -> None:
        """One second of churn: every RUNNING virtual process dies with probability `churn` (DEAD, an exit
        code, a SUBPROCESS_STATUS_UPDATE), and every DEAD one comes back with probability `churn` (same uuid,
        RUNNING again). Draws come from the seeded generator, in store order, so a seed replays exactly."""
        died: list[_Process] = []
        with self._lock:
            now = time.time()
            for process in self._processes.values():
                if self.random.random() >= self.churn:
                    continue
                if process.status == RUNNING:
                    process.set_state(DEAD, self.random.choice(_CHURN_EXIT_CODES))
                    died.append(process)
                elif process.boot.process_description.process_logs_path:  # without one it cannot start
                    process.started = now
                    process.set_state(RUNNING, 0)
        for process in died:
            self._announce_exit(process.meta, process.return_code)

    def _churn_loop(self) -> None:
        while not self._closed.wait(1.0):
            try:
                self.churn_tick()
            except Exception:  # noqa: BLE001 - a churn hiccup must not end the simulation
                continue


__all__ = ["ProcessManagerServicer", "shell_chain", "tail_lines"]
