"""The druncschema 0.11 adapter of `SessionManagerClient` (drunc-protocol-0.11.md sections 2.8 and 4).

drunc 0.13.2 / 0.14.0 serve `describe`, `list_all_sessions` (a hard-coded dummy) and, from 0.14.0,
`list_all_configs`; `start_session`, `stop_session` and `load_config` have no implementation (gRPC
UNIMPLEMENTED), and on 0.13.2 `describe` and `list_all_sessions` fail with gRPC UNKNOWN (a drunc bug). Those
answers become `SessionManagerNotUsable`, which the Sessions page shows as "session manager not usable
(drunc 0.13.x)". Payloads of the rpcs drunc leaves unimplemented are the simulator's choice: `load_config`
ConfigKey → ConfigKey, `start_session` ActiveSession → ActiveSession, `stop_session` PlainText → PlainText.
"""

from __future__ import annotations

from drunc_client.errors import ProtocolError, SessionManagerNotUsable
from drunc_client.generated.druncschema import broadcast_pb2, generic_pb2
from drunc_client.generated_011.druncschema import request_response_pb2 as rr
from drunc_client.generated_011.druncschema import session_manager_pb2 as sm
from drunc_client.generated_011.druncschema import session_manager_pb2_grpc as sm_grpc
from drunc_client.transport import Endpoint, channel, check

FLAG_NAMES = {v.number: v.name for v in rr.ResponseFlag.DESCRIPTOR.values}


class SessionManager011:
    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint

    def _call(self, rpc: str, payload=None) -> rr.Response:
        request = rr.Request()
        request.token.token = f"{self.endpoint.user_name}-token"
        request.token.user_name = self.endpoint.user_name
        if payload is not None:
            request.data.Pack(payload)
        stub = sm_grpc.SessionManagerStub(channel(self.endpoint.address))
        try:
            response = self.endpoint.send(getattr(stub, rpc), request)
        except ProtocolError as exc:  # gRPC UNKNOWN / UNIMPLEMENTED: drunc 0.13.x's session manager
            raise SessionManagerNotUsable(self.endpoint.address, rpc, str(exc)) from None
        return check(response, rpc, FLAG_NAMES)

    def _data(self, response: rr.Response, cls, rpc: str):
        message = cls()
        if not response.HasField("data") or not response.data.Unpack(message):
            raise ProtocolError(f"{self.endpoint.address}: {rpc} answered with "
                                f"{response.data.type_url or 'no data'}, expected {cls.__name__}")
        return message

    def describe(self):
        from drunc_client.session_manager import SessionManagerDescription

        description = self._data(self._call("describe"), rr.Description, "describe")
        kafka_address = topic = None
        if description.HasField("broadcast"):
            config = broadcast_pb2.KafkaBroadcastHandlerConfiguration()
            if description.broadcast.Unpack(config):
                kafka_address, topic = config.kafka_address, config.topic
        return SessionManagerDescription(
            type=description.type, name=description.name,
            session=description.session if description.HasField("session") else None,
            commands=tuple(c.name for c in description.commands), kafka_address=kafka_address, topic=topic)

    def sessions(self):
        from drunc_client.session_manager import SessionInfo

        listing = self._data(self._call("list_all_sessions"), sm.AllActiveSessions, "list_all_sessions")
        return sorted((SessionInfo(s.name, s.user, s.config_key.session_id, s.config_key.file)
                       for s in listing.active_sessions), key=lambda s: s.name)

    def configurations(self):
        keys = self._data(self._call("list_all_configs"), sm.AllConfigKeys, "list_all_configs")
        return [configuration(k) for k in keys.config_keys]

    def load_configuration(self, name: str, location: str):
        key = sm.ConfigKey(file=location, session_id=name)
        return configuration(self._data(self._call("load_config", key), sm.ConfigKey, "load_config"))

    def start_session(self, name: str, configuration_name: str):
        from drunc_client.session_manager import SessionInfo

        wanted = sm.ActiveSession(name=name, user=self.endpoint.user_name,
                                  config_key=sm.ConfigKey(session_id=configuration_name))
        started = self._data(self._call("start_session", wanted), sm.ActiveSession, "start_session")
        return SessionInfo(started.name, started.user, started.config_key.session_id, started.config_key.file)

    def terminate_session(self, name: str) -> str:
        response = self._call("stop_session", generic_pb2.PlainText(text=name))
        return self._data(response, generic_pb2.PlainText, "stop_session").text


def configuration(key: sm.ConfigKey):
    """A 0.11 ConfigKey (an OKS file and the session id in it) as the ConfigurationInfo pages show."""
    from drunc_client.session_manager import ConfigurationInfo

    return ConfigurationInfo(name=key.session_id, version="", location=key.file, kind="OKS")
