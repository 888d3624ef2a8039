"""A simulated drunc session manager (service `dunedaq.druncschema.SessionManager`).

druncschema 0.8.x defines the service and its messages, but drunc 0.10.x ships no server for it, so no
per-rpc payloads can be confirmed against a real deployment. This module fixes them as follows (the client in
`drunc_client.session_manager` reads exactly this). Every rpc takes the usual `Request{token, data}` and answers
a `Response` with `name = "session_manager"`; mutating rpcs echo the caller's token.

- `describe`: no payload → `Description{type "session_manager", name, session, commands, broadcast}`;
  `broadcast` = `KafkaBroadcastHandlerConfiguration{kafka_address, topic}` when broadcasting to Kafka.
- `list_session`: no payload → `SessionsAndUsers{session_users: session name → actor user}`.
- `list_configuration`: no payload → `PlainTextVector{text: configuration names}`, plus **one child `Response`
  per configuration**, in the same order: `name` = the configuration name, flag 0, `data = ConfigurationKey`
  (the schema has no list message for configurations).
- `load_configuration`: `ConfigurationKey` → the `ConfigurationKey` as stored. A name that is already loaded is
  **replaced** (a reload); an empty name → flag 6.
- `start_session`: `SessionDescription{config, session_name}` → `PlainText` (a sentence naming session,
  configuration and actor). The caller's `token.user_name` becomes the session's actor. Flag 6 when the session
  name is empty or already exists, or when the configuration is not loaded (matched by name, and by version when
  the request gives one).
- `terminate_session`: `PlainText{text: session name}` → `PlainText` (a sentence). Flag 6 when the session does
  not exist. Any user may terminate a session (drunc's authoriser allows everything).

Errors follow drunc's conventions (section 9.1 of the protocol notes): a refusal is a `DruncException` → flag 6
with a `Stacktrace`; a missing or wrong payload → flag 7 (drunc's unpacking bug). Every rpc broadcasts ACK before
and COMMAND_EXECUTION_SUCCESS after success on topic `control.<session>.session_manager`. The session manager
belongs to no DAQ session, so `session` defaults to `no_session` (the process manager's convention for "none").

Seeded with two configurations (`local-1x1-config`, `np04-daq-config`) and one session (`np04-coldbox`, actor
`daq`).
"""

from __future__ import annotations

import threading

from drunc_client.generated.druncschema import (
    broadcast_pb2,
    generic_pb2,
    request_response_pb2,
    session_manager_pb2,
    session_manager_pb2_grpc,
)
from simulator.broadcast import Broadcaster, NullBroadcaster, topic_for
from simulator.rpc import DruncException, plain, respond, traced, unpack_request

SM = session_manager_pb2
OKS = SM.ConfigurationKey.OKS
DAQCONF = SM.ConfigurationKey.DAQCONF

SEED_CONFIGURATIONS = (
    SM.ConfigurationKey(name="local-1x1-config", version="v1.0",
                        location="oksconflibs:config/daqsystemtest/example-configs.data.xml", ctype=OKS),
    SM.ConfigurationKey(name="np04-daq-config", version="v5.2.1",
                        location="/cvmfs/dunedaq.opensciencegrid.org/configs/np04/np04-daq-config.json",
                        ctype=DAQCONF),
)
SEED_SESSIONS = {"np04-coldbox": ("daq", "np04-daq-config")}

_COMMANDS = (
    ("describe", (), "Describe the session manager", "Description"),
    ("list_session", (), "Sessions and the user that owns each", "SessionsAndUsers"),
    ("start_session", ("SessionDescription",), "Start a session from a loaded configuration", "PlainText"),
    ("terminate_session", ("PlainText",), "Terminate a session, by name", "PlainText"),
    ("load_configuration", ("ConfigurationKey",), "Load (or reload) a configuration", "ConfigurationKey"),
    ("list_configuration", (), "Loaded configurations: names in data, one ConfigurationKey per child",
     "PlainTextVector"),
)


def _copy(key: session_manager_pb2.ConfigurationKey) -> session_manager_pb2.ConfigurationKey:
    duplicate = SM.ConfigurationKey()
    duplicate.CopyFrom(key)
    return duplicate


class SessionManagerServicer(session_manager_pb2_grpc.SessionManagerServicer):
    """In-memory sessions (name → actor user, configuration) and configurations (name → ConfigurationKey)."""

    def __init__(self, broadcaster: Broadcaster | None = None, session: str = "no_session",
                 name: str = "session_manager", seed: bool = True):
        self.name = name
        self.session = session
        self.broadcaster = broadcaster if broadcaster is not None else NullBroadcaster()
        self._lock = threading.Lock()
        self._configurations: dict[str, session_manager_pb2.ConfigurationKey] = {}
        self._sessions: dict[str, tuple[str, str]] = {}  # session → (actor user, configuration name)
        if seed:
            for key in SEED_CONFIGURATIONS:
                self._configurations[key.name] = _copy(key)
            self._sessions.update(SEED_SESSIONS)

    def add_to_server(self, server) -> None:
        session_manager_pb2_grpc.add_SessionManagerServicer_to_server(self, server)

    # -- read-only views, for the simulator and tests -----------------------------------------------------

    def sessions(self) -> dict[str, str]:
        with self._lock:
            return {name: user for name, (user, _) in self._sessions.items()}

    def configuration_names(self) -> list[str]:
        with self._lock:
            return list(self._configurations)

    # -- rpcs ----------------------------------------------------------------------------------------------

    @traced("describe")
    def describe(self, request, context):
        description = request_response_pb2.Description(type="session_manager", name=self.name, session=self.session)
        for name, data_types, help_text, return_type in _COMMANDS:
            description.commands.add(name=name, data_type=list(data_types), help=help_text, return_type=return_type)
        if self.broadcaster.kafka_address:
            description.broadcast.Pack(broadcast_pb2.KafkaBroadcastHandlerConfiguration(
                kafka_address=self.broadcaster.kafka_address, topic=topic_for(self.session, self.name)))
        return respond(self.name, description)

    @traced("list_session")
    def list_session(self, request, context):
        return respond(self.name, SM.SessionsAndUsers(session_users=self.sessions()))

    @traced("list_configuration")
    def list_configuration(self, request, context):
        with self._lock:
            keys = [_copy(k) for k in self._configurations.values()]
        children = [respond(key.name, key) for key in keys]
        return respond(self.name, generic_pb2.PlainTextVector(text=[k.name for k in keys]), children=children)

    @traced("load_configuration")
    def load_configuration(self, request, context):
        key = unpack_request(request, SM.ConfigurationKey)
        if not key.name.strip():
            raise DruncException("A configuration needs a name")
        with self._lock:
            self._configurations[key.name] = key
        return respond(self.name, key, token=request.token)

    @traced("start_session")
    def start_session(self, request, context):
        description = unpack_request(request, SM.SessionDescription)
        session_name = description.session_name.strip()
        wanted = description.config
        user = request.token.user_name
        if not session_name:
            raise DruncException("A session needs a name")
        with self._lock:
            if session_name in self._sessions:
                owner = self._sessions[session_name][0]
                raise DruncException(f"Session '{session_name}' already exists (started by '{owner}')")
            known = self._configurations.get(wanted.name)
            if known is None or (wanted.version and wanted.version != known.version):
                label = f"{wanted.name}" + (f" (version {wanted.version})" if wanted.version else "")
                raise DruncException(f"Configuration '{label}' is not loaded")
            self._sessions[session_name] = (user, known.name)
        return respond(self.name, plain(f"Session '{session_name}' started with configuration '{known.name}' "
                                        f"by '{user}'"), token=request.token)

    @traced("terminate_session")
    def terminate_session(self, request, context):
        session_name = unpack_request(request, generic_pb2.PlainText).text.strip()
        with self._lock:
            if session_name not in self._sessions:
                raise DruncException(f"Session '{session_name}' does not exist")
            del self._sessions[session_name]
        return respond(self.name, plain(f"Session '{session_name}' terminated"), token=request.token)
