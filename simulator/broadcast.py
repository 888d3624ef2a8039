"""Broadcasts exactly as drunc 0.10.x produces them: topic control.<session>.<name>, value = BroadcastMessage
with a PlainText, no key, no headers."""

from __future__ import annotations

import threading
from typing import Protocol

from drunc_client.generated.druncschema import broadcast_pb2, generic_pb2

T = broadcast_pb2  # BroadcastType values live on the module: T.ACK, T.FSM_STATUS_UPDATE, ...


def topic_for(session: str, name: str) -> str:
    return f"control.{session}.{name}"


def broadcast_message(process: str, session: str, btype: int, text: str) -> broadcast_pb2.BroadcastMessage:
    emitter = broadcast_pb2.Emitter(process=process, session=session)
    message = broadcast_pb2.BroadcastMessage(emitter=emitter, type=btype)
    message.data.Pack(generic_pb2.PlainText(text=text))
    return message


class Broadcaster(Protocol):
    kafka_address: str | None

    def emit(self, process: str, session: str, btype: int, text: str) -> None: ...

    def close(self) -> None: ...


class NullBroadcaster:
    """No Kafka configured: drunc then broadcasts nothing and leaves Description.broadcast unset."""

    kafka_address = None

    def emit(self, process: str, session: str, btype: int, text: str) -> None:
        return None

    def close(self) -> None:
        return None


class RecordingBroadcaster:
    """Keeps every broadcast in memory, for tests that check what would have gone to Kafka."""

    kafka_address = None

    def __init__(self):
        self.records: list[tuple[str, broadcast_pb2.BroadcastMessage]] = []
        self._lock = threading.Lock()

    def emit(self, process: str, session: str, btype: int, text: str) -> None:
        with self._lock:
            self.records.append((topic_for(session, process), broadcast_message(process, session, btype, text)))

    def types(self, process: str | None = None) -> list[str]:
        with self._lock:
            return [broadcast_pb2.BroadcastType.Name(m.type) for _, m in self.records
                    if process is None or m.emitter.process == process]

    def close(self) -> None:
        return None
