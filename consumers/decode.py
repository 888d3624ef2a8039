"""Decoding Kafka records into `store.messages.NewMessage` rows: pure functions, no Kafka or gRPC imports.

drunc broadcasts (protocol notes section 11): the value is a `BroadcastMessage`; `emitter.process` becomes the
source, `emitter.session` the session, the type's name the broadcast type, and the text is the unpacked
`PlainText` (never the raw `Any` bytes). The time is the record's timestamp (the message has none of its own).

Severity of a broadcast, `SEVERITY_BY_BROADCAST_TYPE` (the official drunc web UI's mapping):

| broadcast type | severity |
|---|---|
| ACK, COMMAND_EXECUTION_SUCCESS, DEBUG | DEBUG |
| DRUNC_EXCEPTION_RAISED, CHILD_COMMAND_EXECUTION_FAILED | ERROR |
| UNHANDLED_EXCEPTION_RAISED | FATAL |
| every other type | INFO |

No type maps to WARNING. A type number this schema does not know is stored with severity INFO and broadcast
type `UNKNOWN_<n>`.

ERS issue chains (section 12): the value is an `IssueChain`; the final issue gives the severity, text, issue
name and time, and the causes, inheritance, context and parameters go to `details`. ERS severities are
normalised by `normalise_ers_severity` to DEBUG, INFO, WARNING, ERROR or FATAL:

| ERS string | stored |
|---|---|
| DEBUG, DEBUG_<n> | DEBUG |
| LOG | INFO (ERS "Log" is an informational level; the original string is kept in details["severity_raw"]) |
| INFO / INFORMATION, WARNING, ERROR, FATAL | the same |
| "0" … "5" (ers 1.3–1.5) | DEBUG, INFO (was LOG), INFO, WARNING, ERROR, FATAL |
| anything else | INFO, original in details["severity_raw"] |

Anything that does not decode, or decodes into something implausible (protobuf parses many random byte strings
"successfully"), is an `undecodable` row with a hex preview. `decode_record` never raises.
"""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime

from google.protobuf.message import DecodeError

from drunc_client.generated.druncschema import broadcast_pb2, generic_pb2
from drunc_client.generated.ersschema import issue_pb2
from store.messages import NewMessage

SEVERITIES = ("DEBUG", "INFO", "WARNING", "ERROR", "FATAL")

SEVERITY_BY_BROADCAST_TYPE: dict[str, str] = {
    name: "INFO" for name in broadcast_pb2.BroadcastType.keys()  # noqa: SIM118 - an enum wrapper, not a dict
}
SEVERITY_BY_BROADCAST_TYPE.update(
    {
        "ACK": "DEBUG",
        "COMMAND_EXECUTION_SUCCESS": "DEBUG",
        "DEBUG": "DEBUG",
        "DRUNC_EXCEPTION_RAISED": "ERROR",
        "CHILD_COMMAND_EXECUTION_FAILED": "ERROR",
        "UNHANDLED_EXCEPTION_RAISED": "FATAL",
    }
)

_DIGIT_SEVERITIES = {"0": "DEBUG", "1": "INFO", "2": "INFO", "3": "WARNING", "4": "ERROR", "5": "FATAL"}
_NAMED_SEVERITIES = {
    "DEBUG": "DEBUG",
    "LOG": "INFO",
    "INFO": "INFO",
    "INFORMATION": "INFO",
    "WARNING": "WARNING",
    "ERROR": "ERROR",
    "FATAL": "FATAL",
}
_PLAIN_TEXT = generic_pb2.PlainText.DESCRIPTOR.full_name
_EPOCH_2000_NS = 946_684_800 * 10**9
_HEX_PREVIEW = 64


def normalise_ers_severity(severity: str) -> str:
    """An ERS severity string (any version) as one of DEBUG, INFO, WARNING, ERROR, FATAL (see the module notes)."""
    value = (severity or "").strip().upper()
    if value in _DIGIT_SEVERITIES:
        return _DIGIT_SEVERITIES[value]
    if value.startswith("DEBUG_") or value.startswith("DEBUG-"):
        return "DEBUG"
    return _NAMED_SEVERITIES.get(value, "INFO")


def _record_time(timestamp_ms: int | None) -> datetime:
    try:
        if timestamp_ms is not None and timestamp_ms > 0:
            return datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        pass
    return datetime.now(UTC)


def _plausible_ns(ns: int) -> bool:
    return _EPOCH_2000_NS <= ns <= _time.time_ns() + 86_400 * 10**9


def _issue_time(value: int, fallback: datetime) -> datetime:
    """ERS time: nanoseconds (ers >= 1.5), or milliseconds (ers 1.3-1.4); else the record's time."""
    if value and _plausible_ns(value):
        return datetime.fromtimestamp(value / 1e9, UTC)
    if value and _plausible_ns(value * 10**6):  # old data in milliseconds
        return datetime.fromtimestamp(value / 1e3, UTC)
    return fallback


def decode_broadcast(topic: str, partition: int, offset: int, value: bytes, timestamp_ms: int | None) -> NewMessage:
    """A drunc `BroadcastMessage`; raises ValueError when the payload is not one."""
    message = broadcast_pb2.BroadcastMessage()
    try:
        message.ParseFromString(value)
    except DecodeError as exc:
        raise ValueError(f"not a BroadcastMessage: {exc}") from None
    if not message.emitter.process:
        raise ValueError("not a BroadcastMessage: no emitter process")
    text = ""
    if message.HasField("data"):
        if message.data.Is(generic_pb2.PlainText.DESCRIPTOR):
            plain = generic_pb2.PlainText()
            message.data.Unpack(plain)
            text = plain.text
        else:
            raise ValueError(f"broadcast data is {message.data.type_url!r}, not {_PLAIN_TEXT}")
    type_number = int(message.type)
    try:
        type_name = broadcast_pb2.BroadcastType.Name(type_number)
        severity = SEVERITY_BY_BROADCAST_TYPE.get(type_name, "INFO")
    except ValueError:
        type_name, severity = f"UNKNOWN_{type_number}", "INFO"
    return NewMessage(
        topic=topic, partition=partition, offset=offset, time=_record_time(timestamp_ms), kind="broadcast",
        severity=severity, session=message.emitter.session, source=message.emitter.process,
        broadcast_type=type_name, text=text,
    )


def _context(context: issue_pb2.Context) -> dict:
    return {
        "application": context.application_name,
        "host": context.host_name,
        "file": context.file_name,
        "line": context.line_number,
        "function": context.function_name,
        "pid": context.process_id,
        "thread": context.thread_id,
        "user": context.user_name,
        "user_id": context.user_id,
        "package": context.package_name,
        "cwd": context.cwd,
    }


def _cause(issue: issue_pb2.SimpleIssue, fallback: datetime) -> dict:
    return {
        "name": issue.name,
        "severity": normalise_ers_severity(issue.severity),
        "severity_raw": issue.severity,
        "message": issue.message,
        "time": _issue_time(issue.time, fallback).isoformat(),
        "inheritance": list(issue.inheritance),
        "context": _context(issue.context),
        "parameters": dict(sorted(issue.parameters.items())),
    }


def decode_ers(
    topic: str, partition: int, offset: int, key: bytes | None, value: bytes, timestamp_ms: int | None
) -> NewMessage:
    """An ERS `IssueChain`; raises ValueError when the payload is not one."""
    chain = issue_pb2.IssueChain()
    try:
        chain.ParseFromString(value)
    except DecodeError as exc:
        raise ValueError(f"not an IssueChain: {exc}") from None
    final = chain.final
    if not (final.message or final.name):
        raise ValueError("not an IssueChain: the final issue has neither a name nor a message")
    record_time = _record_time(timestamp_ms)
    session = chain.session
    if not session and key:
        session = key.decode("utf-8", errors="replace")
    details = {
        "severity_raw": final.severity,
        "inheritance": list(final.inheritance),
        "context": _context(final.context),
        "parameters": dict(sorted(final.parameters.items())),
        "causes": [_cause(c, record_time) for c in chain.causes],
    }
    if chain.module:
        details["module"] = chain.module
    if chain.application and final.context.application_name and chain.application != final.context.application_name:
        details["context_application"] = final.context.application_name
    return NewMessage(
        topic=topic, partition=partition, offset=offset, time=_issue_time(final.time, record_time), kind="ers",
        severity=normalise_ers_severity(final.severity), session=session,
        source=chain.application or final.context.application_name, host=final.context.host_name,
        issue_name=final.name, text=final.message, details=details,
    )


def undecodable(
    topic: str, partition: int, offset: int, value: bytes | None, timestamp_ms: int | None, error: str
) -> NewMessage:
    data = bytes(value or b"")
    return NewMessage(
        topic=topic, partition=partition, offset=offset, time=_record_time(timestamp_ms), kind="undecodable",
        severity="WARNING", text=f"undecodable payload on {topic}: {error}",
        details={"hex": data[:_HEX_PREVIEW].hex(), "length": len(data), "error": error},
    )


def decode_record(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    timestamp_ms: int | None,
    *,
    ers: bool,
) -> NewMessage:
    """Decode one record as ERS (`ers=True`) or a drunc broadcast; anything else becomes an undecodable row.

    Never raises.
    """
    try:
        if value is None:
            return undecodable(topic, partition, offset, value, timestamp_ms, "empty record (no value)")
        if ers:
            return decode_ers(topic, partition, offset, key, value, timestamp_ms)
        return decode_broadcast(topic, partition, offset, value, timestamp_ms)
    except Exception as exc:  # noqa: BLE001 - one bad record must never stop the consumer
        error = str(exc) or type(exc).__name__
        try:
            return undecodable(topic, partition, offset, value, timestamp_ms, error[:500])
        except Exception:  # noqa: BLE001 - e.g. a value that is not bytes at all
            return NewMessage(
                topic=str(topic), partition=int(partition or 0), offset=int(offset or 0), time=datetime.now(UTC),
                kind="undecodable", severity="WARNING", text=f"undecodable payload on {topic}: {error[:500]}",
                details={"hex": "", "length": 0, "error": error[:500]},
            )


__all__ = [
    "SEVERITIES",
    "SEVERITY_BY_BROADCAST_TYPE",
    "decode_broadcast",
    "decode_ers",
    "decode_record",
    "normalise_ers_severity",
    "undecodable",
]
