"""Typed failures of drunc calls. Callers catch these; nothing else escapes the client layer."""

from __future__ import annotations


class DruncError(Exception):
    """Base of every failure the client reports."""


class BackendUnavailable(DruncError):
    """The server could not be reached (UNAVAILABLE) or did not answer in time (DEADLINE_EXCEEDED)."""

    def __init__(self, address: str, reason: str, *, timed_out: bool = False):
        what = "not responding" if timed_out else "unreachable"
        super().__init__(f"{address} {what}: {reason}")
        self.address = address
        self.reason = reason
        self.timed_out = timed_out


class DruncFlagError(DruncError):
    """A Response came back with a flag other than EXECUTED_SUCCESSFULLY.

    `flag` is the ResponseFlag name, `text` the server's PlainText or the Stacktrace lines joined.
    """

    def __init__(self, server: str, rpc: str, flag: str, text: str, lines: tuple[str, ...] = ()):
        summary = text.strip().splitlines()[-1] if text.strip() else flag
        super().__init__(f"{server}: {rpc} refused ({flag}): {summary}")
        self.server = server
        self.rpc = rpc
        self.flag = flag
        self.text = text
        self.lines = lines


class NotInControl(DruncFlagError):
    """NOT_EXECUTED_NOT_IN_CONTROL: another user is the controller's actor."""


class NodeInError(DruncError):
    """Refused on the client: the node is in error, and drunc 0.10.x has no rpc that clears the error."""

    def __init__(self, node: str, command: str):
        super().__init__(f"{node}: {command} refused: {node} is in error; it refuses every transition until it "
                         "is restarted")
        self.node = node
        self.command = command


class InvalidArguments(DruncError):
    """FSM arguments failed validation on the client, before anything was sent."""


class ProtocolError(DruncError):
    """The server answered with a payload of an unexpected type, or another gRPC error code."""


class NotRegistered(DruncError):
    """The connectivity service answered, but holds no live entry for this controller of this session (the
    session is not booted, or its controller stopped publishing more than the service's TTL ago)."""

    def __init__(self, session: str, name: str, service: str):
        super().__init__(f"session {session!r}: {name} is not registered in the connectivity service at {service}")
        self.session = session
        self.name = name
        self.service = service


class UnsupportedByLayout(DruncError):
    """The endpoint's druncschema layout has no such operation (e.g. recompute_status, or addressing a subtree
    from the root, on a drunc 0.10.x controller)."""

    def __init__(self, address: str, what: str, layout: str):
        super().__init__(f"{address}: {what} needs druncschema 0.11 (drunc 0.13+); this controller speaks {layout}")
        self.address = address
        self.what = what
        self.layout = layout


class SessionManagerNotUsable(DruncError):
    """A druncschema 0.11 session manager that does not serve the rpc: drunc 0.13.2 fails `describe` and
    `list_all_sessions` with gRPC UNKNOWN, and leaves `list_all_configs` (before 0.14.0), `start_session`,
    `stop_session` and `load_config` unimplemented."""

    def __init__(self, address: str, rpc: str, reason: str):
        super().__init__(f"session manager not usable (drunc 0.13.x): {address}: {rpc}: {reason}")
        self.address = address
        self.rpc = rpc
        self.reason = reason
