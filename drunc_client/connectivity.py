"""Client of the DUNE-DAQ connectivity service (HTTP + JSON), where drunc controllers register themselves.

Standard library only (urllib.request). Like drunc's own client: 0.5 s per try, a few tries, `http://` added
when the address has no scheme. Failures are DruncErrors with one-line messages: `BackendUnavailable` when the
service does not answer, `ProtocolError` for an answer that is not what the REST interface promises.

`ControllerResolver` keeps each session's controller addresses for a modest period only (a session re-booted
elsewhere must be found again), and forgets a session at once when one of its controllers was unreachable.
It is an ordinary object: each process (gunicorn worker, CLI run) builds its own.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from drunc_client.errors import BackendUnavailable, DruncError, NotRegistered, ProtocolError

TRY_TIMEOUT = 0.5
TRIES = 3
RETRY_PAUSE = 0.1
CONTROL_SUFFIX = "_control"
CONTROL_DATA_TYPE = "RunControlMessage"
ROOT_CONTROLLER = "root-controller"
RESOLVE_PERIOD = 30.0


def service_url(address: str) -> str:
    """`host:port` or `http(s)://host:port[/prefix]` → the base URL without a trailing slash."""
    address = address.strip().rstrip("/")
    return address if "://" in address else f"http://{address}"


@dataclass(frozen=True)
class Connection:
    uid: str
    uri: str
    data_type: str
    connection_type: int = 0

    @property
    def address(self) -> str:
        """host:port, as gRPC wants it (drunc strips `grpc://` the same way)."""
        return self.uri.removeprefix("grpc://")


@dataclass(frozen=True)
class SessionControllers:
    """Every controller a session has registered, from one query. `root` is None when the root controller is
    not registered (the clear state the UI shows instead of an error)."""

    session: str
    service: str
    controllers: dict[str, str] = field(default_factory=dict)  # controller name → host:port
    resolved_at: float = 0.0  # time.monotonic()

    @property
    def root(self) -> str | None:
        return self.controllers.get(ROOT_CONTROLLER)

    @property
    def children(self) -> dict[str, str]:
        return {name: address for name, address in self.controllers.items() if name != ROOT_CONTROLLER}

    def require_root(self) -> str:
        if self.root is None:
            raise NotRegistered(self.session, ROOT_CONTROLLER, self.service)
        return self.root


class ConnectivityClient:
    def __init__(self, address: str, timeout: float = TRY_TIMEOUT, tries: int = TRIES):
        self.url = service_url(address)
        self.timeout = timeout
        self.tries = max(1, tries)

    def _request(self, path: str, body: dict | None = None, form: dict | None = None,
                 missing_ok: bool = False) -> str | None:
        """POST (GET without a body); the answer's text, or None for a 404 when `missing_ok`."""
        data, headers = None, {}
        if body is not None:
            data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        try:
            request = urllib.request.Request(self.url + path, data=data, headers=headers,
                                             method="POST" if data is not None else "GET")
        except ValueError:
            raise DruncError(f"connectivity service address {self.url!r} is not host:port or an http URL") from None
        last = "no answer"
        for attempt in range(self.tries):
            if attempt:
                time.sleep(RETRY_PAUSE)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                    return answer.read().decode("utf-8", "replace")
            except urllib.error.HTTPError as exc:
                if exc.code == 404 and missing_ok:
                    return None
                if exc.code >= 500:
                    last = f"HTTP {exc.code}"
                    continue
                raise ProtocolError(f"connectivity service {self.url}: {path} answered HTTP {exc.code}") from None
            except ValueError as exc:  # http.client.InvalidURL and friends
                raise DruncError(f"connectivity service address {self.url!r} is not usable: {exc}") from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                last = "no answer before the deadline" if "timed out" in str(reason) else str(reason)
        raise BackendUnavailable(f"connectivity service {self.url}", last)

    # -- lookups ----------------------------------------------------------------------------------------------

    def lookup(self, session: str, uid_regex: str, data_type: str) -> list[Connection]:
        """Every live entry of `session` whose uid fully matches `uid_regex` and whose data type is `data_type`;
        [] for an unknown session (newer servers answer 404 for it, the older ones [])."""
        path = "/getconnection/" + urllib.parse.quote(session, safe="")
        text = self._request(path, {"uid_regex": uid_regex, "data_type": data_type}, missing_ok=True)
        if text is None:
            return []
        try:
            entries = json.loads(text)
            return [Connection(str(e["uid"]), str(e["uri"]), str(e["data_type"]), int(e.get("connection_type", 0)))
                    for e in entries]
        except (ValueError, TypeError, KeyError, AttributeError):
            raise ProtocolError(f"connectivity service {self.url}: getconnection answered {text[:80]!r}") from None

    def controllers(self, session: str) -> SessionControllers:
        """Every controller of `session` (root and children) with one query."""
        found = self.lookup(session, f".*{CONTROL_SUFFIX}", CONTROL_DATA_TYPE)
        return SessionControllers(session, self.url,
                                  {c.uid.removesuffix(CONTROL_SUFFIX): c.address for c in found},
                                  time.monotonic())

    def controller(self, session: str, name: str = ROOT_CONTROLLER) -> str:
        """One controller's host:port, as drunc resolves it (exactly one entry expected)."""
        found = self.lookup(session, re.escape(name + CONTROL_SUFFIX), CONTROL_DATA_TYPE)
        if not found:
            raise NotRegistered(session, name, self.url)
        if len(found) > 1:
            raise ProtocolError(f"connectivity service {self.url}: {len(found)} entries for {name}{CONTROL_SUFFIX}")
        return found[0].address

    # -- publishing (what drunc's controllers do) -----------------------------------------------------------

    def publish(self, session: str, connections: list[Connection]) -> None:
        self._request("/publish", {"partition": session, "connections": [
            {"connection_type": c.connection_type, "data_type": c.data_type, "uid": c.uid, "uri": c.uri}
            for c in connections]})

    def retract(self, session: str, uids: list[tuple[str, str]]) -> bool:
        """Remove (uid, data_type) entries; False when the service did not know the session or one uid."""
        body = {"partition": session, "connections": [{"connection_id": u, "data_type": d} for u, d in uids]}
        return self._request("/retract", body, missing_ok=True) is not None

    def retract_partition(self, session: str) -> bool:
        return self._request("/retract-partition", form={"partition": session}, missing_ok=True) is not None


class ControllerResolver:
    """Each session's controllers, resolved at most every `period` seconds and at once after `forget`."""

    def __init__(self, client: ConnectivityClient, period: float = RESOLVE_PERIOD):
        self.client = client
        self.period = period
        self._known: dict[str, SessionControllers] = {}
        self._lock = threading.Lock()

    def resolve(self, session: str, *, fresh: bool = False) -> SessionControllers:
        """Never raises NotRegistered (an unregistered root is `root is None`); BackendUnavailable does raise."""
        with self._lock:
            known = self._known.get(session)
        if known is not None and not fresh and time.monotonic() - known.resolved_at < self.period:
            return known
        resolved = self.client.controllers(session)
        with self._lock:
            if resolved.root is None:
                self._known.pop(session, None)  # look again next time: the session may be booting
            else:
                self._known[session] = resolved
        return resolved

    def forget(self, session: str) -> None:
        with self._lock:
            self._known.pop(session, None)
