"""The session manager in druncschema 0.11 (drunc-protocol-0.11.md sections 2.8 and 4).

Intended behaviour (`bugs=False`): `describe`; `list_all_sessions` → `AllActiveSessions`; `list_all_configs` →
`AllConfigKeys`; and, for the rpcs drunc leaves unimplemented, the payloads `drunc_client.session_manager_011`
sends: `load_config` ConfigKey → ConfigKey, `start_session` ActiveSession → ActiveSession (the caller becomes
the user), `stop_session` PlainText → PlainText. Refusals are flag 6 (DRUNC_EXCEPTION_THROWN) with a Stacktrace.

`bugs=True` is drunc 0.13.2: `describe` and `list_all_sessions` fail with gRPC UNKNOWN ("takes 2 positional
arguments but 3 were given"), the other rpcs are UNIMPLEMENTED.
"""

from __future__ import annotations

import threading

import grpc

from drunc_client.generated.druncschema import broadcast_pb2, generic_pb2
from drunc_client.generated_011.druncschema import request_response_pb2 as rr
from drunc_client.generated_011.druncschema import session_manager_pb2 as sm
from drunc_client.generated_011.druncschema import session_manager_pb2_grpc as sm_grpc
from simulator.broadcast import Broadcaster, NullBroadcaster
from simulator.controller_011 import respond
from simulator.rpc import stacktrace_of

SEED_CONFIGS = (sm.ConfigKey(file="example-configs.data.xml", session_id="local-1x1-config"),
                sm.ConfigKey(file="np04-daq.data.xml", session_id="np04-daq-config"))
SEED_SESSIONS = (("np04-coldbox", "daq", "np04-daq-config"),)


class SessionManager011Servicer(sm_grpc.SessionManagerServicer):
    def __init__(self, broadcaster: Broadcaster | None = None, bugs: bool = False, name: str = "session_manager"):
        self.name = name
        self.session = "session_manager"
        self.bugs = bugs
        self.broadcaster = broadcaster if broadcaster is not None else NullBroadcaster()
        self._lock = threading.Lock()
        self._configs = {k.session_id: k.file for k in SEED_CONFIGS}
        self._sessions = {name: (user, config) for name, user, config in SEED_SESSIONS}

    def add_to_server(self, server) -> None:
        sm_grpc.add_SessionManagerServicer_to_server(self, server)

    def _broken(self, context, rpc: str):
        if rpc in ("describe", "list_all_sessions"):
            raise TypeError(f"{rpc}() takes 2 positional arguments but 3 were given")
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not implemented!")

    def _answer(self, request, context, rpc: str, run):
        if self.bugs:
            self._broken(context, rpc)
        self.broadcaster.emit(self.name, self.session, broadcast_pb2.ACK,
                              f"User '{request.token.user_name}' attempting to execute '{rpc}'")
        try:
            return respond(self.name, run(), token=request.token)
        except ValueError as exc:
            return respond(self.name, stacktrace_of(exc), rr.DRUNC_EXCEPTION_THROWN, request.token)

    @staticmethod
    def _payload(request, cls):
        message = cls()
        if not request.HasField("data") or not request.data.Unpack(message):
            raise ValueError(f"Cannot unpack '{request.data.type_url}' to '{cls.__name__}'")
        return message

    def describe(self, request, context):
        def run():
            description = rr.Description(type="session_manager", name=self.name, session=self.session)
            for rpc in ("describe", "list_all_sessions", "list_all_configs"):
                description.commands.add(name=rpc)
            return description
        return self._answer(request, context, "describe", run)

    def list_all_sessions(self, request, context):
        def run():
            with self._lock:
                return sm.AllActiveSessions(active_sessions=[
                    sm.ActiveSession(name=n, user=u, config_key=sm.ConfigKey(file=self._configs.get(c, ""),
                                                                            session_id=c))
                    for n, (u, c) in sorted(self._sessions.items())])
        return self._answer(request, context, "list_all_sessions", run)

    def list_all_configs(self, request, context):
        def run():
            with self._lock:
                return sm.AllConfigKeys(config_keys=[sm.ConfigKey(file=f, session_id=s)
                                                     for s, f in self._configs.items()])
        return self._answer(request, context, "list_all_configs", run)

    def load_config(self, request, context):
        def run():
            key = self._payload(request, sm.ConfigKey)
            if not key.session_id.strip():
                raise ValueError("A configuration needs a session id")
            with self._lock:
                self._configs[key.session_id] = key.file
            return key
        return self._answer(request, context, "load_config", run)

    def start_session(self, request, context):
        def run():
            wanted = self._payload(request, sm.ActiveSession)
            name, config = wanted.name.strip(), wanted.config_key.session_id
            if not name:
                raise ValueError("A session needs a name")
            with self._lock:
                if name in self._sessions:
                    raise ValueError(f"Session '{name}' already exists")
                if config not in self._configs:
                    raise ValueError(f"Configuration '{config}' is not loaded")
                self._sessions[name] = (request.token.user_name, config)
            return sm.ActiveSession(name=name, user=request.token.user_name,
                                    config_key=sm.ConfigKey(file=self._configs[config], session_id=config))
        return self._answer(request, context, "start_session", run)

    def stop_session(self, request, context):
        def run():
            name = self._payload(request, generic_pb2.PlainText).text.strip()
            with self._lock:
                if self._sessions.pop(name, None) is None:
                    raise ValueError(f"Session '{name}' does not exist")
            return generic_pb2.PlainText(text=f"Session '{name}' stopped")
        return self._answer(request, context, "stop_session", run)
