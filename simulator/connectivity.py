"""A look-alike of the DUNE-DAQ connectivity service, and the publisher drunc's controllers run against it.

Our own implementation of the service's REST interface (see docs/connectivity-service.md in the shared
docs): one dictionary per partition (= drunc session), entries time-stamped at each publish and returned only
while younger than `ttl` seconds. Standard library only (ThreadingHTTPServer); the real one is Flask.

| route | answer |
|---|---|
| POST /publish (JSON partition, connections) | OK |
| POST or GET /getconnection/<P> (JSON uid_regex, data_type) | JSON list of live entries (uid fully matches, |
| | data_type equal); [] for an unknown partition |
| POST /retract (JSON partition, connections[].connection_id) | OK; 404 for an unknown partition or id |
| POST /retract-partition (form, or JSON, partition) | OK; 404 when unknown |
| GET / | HTML dump (expired entries struck out); GET /stats; GET /resetStats; GET /resetService |
"""

from __future__ import annotations

import html
import json
import logging
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from drunc_client.connectivity import CONTROL_DATA_TYPE, CONTROL_SUFFIX, Connection, ConnectivityClient
from drunc_client.errors import DruncError

log = logging.getLogger("simulator.connectivity")

ENTRY_TTL = 10.0
PUBLISH_PERIOD = 2.0


class BadRequest(Exception):
    pass


@dataclass
class Entry:
    uri: str
    data_type: str
    connection_type: int
    capacity: int
    time: float  # time.monotonic() of the last publish


class ConnectivityStore:
    """The service's state: partition → uid → Entry, behind one lock."""

    def __init__(self, ttl: float = ENTRY_TTL):
        self.ttl = ttl
        self.partitions: dict[str, dict[str, Entry]] = {}
        self.lock = threading.Lock()
        self.reset_stats()

    def reset_stats(self) -> None:
        self.publishes = 0
        self.lookups = 0
        self.since = time.time()

    def publish(self, body: dict) -> None:
        partition, connections = body["partition"], body["connections"]
        if not isinstance(partition, str) or not isinstance(connections, list):
            raise BadRequest("partition must be a string and connections a list")
        now = time.monotonic()
        with self.lock:
            store = self.partitions.setdefault(partition, {})
            for c in connections:
                if isinstance(c, dict) and "uid" in c and "uri" in c:
                    store[str(c["uid"])] = Entry(str(c["uri"]), str(c.get("data_type", "")),
                                                 int(c.get("connection_type", 0)), int(c.get("capacity", 0)), now)
            self.publishes += 1

    def lookup(self, partition: str, body: dict) -> list[dict]:
        if "uid_regex" not in body or "data_type" not in body:
            raise BadRequest("uid_regex and data_type are required")
        try:
            regex = re.compile(str(body["uid_regex"]))
        except re.error as exc:
            raise BadRequest(f"bad uid_regex: {exc}") from None
        now = time.monotonic()
        with self.lock:
            self.lookups += 1
            store = dict(self.partitions.get(partition, {}))
        return [{"uid": uid, "uri": e.uri, "connection_type": e.connection_type, "data_type": e.data_type,
                 "capacity": e.capacity}
                for uid, e in store.items()
                if regex.fullmatch(uid) and e.data_type == body["data_type"] and now - e.time < self.ttl]

    def retract(self, body: dict) -> bool:
        partition = body.get("partition")
        if "connections" not in body:
            raise BadRequest("connections is required")
        with self.lock:
            store = self.partitions.get(partition)
            if store is None:
                return False
            good = True
            for c in body["connections"]:
                good = store.pop(str(c.get("connection_id")), None) is not None and good
            if not store:
                self.partitions.pop(partition, None)
            return good

    def retract_partition(self, partition: str) -> bool:
        with self.lock:
            return self.partitions.pop(partition, None) is not None

    def reset(self) -> None:
        with self.lock:
            self.partitions.clear()
        self.reset_stats()

    def stats_html(self) -> str:
        with self.lock:
            sizes = {p: len(s) for p, s in self.partitions.items()}
        rows = "".join(f"<p>Entries in partition {html.escape(p)} = {n}</p>" for p, n in sizes.items())
        return (f"<p>Since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(self.since))}</p>"
                f"<p>{self.publishes} calls to publish</p><p>{self.lookups} calls to lookup</p>{rows}")

    def dump_html(self) -> str:
        now = time.monotonic()
        with self.lock:
            partitions = {p: dict(s) for p, s in self.partitions.items()}
        parts = ["<h1>Dump of configuration dictionary</h1><h2>Partitions</h2>"]
        if not partitions:
            parts.append("<p>None</p>")
        for partition, store in partitions.items():
            parts.append(f"<h3>{html.escape(partition)}</h3><table><tr><th>Name</th><th>uri</th><th>data_type</th>"
                         "<th>connection_type</th><th>age (s)</th></tr>")
            for uid, e in store.items():
                cells = [uid, e.uri, e.data_type, str(e.connection_type), f"{now - e.time:.1f}"]
                expired = now - e.time >= self.ttl
                parts.append("<tr>" + "".join(f"<td>{'<s>' if expired else ''}{html.escape(c)}"
                                              f"{'</s>' if expired else ''}</td>" for c in cells) + "</tr>")
            parts.append("</table>")
        parts.append("<hr><h2>Server statistics</h2>" + self.stats_html())
        return "".join(parts)


def _handler(store: ConnectivityStore) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "connectivity-lookalike"

        def log_message(self, format, *args):  # noqa: A002 - the base class's signature
            log.debug("%s " + format, self.address_string(), *args)

        def _answer(self, status: int, text: str, content_type: str = "text/html; charset=utf-8") -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length > 0 else b""

        def _json(self) -> dict:
            raw = self._body()
            if not raw:
                raise BadRequest("empty body")
            try:
                body = json.loads(raw)
            except ValueError:
                raise BadRequest("body is not JSON") from None
            if not isinstance(body, dict):
                raise BadRequest("body is not a JSON object")
            return body

        def _route(self, method: str) -> None:
            path = urllib.parse.urlsplit(self.path).path
            try:
                if path.startswith("/getconnection/"):
                    partition = urllib.parse.unquote(path.removeprefix("/getconnection/"))
                    found = store.lookup(partition, self._json())
                    return self._answer(200, json.dumps(found), "application/json")
                if method == "POST" and path == "/publish":
                    store.publish(self._json())
                    return self._answer(200, "OK")
                if method == "POST" and path == "/retract":
                    ok = store.retract(self._json())
                    return self._answer(200, "OK") if ok else self._answer(404, "Not found")
                if method == "POST" and path == "/retract-partition":
                    ok = store.retract_partition(self._partition_field())
                    return self._answer(200, "OK") if ok else self._answer(404, "Not found")
                if method == "GET" and path == "/":
                    return self._answer(200, store.dump_html())
                if method == "GET" and path in ("/stats", "/resetStats"):
                    text = "<h1>Connection server statistics</h1>" + store.stats_html()
                    if path == "/resetStats":
                        store.reset_stats()
                    return self._answer(200, text)
                if method == "GET" and path == "/resetService":
                    store.reset()
                    return self._answer(200, "<h1>Connection server statistics</h1>" + store.stats_html())
                return self._answer(404, "Not found")
            except (BadRequest, KeyError, TypeError, ValueError) as exc:
                return self._answer(400, f"Bad request: {exc}")

        def _partition_field(self) -> str:
            raw = self._body()
            if self.headers.get("Content-Type", "").startswith("application/json"):
                value = json.loads(raw or b"{}").get("partition")
            else:
                value = (urllib.parse.parse_qs(raw.decode()).get("partition") or [None])[0]
            if not value:
                raise BadRequest("partition is required")
            return value

        def do_GET(self):  # noqa: N802 - http.server's naming
            self._route("GET")

        def do_POST(self):  # noqa: N802
            self._route("POST")

    return Handler


class ConnectivityServer:
    """The look-alike service on a background thread: `address` is host:port once started."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, ttl: float = ENTRY_TTL):
        self.store = ConnectivityStore(ttl)
        self.httpd = ThreadingHTTPServer((host, port), _handler(self.store))
        self.httpd.daemon_threads = True
        self.address = f"{host}:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="connectivity-service", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def start(self) -> ConnectivityServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self.httpd.shutdown()
        self.httpd.server_close()


class ControllerPublisher:
    """What a drunc controller does with a connectivity service: publish `<name>_control` → grpc://address
    every `period` seconds from a background thread, and retract it when stopped."""

    def __init__(self, service: str, session: str, name: str, address: str, period: float = PUBLISH_PERIOD):
        self.client = ConnectivityClient(service, tries=1)
        self.session = session
        self.connection = Connection(name + CONTROL_SUFFIX, f"grpc://{address}", CONTROL_DATA_TYPE)
        self.period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"publish-{name}", daemon=True)

    def start(self) -> ControllerPublisher:
        self._publish()  # registered once start() returns: a client resolving right after finds it
        self._thread.start()
        return self

    def _publish(self) -> None:
        try:
            self.client.publish(self.session, [self.connection])
        except DruncError as exc:  # the service may come later or come back: keep trying
            log.debug("publishing %s failed: %s", self.connection.uid, exc)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self._publish()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        try:
            self.client.retract(self.session, [(self.connection.uid, self.connection.data_type)])
        except DruncError as exc:
            log.debug("retracting %s failed: %s", self.connection.uid, exc)
