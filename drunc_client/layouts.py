"""Which druncschema layout an endpoint speaks: 0.8 (drunc 0.10.x) or 0.11 (drunc 0.13.2 / 0.14.0).

The layouts share the envelope and the rpc paths of the process manager, but not the controller's rpc set nor
the session manager's, so one call tells them apart (gRPC answers UNIMPLEMENTED for an rpc the server does not
define, before any payload is decoded):

- controller: `status` (0.11 only; 0.8 has get_status);
- session manager: `list_all_sessions` (0.11 only; drunc 0.13.2 answers UNKNOWN because of its bug, which still
  says "0.11").

`DRUNC_SCHEMA` forces a layout; `auto` detects it on first use. The answer is kept per endpoint in a
`LayoutCache` owned by the DruncBackends object (one per process, never module state) and forgotten when the
endpoint stops answering, so a server upgraded in place is detected again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import grpc

from drunc_client.errors import DruncError
from drunc_client.transport import channel, map_rpc_error, normalise_address

SCHEMAS = ("auto", "0.8", "0.11")
V08, V011 = "0.8", "0.11"


def check_schema(value: str) -> str:
    value = (value or "auto").strip().lower()
    if value not in SCHEMAS:
        raise DruncError(f"unknown druncschema layout {value!r} (known: {', '.join(SCHEMAS)})")
    return value


class LayoutCache:
    """endpoint address → detected layout, shared by every client a DruncBackends makes (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._known: dict[str, str] = {}

    def get(self, address: str) -> str | None:
        with self._lock:
            return self._known.get(normalise_address(address))

    def set(self, address: str, layout: str) -> None:
        with self._lock:
            self._known[normalise_address(address)] = layout

    def forget(self, address: str) -> None:
        with self._lock:
            self._known.pop(normalise_address(address), None)

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
