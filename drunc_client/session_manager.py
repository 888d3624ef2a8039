"""Session-manager adapter: the SessionManager rpcs as plain Python values.

druncschema 0.8.x defines the service but drunc 0.10.x ships no server, so the per-rpc payloads are the ones our
simulator defines (see the docstring of `simulator.session_manager`):

- `list_session` → `SessionsAndUsers` (session → actor user);
- `list_configuration` → names in `data` (`PlainTextVector`), one child `Response` per configuration with
  `data = ConfigurationKey`;
- `load_configuration(ConfigurationKey)`, `start_session(SessionDescription)`, `terminate_session(PlainText)`.

Every failure is a `drunc_client.errors` type: flags → `DruncFlagError` (via `transport.check`), unreachable →
`BackendUnavailable`, an unexpected payload → `ProtocolError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from drunc_client.errors import InvalidArguments
from drunc_client.generated.druncschema import (
    broadcast_pb2,
    generic_pb2,
    request_response_pb2,
    session_manager_pb2,
    session_manager_pb2_grpc,
)
from drunc_client.layouts import V011, LayoutCache, check_schema, detect_session_manager, resolve
from drunc_client.transport import Endpoint, channel, check, normalise_address, unpack

ConfigurationKind = Literal["OKS", "DAQCONF"]
KINDS: tuple[str, ...] = tuple(session_manager_pb2.ConfigurationKey.ConfigurationType.keys())


@dataclass(frozen=True)
class SessionInfo:
    name: str
    actor: str
    # druncschema 0.11 names the session's configuration (ConfigKey); 0.8's SessionsAndUsers does not
    configuration: str = ""
    configuration_file: str = ""


@dataclass(frozen=True)
class ConfigurationInfo:
    name: str
    version: str
    location: str
    kind: ConfigurationKind = "OKS"

    def to_key(self) -> session_manager_pb2.ConfigurationKey:
        if self.kind not in KINDS:
            raise InvalidArguments(f"configuration kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        return session_manager_pb2.ConfigurationKey(
            name=self.name, version=self.version, location=self.location,
            ctype=session_manager_pb2.ConfigurationKey.ConfigurationType.Value(self.kind))

    @classmethod
    def from_key(cls, key: session_manager_pb2.ConfigurationKey) -> ConfigurationInfo:
        kind = session_manager_pb2.ConfigurationKey.ConfigurationType.Name(key.ctype) \
            if key.ctype in session_manager_pb2.ConfigurationKey.ConfigurationType.values() else str(key.ctype)
        return cls(name=key.name, version=key.version, location=key.location, kind=kind)


@dataclass(frozen=True)
class SessionManagerDescription:
    type: str
    name: str
    session: str | None
    commands: tuple[str, ...]
    kafka_address: str | None = None
    topic: str | None = None


class SessionManagerClient:
    """One session manager, called on behalf of `user_name` (the token's user becomes a new session's actor)."""

    def __init__(self, address: str, user_name: str, timeout: float = 5.0, schema: str = "auto",
                 layouts: LayoutCache | None = None):
        self.endpoint = Endpoint(normalise_address(address), user_name, timeout)
        self.schema = check_schema(schema)
        self.layouts = layouts if layouts is not None else LayoutCache()

    @property
    def layout(self) -> str:
        """"0.8" or "0.11" (drunc 0.13.2 / 0.14.0): forced, or detected once per endpoint."""
        address, user, timeout = self.endpoint.address, self.endpoint.user_name, self.endpoint.timeout
        return resolve(self.schema, self.layouts, address, lambda: detect_session_manager(address, user, timeout))

    def _v11(self):
        if self.layout != V011:
            return None
        from drunc_client.session_manager_011 import SessionManager011

        return SessionManager011(self.endpoint)

    @property
    def address(self) -> str:
        return self.endpoint.address

    def _stub(self) -> session_manager_pb2_grpc.SessionManagerStub:
        return session_manager_pb2_grpc.SessionManagerStub(channel(self.endpoint.address))

    def _call(self, rpc: str, payload=None) -> request_response_pb2.Response:
        response = self.endpoint.call(getattr(self._stub(), rpc), rpc, payload)
        return check(response, rpc)

    def _data(self, response: request_response_pb2.Response, cls, rpc: str):
        return unpack(response.data, cls, server=response.name or self.address, rpc=rpc)

    def describe(self) -> SessionManagerDescription:
        if (v11 := self._v11()) is not None:
            return v11.describe()
        response = self._call("describe")
        description = self._data(response, request_response_pb2.Description, "describe")
        kafka_address = topic = None
        if description.HasField("broadcast"):
            config = broadcast_pb2.KafkaBroadcastHandlerConfiguration()
            if description.broadcast.Unpack(config):
                kafka_address, topic = config.kafka_address, config.topic
        return SessionManagerDescription(
            type=description.type, name=description.name,
            session=description.session if description.HasField("session") else None,
            commands=tuple(c.name for c in description.commands), kafka_address=kafka_address, topic=topic)

    def sessions(self) -> list[SessionInfo]:
        """Raises SessionManagerNotUsable on a drunc 0.13.x session manager (its gRPC bugs)."""
        if (v11 := self._v11()) is not None:
            return v11.sessions()
        response = self._call("list_session")
        listing = self._data(response, session_manager_pb2.SessionsAndUsers, "list_session")
        return [SessionInfo(name, actor) for name, actor in sorted(listing.session_users.items())]

    def configurations(self) -> list[ConfigurationInfo]:
        if (v11 := self._v11()) is not None:
            return v11.configurations()
        response = self._call("list_configuration")
        configurations = []
        for child in response.children:
            check(child, "list_configuration")
            key = self._data(child, session_manager_pb2.ConfigurationKey, "list_configuration")
            configurations.append(ConfigurationInfo.from_key(key))
        return configurations

    def load_configuration(self, name: str, version: str = "", location: str = "",
                           kind: ConfigurationKind = "OKS") -> ConfigurationInfo:
        if not name.strip():
            raise InvalidArguments("a configuration needs a name")
        if (v11 := self._v11()) is not None:
            return v11.load_configuration(name.strip(), location)
        key = ConfigurationInfo(name, version, location, kind).to_key()
        response = self._call("load_configuration", key)
        return ConfigurationInfo.from_key(self._data(response, session_manager_pb2.ConfigurationKey,
                                                     "load_configuration"))

    def start_session(self, name: str, configuration: str | ConfigurationInfo) -> SessionInfo:
        """Start session `name` from a loaded configuration (by name, or a ConfigurationInfo to pin the version)."""
        name = name.strip()
        if not name:
            raise InvalidArguments("a session needs a name")
        if (v11 := self._v11()) is not None:
            return v11.start_session(name, configuration.name if isinstance(configuration, ConfigurationInfo)
                                     else configuration)
        if isinstance(configuration, ConfigurationInfo):
            key = configuration.to_key()
        else:
            key = session_manager_pb2.ConfigurationKey(name=configuration)
        request = session_manager_pb2.SessionDescription(config=key, session_name=name)
        response = self._call("start_session", request)
        self._data(response, generic_pb2.PlainText, "start_session")
        return SessionInfo(name, self.endpoint.user_name)

    def terminate_session(self, name: str) -> str:
        """Terminate session `name`; returns the server's confirmation text."""
        if (v11 := self._v11()) is not None:
            return v11.terminate_session(name)
        response = self._call("terminate_session", generic_pb2.PlainText(text=name))
        return self._data(response, generic_pb2.PlainText, "terminate_session").text
