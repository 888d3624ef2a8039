"""What every simulated rpc shares: the Response envelope, ACK/SUCCESS broadcasts, drunc's error flags."""

from __future__ import annotations

import functools
import traceback

from google.protobuf.message import Message

from drunc_client.generated.druncschema import broadcast_pb2, generic_pb2, request_response_pb2

F = request_response_pb2  # ResponseFlag values: F.EXECUTED_SUCCESSFULLY, F.NOT_EXECUTED_NOT_IN_CONTROL, ...


class DruncException(Exception):
    """Raised inside a simulated rpc for a refusal drunc reports as DRUNC_EXCEPTION_THROWN."""


class Refusal(Exception):
    """A policy refusal answered with a specific flag and a PlainText reason (e.g. not in control)."""

    def __init__(self, flag: int, text: str):
        super().__init__(text)
        self.flag = flag
        self.text = text


def respond(name: str, data: Message | None = None, flag: int = F.EXECUTED_SUCCESSFULLY, token=None,
            children=()) -> request_response_pb2.Response:
    response = request_response_pb2.Response(name=name, flag=flag, children=list(children))
    if token is not None:
        response.token.CopyFrom(token)
    if data is not None:
        response.data.Pack(data)
    return response


def plain(text: str) -> generic_pb2.PlainText:
    return generic_pb2.PlainText(text=text)


def stacktrace_of(exc: BaseException) -> generic_pb2.Stacktrace:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return generic_pb2.Stacktrace(text=[line.rstrip("\n") for chunk in lines for line in chunk.splitlines()])


def unpack_request(request: request_response_pb2.Request, cls: type[Message]) -> Message:
    """drunc 0.10.x answers a missing or wrong payload with UNHANDLED_EXCEPTION_THROWN (a NameError in its helper)."""
    message = cls()
    if not request.HasField("data") or not request.data.Unpack(message):
        raise NameError(f"name 'UnpackingError' is not defined (expected {cls.__name__})")
    return message


def traced(rpc_name: str):
    """Wrap a servicer method: ACK before, COMMAND_EXECUTION_SUCCESS after success, flags for failures.

    The servicer must have `name`, `session` and `broadcaster` attributes. Exceptions never escape as gRPC
    errors: Refusal → its flag and PlainText; DruncException → DRUNC_EXCEPTION_THROWN; anything else →
    UNHANDLED_EXCEPTION_THROWN (Stacktrace).
    """

    def decorator(method):
        @functools.wraps(method)
        def wrapper(self, request, context):
            user = request.token.user_name
            self.broadcaster.emit(self.name, self.session, broadcast_pb2.ACK,
                                  f"User '{user}' attempting to execute '{rpc_name}'")
            try:
                response = method(self, request, context)
            except Refusal as exc:
                return respond(self.name, plain(exc.text), exc.flag, token=request.token)
            except DruncException as exc:
                return respond(self.name, stacktrace_of(exc), F.DRUNC_EXCEPTION_THROWN, token=request.token)
            except Exception as exc:  # noqa: BLE001 - drunc: any other exception is UNHANDLED_EXCEPTION_THROWN
                return respond(self.name, stacktrace_of(exc), F.UNHANDLED_EXCEPTION_THROWN, token=request.token)
            if response.flag == F.EXECUTED_SUCCESSFULLY:
                self.broadcaster.emit(self.name, self.session, broadcast_pb2.COMMAND_EXECUTION_SUCCESS,
                                      f"User '{user}' successfully executed '{rpc_name}'")
            return response

        return wrapper

    return decorator
