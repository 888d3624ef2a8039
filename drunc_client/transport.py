"""The gRPC plumbing every service adapter shares: channels, tokens, envelopes, deadlines, error mapping.

One channel per address per process, created lazily and reused by every thread (gRPC channels are
thread-safe). Channels never cross a fork: gunicorn workers build the app after forking, and background jobs
are forked by the job runner, which never opens one (job_runner/).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message

from drunc_client.errors import BackendUnavailable, DruncFlagError, NotInControl, ProtocolError
from drunc_client.generated.druncschema import generic_pb2, request_response_pb2, token_pb2

_channels: dict[str, grpc.Channel] = {}
_lock = threading.Lock()

FLAG_NAMES = {v.number: v.name for v in request_response_pb2.ResponseFlag.DESCRIPTOR.values}
SUCCESS = request_response_pb2.EXECUTED_SUCCESSFULLY
NOT_IN_CONTROL = request_response_pb2.NOT_EXECUTED_NOT_IN_CONTROL


def flag_name(number: int, names: dict[int, str] = FLAG_NAMES) -> str:
    """The flag's name in the released 0.8 numbering, or "flag N" for a number it does not define (a server
    speaking another layout): never a wrong name."""
    return names.get(number, f"flag {number}")


def normalise_address(address: str) -> str:
    return address.strip().removeprefix("grpc://")


def channel(address: str) -> grpc.Channel:
    address = normalise_address(address)
    with _lock:
        ch = _channels.get(address)
        if ch is None:
            ch = grpc.insecure_channel(
                address,
                options=[
                    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                    ("grpc.keepalive_time_ms", 60_000),
                    ("grpc.enable_retries", 0),
                    # A restarted drunc server must be seen within a refresh or two, not after gRPC's default
                    # reconnect back-off, which grows to two minutes.
                    ("grpc.initial_reconnect_backoff_ms", 500),
                    ("grpc.min_reconnect_backoff_ms", 500),
                    ("grpc.max_reconnect_backoff_ms", 2000),
                ],
            )
            _channels[address] = ch
        return ch


def close_channels() -> None:
    with _lock:
        for ch in _channels.values():
            ch.close()
        _channels.clear()


def make_token(user_name: str) -> token_pb2.Token:
    """drunc's convention, stable per user: controllers match the actor on both fields."""
    return token_pb2.Token(token=f"{user_name}-token", user_name=user_name)


def make_request(user_name: str, payload: Message | None = None) -> request_response_pb2.Request:
    request = request_response_pb2.Request(token=make_token(user_name))
    if payload is not None:
        request.data.Pack(payload)
    return request


def pack(message: Message) -> any_pb2.Any:
    wrapped = any_pb2.Any()
    wrapped.Pack(message)
    return wrapped


def unpack(data: any_pb2.Any, cls: type[Message], *, server: str = "", rpc: str = "") -> Message:
    message = cls()
    if not data.Unpack(message):
        raise ProtocolError(f"{server}: {rpc} answered with {data.type_url or 'no data'}, expected {cls.__name__}")
    return message


def failure_text(data: any_pb2.Any | None) -> tuple[str, tuple[str, ...]]:
    """The server's explanation: a PlainText, a Stacktrace, or nothing."""
    if data is None or not data.type_url:
        return "", ()
    text = generic_pb2.PlainText()
    if data.Unpack(text):
        return text.text, (text.text,)
    trace = generic_pb2.Stacktrace()
    if data.Unpack(trace):
        return "\n".join(trace.text), tuple(trace.text)
    return f"(payload {data.type_url})", ()


def check(response, rpc: str, names: dict[int, str] = FLAG_NAMES):
    """Raise the typed error for a non-zero flag on this node; return the response otherwise. `names`: the
    layout's flag names (0 and 3 mean the same in 0.8 and 0.11, the numbers above 4 do not)."""
    if response.flag == SUCCESS:
        return response
    text, lines = failure_text(response.data if response.HasField("data") else None)
    cls = NotInControl if response.flag == NOT_IN_CONTROL else DruncFlagError
    raise cls(response.name or "server", rpc, flag_name(response.flag, names), text, lines)


@dataclass(frozen=True)
class Endpoint:
    """One server: its address, the web user the calls are made for, and the deadline for calls."""

    address: str
    user_name: str
    timeout: float = 5.0

    def call(self, method: Callable, rpc: str, payload: Message | None = None, timeout: float | None = None):
        """A unary call: returns the Response (flag not yet checked), or raises BackendUnavailable."""
        try:
            return method(make_request(self.user_name, payload), timeout=timeout or self.timeout)
        except grpc.RpcError as exc:
            raise map_rpc_error(exc, self.address) from None

    def send(self, method: Callable, request, timeout: float | None = None):
        """A unary call with a request built by the caller (another layout's Request class)."""
        try:
            return method(request, timeout=timeout or self.timeout)
        except grpc.RpcError as exc:
            raise map_rpc_error(exc, self.address) from None

    def stream(self, method: Callable, rpc: str, payload: Message | None = None, timeout: float | None = None
               ) -> Iterator:
        try:
            yield from method(make_request(self.user_name, payload), timeout=timeout or self.timeout)
        except grpc.RpcError as exc:
            raise map_rpc_error(exc, self.address) from None


def map_rpc_error(exc: grpc.RpcError, address: str) -> Exception:
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    if code == grpc.StatusCode.UNAVAILABLE:
        return BackendUnavailable(address, details or "connection refused")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return BackendUnavailable(address, "no answer before the deadline", timed_out=True)
    return ProtocolError(f"{address}: gRPC {code.name if code else 'error'}: {details}")
