"""Process manager adapter: plain frozen dataclasses in, plain frozen dataclasses out, typed errors.

Every call checks the Response flag (`transport.check`) and raises DruncFlagError and friends; gRPC failures
arrive as BackendUnavailable (unreachable, or no answer before the deadline) or ProtocolError. No protobuf
object leaves this module.

Query safety (protocol spec 9.2.1): drunc matches a ProcessQuery with an OR over uuids, name regexes, user
and session, and an empty `user` or `session` matches every process whose user or session is empty. So a
kill "by uuid" would also kill every process booted without a session. This client never sends an empty
user or session criterion: a criterion the caller leaves empty goes out as `UNMATCHABLE` (a NUL character,
which no Unix user or session name contains), so only what the caller asked for can match.

Both druncschema layouts (drunc-protocol-0.11.md §3.4, §5): the rpcs and their messages are the same; 0.11
renumbered `Description` (describe, decoded by the layout of the answer itself, `layouts.description_layout`),
numbers the flags above 4 differently (6 = DRUNC_EXCEPTION_THROWN, 7 = UNHANDLED_EXCEPTION_THROWN,
8 = NOT_EXECUTED_BAD_REQUEST_FORMAT) and sends `terminate` without payload (0.8 requires the query and ignores
it). The layout is `schema` when forced, else learnt from a describe and kept per endpoint in `layouts`; only
`terminate` and a failure flag above 4 need it, so a client that never fails never asks.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from drunc_client.errors import BackendUnavailable, DruncError, InvalidArguments, ProtocolError
from drunc_client.generated.druncschema import broadcast_pb2, request_response_pb2
from drunc_client.generated.druncschema import process_manager_pb2 as pm
from drunc_client.generated.druncschema import process_manager_pb2_grpc as pm_grpc
from drunc_client.generated_011.druncschema import request_response_pb2 as rr011
from drunc_client.layouts import (
    V011,
    V08,
    LayoutCache,
    check_schema,
    description_layout,
    description_layout_if_certain,
    detect_process_manager,
    resolve,
)
from drunc_client.transport import FLAG_NAMES, Endpoint, channel, check, normalise_address, unpack

UNMATCHABLE = "\x00"
ALL = ".*"
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TREE_ID = re.compile(r"^\d+\.\d+\.\d+$")

Status = Literal["RUNNING", "DEAD"]
FLAG_NAMES_011 = {v.number: v.name for v in rr011.ResponseFlag.DESCRIPTOR.values}
# 0-4 mean the same in both layouts: naming them needs no layout
SHARED_FLAGS = {n: name for n, name in FLAG_NAMES.items() if FLAG_NAMES_011.get(n) == name}


@dataclass(frozen=True)
class ProcessInfo:
    """One row of `ps` (or one process returned by boot, kill, flush, restart, terminate)."""

    uuid: str
    name: str
    user: str
    session: str
    hostname: str
    tree_id: str
    status: Status
    return_code: int
    executable: str  # every `exec args...` of the chain, joined with "; "
    allowed_hosts: tuple[str, ...]
    log_path: str


@dataclass(frozen=True)
class BootSpec:
    """What to start: one executable with its arguments, run on the first usable host of `allowed_hosts`.

    The process manager runs `exec args...` through a shell (drunc joins them unquoted), so quote arguments
    that contain spaces or shell characters yourself. `log_path` is required in practice: drunc has no
    default and a process booted without one dies at once (validate() refuses it; see log_paths).
    """

    name: str
    user: str
    session: str
    executable: str
    arguments: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    working_directory: str = ""
    log_path: str = ""
    allowed_hosts: tuple[str, ...] = ("localhost",)
    tree_id: str = ""

    def validate(self) -> None:
        """Raise InvalidArguments, naming the field, for anything drunc would mishandle."""
        for label, value in (("name", self.name), ("user", self.user), ("session", self.session),
                             ("executable", self.executable)):
            if not isinstance(value, str) or not value.strip():
                extra = " (an empty one matches every query, see the protocol notes)" if label in (
                    "user", "session") else ""
                raise InvalidArguments(f"boot: {label} must not be empty{extra}")
        if re.search(r"[\s/]", self.name):
            raise InvalidArguments(f"boot: name {self.name!r} must not contain spaces or '/'")
        if re.search(r"\s", self.user) or re.search(r"\s", self.session):
            raise InvalidArguments("boot: user and session must not contain spaces")
        if isinstance(self.arguments, str) or not all(isinstance(a, str) for a in self.arguments):
            raise InvalidArguments("boot: arguments must be a sequence of strings")
        hosts = (self.allowed_hosts,) if isinstance(self.allowed_hosts, str) else tuple(self.allowed_hosts)
        if not hosts or not all(isinstance(h, str) and h.strip() for h in hosts):
            raise InvalidArguments("boot: allowed_hosts must list at least one non-empty host name")
        for key, value in self.environment.items():
            if not isinstance(key, str) or not _ENV_KEY.match(key):
                raise InvalidArguments(f"boot: environment variable name {key!r} is not a valid shell name")
            if not isinstance(value, str) or "\n" in value or "\x00" in value:
                raise InvalidArguments(f"boot: environment value of {key} must be a single-line string")
        if not isinstance(self.log_path, str) or not self.log_path.strip():
            raise InvalidArguments("boot: log_path must not be empty: drunc has no default, runs "
                                   "`{ ...; } &> <log_path>` and the process dies at once (bash syntax error, "
                                   "exit code 2); give a path, e.g. /tmp/<session>_<name>.log")
        if re.search(r"\s", self.log_path):
            raise InvalidArguments(f"boot: log_path {self.log_path!r} must not contain spaces or line breaks "
                                   f"(drunc passes it to a shell unquoted)")
        if self.tree_id and not _TREE_ID.match(self.tree_id):
            raise InvalidArguments(f"boot: tree_id {self.tree_id!r} must be three dot-separated integers, "
                                   f"like 1.2.3")

    def to_request(self) -> pm.BootRequest:
        metadata = pm.ProcessMetadata(user=self.user, session=self.session, name=self.name)
        if self.tree_id:
            metadata.tree_id = self.tree_id
        hosts = (self.allowed_hosts,) if isinstance(self.allowed_hosts, str) else tuple(self.allowed_hosts)
        return pm.BootRequest(
            process_description=pm.ProcessDescription(
                metadata=metadata,
                env=dict(self.environment),
                executable_and_arguments=[pm.ProcessDescription.ExecAndArgs(exec=self.executable,
                                                                            args=list(self.arguments))],
                process_execution_directory=self.working_directory,
                process_logs_path=self.log_path,
            ),
            process_restriction=pm.ProcessRestriction(allowed_hosts=list(hosts)),
        )


@dataclass(frozen=True)
class PMDescription:
    name: str
    session: str
    commands: tuple[str, ...]
    kafka_address: str | None
    topic: str | None
    info: str | None = None  # druncschema 0.11: the process manager's own log path
    endpoint: str | None = None  # druncschema 0.11 (drunc's PM leaves it empty)
    layout: str = V08  # the layout this description was decoded in


def _status(code: int) -> Status:
    return "RUNNING" if code == pm.ProcessInstance.RUNNING else "DEAD"


def process_info(instance: pm.ProcessInstance) -> ProcessInfo:
    description = instance.process_description
    meta = description.metadata
    return ProcessInfo(
        uuid=instance.uuid.uuid or meta.uuid.uuid,
        name=meta.name,
        user=meta.user,
        session=meta.session,
        hostname=meta.hostname,
        tree_id=meta.tree_id,
        status=_status(instance.status_code),
        return_code=instance.return_code,
        executable="; ".join(" ".join([step.exec, *step.args]) for step in description.executable_and_arguments),
        allowed_hosts=tuple(instance.process_restriction.allowed_hosts),
        log_path=description.process_logs_path,
    )


def _strings(value: Iterable[str] | str) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def make_query(uuids: Iterable[str] | str = (), names: Iterable[str] | str = (), user: str = "",
               session: str = "") -> pm.ProcessQuery:
    """A query matching exactly what is asked for: empty user/session become UNMATCHABLE (see module doc)."""
    return pm.ProcessQuery(uuids=[pm.ProcessUUID(uuid=u) for u in _strings(uuids)], names=_strings(names),
                           user=user or UNMATCHABLE, session=session or UNMATCHABLE)


class ProcessManagerClient:
    """Talks to one process manager. Reads use `timeout`; actions that start or stop processes use
    `action_timeout` (drunc kills one process after the other, waiting its kill_timeout for each)."""

    server = "process_manager"

    def __init__(self, address: str, user_name: str, timeout: float = 5.0, *, action_timeout: float = 60.0,
                 schema: str = "auto", layouts: LayoutCache | None = None):
        self.address = normalise_address(address)
        self.endpoint = Endpoint(self.address, user_name, timeout)
        self.action_timeout = max(action_timeout, timeout)
        self.schema = check_schema(schema)
        self.layouts = layouts if layouts is not None else LayoutCache()

    @property
    def layout(self) -> str:
        """"0.8" or "0.11": forced, known for this endpoint, or learnt now with one describe."""
        address, user, timeout = self.address, self.endpoint.user_name, self.endpoint.timeout
        return resolve(self.schema, self.layouts, address, lambda: detect_process_manager(address, user, timeout))

    def _check(self, response, rpc: str):
        if response.flag in SHARED_FLAGS:
            return check(response, rpc)
        try:
            names = FLAG_NAMES_011 if self.layout == V011 else FLAG_NAMES
        except DruncError:  # the layout could not be learnt: name only what both layouts agree on
            names = SHARED_FLAGS
        return check(response, rpc, names)

    @property
    def _stub(self) -> pm_grpc.ProcessManagerStub:
        return pm_grpc.ProcessManagerStub(channel(self.address))

    def _call(self, rpc: str, payload=None, result=None, timeout: float | None = None):
        response = self.endpoint.call(getattr(self._stub, rpc), rpc, payload, timeout=timeout)
        self._check(response, rpc)
        return unpack(response.data, result, server=response.name or self.server, rpc=rpc) if result else None

    # ------------------------------------------------------------------------------------------------ reads

    def describe(self) -> PMDescription:
        """Decoded in the forced layout, else in the layout of the answer (which is then kept for the endpoint)."""
        response = self.endpoint.call(self._stub.describe, "describe")
        self._check(response, "describe")
        expected = request_response_pb2.Description.DESCRIPTOR.full_name  # the same full name in both layouts
        if not response.HasField("data") or response.data.TypeName() != expected:
            raise ProtocolError(f"{response.name or self.server}: describe answered with "
                                f"{response.data.type_url or 'no data'}, expected Description")
        layout = self.schema
        if layout not in (V08, V011):
            layout = description_layout(response.data.value)
            self.layouts.set(self.address, layout)
        elif (seen := description_layout_if_certain(response.data.value)) not in (None, layout):
            raise ProtocolError(f"{self.address}: describe answered in the druncschema {seen} layout, but "
                                f"{layout} is forced (DRUNC_SCHEMA)")
        cls = rr011.Description if layout == V011 else request_response_pb2.Description
        description = cls.FromString(response.data.value)
        kafka_address = topic = None
        if description.HasField("broadcast"):
            config = broadcast_pb2.KafkaBroadcastHandlerConfiguration()
            if description.broadcast.Unpack(config):
                kafka_address, topic = config.kafka_address or None, config.topic or None
        v011 = layout == V011
        return PMDescription(name=description.name, session=description.session,
                             commands=tuple(c.name for c in description.commands),
                             kafka_address=kafka_address, topic=topic,
                             info=description.info if v011 and description.HasField("info") else None,
                             endpoint=(description.endpoint or None) if v011 else None, layout=layout)

    def ps(self, uuids: Iterable[str] | str = (), names: Iterable[str] | str = (), user: str = "",
           session: str = "") -> list[ProcessInfo]:
        """The matching processes (OR over the criteria); every process when no criterion is given."""
        if not (_strings(uuids) or _strings(names) or user or session):
            names = [ALL]
        listing = self._call("ps", make_query(uuids, names, user, session), pm.ProcessInstanceList)
        return [process_info(instance) for instance in listing.values]

    def logs(self, uuid: str, lines: int = 100, timeout: float = 5.0) -> list[str]:
        """The last `lines` lines of the process's log, read in one bounded call that ends by `timeout`.

        drunc has no follow mode; call again to refresh. A flag on any streamed Response raises.
        """
        if not uuid:
            raise InvalidArguments("logs: a process uuid is required")
        if not isinstance(lines, int) or lines < 1:
            raise InvalidArguments("logs: lines must be a positive integer")
        request = pm.LogRequest(query=make_query(uuids=[uuid]), how_far=lines)
        deadline = time.monotonic() + timeout
        limit = lines + 10  # drunc may add a few explanation lines; never read an unbounded stream
        out: list[str] = []
        stream = self.endpoint.stream(self._stub.logs, "logs", request, timeout=timeout)
        try:
            for response in stream:
                self._check(response, "logs")
                line = unpack(response.data, pm.LogLine, server=response.name or self.server, rpc="logs")
                out.append(line.line.rstrip("\r\n"))
                if len(out) >= limit:
                    break
                if time.monotonic() > deadline:  # what came so far is the oldest part: never pass it off as the tail
                    raise BackendUnavailable(self.address, f"logs: the stream did not end within {timeout:g} s",
                                             timed_out=True)
        finally:
            stream.close()  # cancels the call if it is still open
        return out[-lines:]

    # ----------------------------------------------------------------------------------------------- actions

    def boot(self, spec: BootSpec) -> ProcessInfo:
        spec.validate()
        instance = self._call("boot", spec.to_request(), pm.ProcessInstance, timeout=self.action_timeout)
        return process_info(instance)

    def kill(self, uuids: Iterable[str] | str = (), names: Iterable[str] | str = (), user: str = "",
             session: str = "") -> list[ProcessInfo]:
        """Kill the matching processes (SIGQUIT, then SIGKILL); they are returned DEAD and leave `ps`."""
        if not (_strings(uuids) or _strings(names) or user or session):
            raise InvalidArguments("kill: give uuids, names, a user or a session (terminate() kills everything)")
        return self._list("kill", make_query(uuids, names, user, session))

    def terminate(self, uuids: Iterable[str] | str = (), names: Iterable[str] | str = (), user: str = "",
                  session: str = "") -> list[ProcessInfo]:
        """Kill EVERY process of the process manager. drunc 0.10.x requires a query and ignores it (9.2.4), so
        it is sent; 0.13.2's driver sends none (drunc-protocol-0.11.md §3.4), and neither does this client there."""
        if self.layout == V011:
            return self._list("terminate", None)
        if not (_strings(uuids) or _strings(names) or user or session):
            names = [ALL]
        return self._list("terminate", make_query(uuids, names, user, session))

    def flush(self, uuids: Iterable[str] | str = (), names: Iterable[str] | str = (), user: str = "",
              session: str = "") -> list[ProcessInfo]:
        """Remove the matching DEAD processes from the list (all dead ones when no criterion is given)."""
        if not (_strings(uuids) or _strings(names) or user or session):
            names = [ALL]
        return self._list("flush", make_query(uuids, names, user, session))

    def restart(self, uuid: str) -> ProcessInfo:
        """Stop and boot again from the stored request, same uuid. Fails (UNHANDLED_EXCEPTION_THROWN) once killed."""
        if not uuid:
            raise InvalidArguments("restart: a process uuid is required")
        instance = self._call("restart", make_query(uuids=[uuid]), pm.ProcessInstance, timeout=self.action_timeout)
        return process_info(instance)

    def _list(self, rpc: str, query: pm.ProcessQuery | None) -> list[ProcessInfo]:
        listing = self._call(rpc, query, pm.ProcessInstanceList, timeout=self.action_timeout)
        return [process_info(instance) for instance in listing.values]


__all__ = ["ALL", "UNMATCHABLE", "BootSpec", "PMDescription", "ProcessInfo", "ProcessManagerClient", "make_query",
           "process_info"]
