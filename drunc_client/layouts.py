"""Which druncschema layout an endpoint speaks: 0.8 (drunc 0.10.x) or 0.11 (drunc 0.13.2 / 0.14.0).

The layouts share the envelope and the rpc paths of the process manager, but not the controller's rpc set nor
the session manager's, so one call tells them apart (gRPC answers UNIMPLEMENTED for an rpc the server does not
define, before any payload is decoded):

- controller: `status` (0.11 only; 0.8 has get_status);
- session manager: `list_all_sessions` (0.11 only; drunc 0.13.2 answers UNKNOWN because of its bug, which still
  says "0.11");
- process manager: its rpcs did not change, so the layout is read from its `describe` answer
  (`description_layout`: 0.11 renumbered `Description`).

`DRUNC_SCHEMA` forces a layout; `auto` detects it on first use. The answer is kept per endpoint in a
`LayoutCache` owned by the DruncBackends object (one per process, never module state) and forgotten when the
endpoint stops answering, so a server upgraded in place is detected again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import grpc

from drunc_client.errors import DruncError, ProtocolError
from drunc_client.transport import channel, map_rpc_error, normalise_address

SCHEMAS = ("auto", "0.8", "0.11")
V08, V011 = "0.8", "0.11"


def check_schema(value: str) -> str:
    value = (value or "auto").strip().lower()
    if value not in SCHEMAS:
        raise DruncError(f"unknown druncschema layout {value!r} (known: {', '.join(SCHEMAS)})")
    return value


class LayoutCache:
    """endpoint address → detected layout, shared by every client a DruncBackends makes (thread-safe). Also
    holds what a tree's `describe` said (`described`), which changes only when the tree does."""

    def __init__(self):
        self._lock = threading.Lock()
        self._known: dict[str, str] = {}
        self._described: dict[str, tuple[float, object]] = {}

    def described(self, address: str, max_age: float):
        """What `remember_description` kept for `address`, if younger than `max_age` seconds, else None."""
        with self._lock:
            kept = self._described.get(normalise_address(address))
        return kept[1] if kept and time.monotonic() - kept[0] < max_age else None

    def remember_description(self, address: str, value) -> None:
        with self._lock:
            self._described[normalise_address(address)] = (time.monotonic(), value)

    def forget_description(self, address: str) -> None:
        with self._lock:
            self._described.pop(normalise_address(address), None)

    def get(self, address: str) -> str | None:
        with self._lock:
            return self._known.get(normalise_address(address))

    def set(self, address: str, layout: str) -> None:
        with self._lock:
            self._known[normalise_address(address)] = layout

    def forget(self, address: str) -> None:
        with self._lock:
            self._known.pop(normalise_address(address), None)
            self._described.pop(normalise_address(address), None)

    def snapshot(self) -> dict[str, str]:
        with self._lock:
            return dict(self._known)


def _probe(address: str, path: str, request_bytes: bytes, timeout: float) -> str:
    """V011 when the rpc exists on the server, V08 when it answers UNIMPLEMENTED."""
    call = channel(address).unary_unary(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    try:
        call(request_bytes, timeout=timeout)
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else None
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return V08
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise map_rpc_error(exc, address) from None
        return V011  # the rpc exists, it failed (drunc 0.13.2's session manager answers UNKNOWN)
    return V011


def _token_request(user_name: str) -> bytes:
    from drunc_client.generated_011.druncschema import controller_pb2, request_response_pb2

    request = request_response_pb2.Request()
    request.token.token = f"{user_name}-token"
    request.token.user_name = user_name
    # status of the addressed node only: cheap on a big tree
    request.data.Pack(controller_pb2.AddressedCommand(command_name="status", execute_along_path=True))
    return request.SerializeToString()


def detect_controller(address: str, user_name: str, timeout: float) -> str:
    return _probe(address, "/dunedaq.druncschema.Controller/status", _token_request(user_name), timeout)


def detect_session_manager(address: str, user_name: str, timeout: float) -> str:
    from drunc_client.generated_011.druncschema import request_response_pb2

    request = request_response_pb2.Request()
    request.token.user_name = user_name
    return _probe(address, "/dunedaq.druncschema.SessionManager/list_all_sessions", request.SerializeToString(),
                  timeout)


def _wire_fields(raw: bytes) -> list[tuple[int, int, bytes]]:
    """(field number, wire type, payload) of each field of a serialized message; ValueError when malformed."""
    out, i = [], 0

    def varint() -> int:
        nonlocal i
        value = shift = 0
        while True:
            if i >= len(raw) or shift > 63:
                raise ValueError("truncated varint")
            byte = raw[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while i < len(raw):
        tag = varint()
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire == 0:
            start = i
            varint()
            out.append((number, wire, raw[start:i]))
        elif wire == 2:
            size = varint()
            if i + size > len(raw):
                raise ValueError("truncated field")
            out.append((number, wire, raw[i:i + size]))
            i += size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if i + size > len(raw):
                raise ValueError("truncated field")
            out.append((number, wire, raw[i:i + size]))
            i += size
        else:
            raise ValueError(f"wire type {wire}")
    return out


def _only_strings(raw: bytes, numbers: range) -> bool:
    """True when `raw` parses as a message whose fields are all length-delimited and numbered in `numbers`."""
    try:
        return all(n in numbers and w == 2 for n, w, _ in _wire_fields(raw))
    except ValueError:
        return False


def description_layout(raw: bytes) -> str:
    """The layout of a serialized `Description` (the process manager's describe answer).

    0.8: type 1, name 2, session 3, commands 4 (CommandDescription), broadcast 5 (Any); 0.11: type 1, name 2,
    endpoint 3, info 4 (text), session 5 (text), commands 6, broadcast 7. Field 6 or 7, or a field 4 / 5 that is
    not a CommandDescription / an Any (drunc's info is a log path, its session a user name: neither parses as
    one), says 0.11. A description of type, name and one more text only reads the same in both: 0.8 then.
    """
    return description_layout_if_certain(raw) or V08


def description_layout_if_certain(raw: bytes) -> str | None:
    """As description_layout, but None when the bytes read the same in both layouts."""
    try:
        fields = _wire_fields(raw)
    except ValueError:
        return None
    seen_08 = False
    for number, _, payload in fields:
        if number >= 6:
            return V011
        if number == 4:  # 0.8 CommandDescription: 4 text fields; 0.11 info: text
            if not _only_strings(payload, range(1, 5)):
                return V011
            seen_08 = seen_08 or bool(payload)
        if number == 5:  # 0.8 Any: type_url 1, value 2; 0.11 session: text
            if not _only_strings(payload, range(1, 3)):
                return V011
            seen_08 = seen_08 or bool(payload)
    return V08 if seen_08 else None


def detect_process_manager(address: str, user_name: str, timeout: float) -> str:
    """One `describe` (the process manager's rpcs are the same in both layouts): the layout of its answer."""
    from drunc_client.generated.druncschema import request_response_pb2

    call = channel(address).unary_unary("/dunedaq.druncschema.ProcessManager/describe",
                                        request_serializer=lambda b: b,
                                        response_deserializer=request_response_pb2.Response.FromString)
    request = request_response_pb2.Request()
    request.token.token, request.token.user_name = f"{user_name}-token", user_name
    try:
        response = call(request.SerializeToString(), timeout=timeout)
    except grpc.RpcError as exc:
        raise map_rpc_error(exc, address) from None
    if response.flag != 0 or not response.HasField("data"):
        # nothing is cached: the next call asks again
        raise ProtocolError(f"{address}: describe answered flag {response.flag}; its layout is unknown")
    return description_layout(response.data.value)


def resolve(schema: str, cache: LayoutCache | None, address: str, detect: Callable[[], str]) -> str:
    """The layout to speak to `address`: the forced one, the cached one, or detected now (and cached)."""
    if schema in (V08, V011):
        return schema
    if cache is not None:
        known = cache.get(address)
        if known is not None:
            return known
    layout = detect()  # BackendUnavailable propagates: nothing is cached for a server that did not answer
    if cache is not None:
        cache.set(address, layout)
    return layout
