"""The process manager as drunc 0.13.2 / 0.14.0 serve it (druncschema 0.11, drunc-protocol-0.11.md §3.4, §5, §9).

The process-manager rpcs and messages did not change, so this is the 0.10.x servicer with what 0.13.2 does
differently on the wire:

- `describe` answers the renumbered `Description` (type 1, name 2, endpoint 3 left empty by the PM, info 4 = the
  PM's log path, session 5 = the Unix user, commands 6, broadcast 7);
- flags use the 0.11 numbering (6 = DRUNC_EXCEPTION_THROWN, 7 = UNHANDLED_EXCEPTION_THROWN);
- a missing or wrong payload is flag 8 (NOT_EXECUTED_BAD_REQUEST_FORMAT) with PlainText
  "Cannot unpack '<type url>' to '<message>'" (0.10.x: flag 6 of its numbering, a NameError);
- `terminate` takes no payload (drunc 0.13.2's driver sends none); one that is sent is ignored, as the query was.

Each response is built by the 0.8 servicer and renumbered here: the Response envelope is the same on the wire,
only the `Description` bytes differ, so they are written from the 0.11 pool's class.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from google.protobuf.message import Message

from drunc_client.generated.druncschema import broadcast_pb2, generic_pb2
from drunc_client.generated.druncschema import process_manager_pb2 as pm
from drunc_client.generated.druncschema import request_response_pb2 as rr8
from drunc_client.generated_011.druncschema import request_response_pb2 as rr
from simulator.controller_011 import FLAG_08_TO_011
from simulator.process_manager import COMMANDS, ProcessManagerServicer
from simulator.rpc import F, traced

PAYLOADS: dict[str, type[Message]] = {"boot": pm.BootRequest, "kill": pm.ProcessQuery, "ps": pm.ProcessQuery,
                                      "flush": pm.ProcessQuery, "restart": pm.ProcessQuery, "logs": pm.LogRequest}
DESCRIPTION_URL = f"type.googleapis.com/{rr.Description.DESCRIPTOR.full_name}"


def _commands_011() -> list[rr.CommandDescription]:
    out = []
    for command in COMMANDS:
        described = rr.CommandDescription.FromString(command.SerializeToString())  # same fields in both layouts
        if described.name == "terminate":
            del described.data_type[:]
            described.data_type.append("None")
        out.append(described)
    return out


def _renumbered(response: rr8.Response) -> rr8.Response:
    response.flag = FLAG_08_TO_011.get(response.flag, response.flag)
    return response


class ProcessManager011Servicer(ProcessManagerServicer):
    """drunc 0.13.2's SSH process manager: the 0.10.x behaviour, the 0.11 wire (see the module docstring)."""

    def __init__(self, *, log_path: str | None = None, **kwargs):
        super().__init__(**kwargs)
        # drunc's PM reports the file its own logger writes; the simulator keeps it next to the process logs
        self.log_path = log_path or str(Path(self.log_dir) / "process_manager.log")

    def _bad_format(self, rpc: str, request) -> rr8.Response | None:
        expected = PAYLOADS.get(rpc)
        if expected is None or (request.HasField("data") and request.data.Is(expected.DESCRIPTOR)):
            return None
        self.broadcaster.emit(self.name, self.session, broadcast_pb2.ACK,
                              f"User '{request.token.user_name}' attempting to execute '{rpc}'")
        response = rr8.Response(name=self.name, flag=rr.NOT_EXECUTED_BAD_REQUEST_FORMAT, token=request.token)
        response.data.Pack(generic_pb2.PlainText(
            text=f"Cannot unpack '{request.data.type_url}' to '{expected.__name__}'"))
        return response

    def _answer(self, rpc: str, request, context) -> rr8.Response:
        refused = self._bad_format(rpc, request)
        if refused is not None:
            return refused
        return _renumbered(getattr(super(), rpc)(request, context))

    @traced("describe")
    def describe(self, request, context):
        description = rr.Description(type="process_manager", name=self.name, info=self.log_path,
                                     session=self.session or "no_session", commands=_commands_011())
        kafka_address = getattr(self.broadcaster, "kafka_address", None)
        if kafka_address:
            config = broadcast_pb2.KafkaBroadcastHandlerConfiguration(
                kafka_address=kafka_address, topic=f"control.{self.session}.{self.name}")
            description.broadcast.type_url = f"type.googleapis.com/{config.DESCRIPTOR.full_name}"
            description.broadcast.value = config.SerializeToString()
        response = rr8.Response(name=self.name, flag=F.EXECUTED_SUCCESSFULLY)
        response.data.type_url = DESCRIPTION_URL
        response.data.value = description.SerializeToString()
        return response

    def ps(self, request, context):
        return self._answer("ps", request, context)

    def boot(self, request, context):
        return self._answer("boot", request, context)

    def kill(self, request, context):
        return self._answer("kill", request, context)

    def flush(self, request, context):
        return self._answer("flush", request, context)

    def restart(self, request, context):
        return self._answer("restart", request, context)

    def terminate(self, request, context):
        return _renumbered(self._terminate(request, context))

    @traced("terminate")
    def _terminate(self, request, context):
        with self._lock:
            uuids = list(self._processes)
        response = rr8.Response(name=self.name, flag=F.EXECUTED_SUCCESSFULLY)
        response.data.Pack(pm.ProcessInstanceList(values=self._kill(uuids)))
        return response

    def logs(self, request, context) -> Iterator[rr8.Response]:
        refused = self._bad_format("logs", request)
        if refused is not None:
            yield refused
            return
        for response in super().logs(request, context):
            yield _renumbered(response)
