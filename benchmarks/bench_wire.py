"""Bytes on the wire: the Process Manager page's first load, a new tab's full table, an unchanged refresh.

The app is served over real HTTP (werkzeug's threaded server, in this process) against the drunc simulator
with virtual processes (`python -m simulator --virtual`, its own process). A logged-in HTTP client asks as a
browser does, with three Accept-Encoding headers:

    identity                  nothing compressed: the figures before this work
    gzip, deflate             what Chromium sends over plain http to another host
    gzip, deflate, br, zstd   what it sends over https (and to localhost)

and counts every byte it receives (status line, headers, body as sent, compressed or not).

First load (against a demo-sized table, --first-load-processes) = the page HTML, every script, stylesheet and
icon it references, the AG Grid chunk the grid loads lazily, /_dash-layout, /_dash-dependencies, the route
callback for /process-manager and the first table refresh. The login page comes first, as in a browser: what it
loaded under the same URL is not asked again. A second load with a warm browser cache is shown too: files with a
fingerprinted URL are not asked again, the others are revalidated (If-None-Match / If-Modified-Since).
The full table and the unchanged refresh are measured against --processes (10,000).

Run: .venv/bin/python benchmarks/bench_wire.py [--processes 10000] [--first-load-processes 6] [--verbose]
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import re
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from dash_calls import body_for, server_callbacks  # noqa: E402
from support import PASSWORD, make_services, make_settings  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

import demo  # noqa: E402
from app import create_app  # noqa: E402
from components import process_table as ids  # noqa: E402
from components import shell  # noqa: E402

PAGE = "/process-manager"
# Loaded by the browser after the grid renders (AG Grid community modules); not referenced by the HTML.
LAZY = ("/_dash-component-suites/dash_ag_grid/async-community.js",)
ENCODINGS = {
    "none (identity)": "identity",
    "gzip (http)": "gzip, deflate",
    "br/zstd (https)": "gzip, deflate, br, zstd",
}
GOAL_FIRST_LOAD = 1_000_000
GOAL_FULL_TABLE = 400_000
GOAL_UNCHANGED = 100


@dataclass
class Answer:
    status: int
    header_bytes: int
    body: bytes
    headers: dict
    ms: float

    @property
    def wire(self) -> int:
        return self.header_bytes + len(self.body)


@dataclass
class Browser:
    """A cookie jar and an Accept-Encoding over http.client, which never decodes what it receives."""

    port: int
    encoding: str
    cookies: dict = field(default_factory=dict)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        sent = {"Accept-Encoding": self.encoding, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        start = time.perf_counter()
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        data = response.read()
        ms = (time.perf_counter() - start) * 1000
        conn.close()
        raw_headers = response.headers.items()
        for name, value in raw_headers:
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        header_bytes = len(f"HTTP/1.1 {response.status} {response.reason}\r\n") + 2 + sum(
            len(k) + len(v) + 4 for k, v in raw_headers)
        return Answer(response.status, header_bytes, data, {k.lower(): v for k, v in raw_headers}, ms)

    def login(self, username: str) -> list[tuple[str, Answer]]:
        """Log in through the form; returns the login page's requests (its HTML and what it references)."""
        page = self.request("GET", "/login")
        html = decoded(page).decode()
        got = [("/login", page), *[(url, self.request("GET", url)) for url in [*referenced(html), "/favicon.ico"]]]
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
        form = urlencode({"username": username, "password": PASSWORD, "csrf_token": token}).encode()
        answer = self.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        assert answer.status == 302, answer.body[:300]
        return got

    def callback(self, body: dict) -> Answer:
        return self.request("POST", "/_dash-update-component", json.dumps(body).encode(),
                            {"Content-Type": "application/json", "X-CSRFToken": self.cookies["_csrf_token"]})


def callback_key(app, output_id: str, input_id: str):
    return next((k, s) for k, s in server_callbacks(app).items()
                if output_id in k and any(i["id"] == input_id for i in s["inputs"]))


def table_body(app, shown) -> dict:
    key, spec = callback_key(app, ids.GRID, ids.TICK)
    return body_for(key, spec, values={f"{ids.TICK}.n_intervals": 1, f"{ids.VERSION}.data": shown,
                                       f"{ids.REFRESH}.value": "1"}, triggered=f"{ids.TICK}.n_intervals")


def referenced(html: str) -> list[str]:
    return [u.replace("&amp;", "&") for u in re.findall(r'<(?:script|link)[^>]+(?:src|href)="(/[^"]+)"', html)]


def cacheable(answer: Answer) -> bool:
    return "max-age=31536000" in answer.headers.get("cache-control", "")


def first_load(app, browser: Browser, cached: set[str]) -> tuple[list[tuple[str, Answer]], dict | None]:
    """The page after the login page: `cached` holds the URLs the browser keeps from it."""
    got: list[tuple[str, Answer]] = []
    index = browser.request("GET", PAGE)
    got.append((PAGE, index))
    html = decoded(index).decode()
    for url in [*referenced(html), *LAZY]:
        if url not in cached:
            got.append((url, browser.request("GET", url)))
    for url in ("/_dash-layout", "/_dash-dependencies"):
        got.append((url, browser.request("GET", url)))
    key, spec = callback_key(app, shell.PAGE, shell.URL)
    route = body_for(key, spec, values={f"{shell.URL}.pathname": PAGE, f"{shell.URL}.search": ""},
                     triggered=f"{shell.URL}.pathname")
    got.append(("route callback", browser.callback(route)))
    table = browser.callback(table_body(app, None))
    got.append(("first table refresh", table))
    return got, json.loads(decoded(table))["response"].get(ids.VERSION, {}).get("data")


def second_load(browser: Browser, first: list[tuple[str, Answer]]) -> list[tuple[str, Answer]]:
    """What a browser with the first load in its cache asks for: revalidations only, the HTML in full."""
    got = []
    for url, answer in first:
        if not url.startswith("/") or url in ("/_dash-layout", "/_dash-dependencies") or cacheable(answer):
            continue  # callbacks and the layout are never cached; fingerprinted files are not asked again
        conditions = {}
        if "etag" in answer.headers:
            conditions["If-None-Match"] = answer.headers["etag"]
        if "last-modified" in answer.headers:
            conditions["If-Modified-Since"] = answer.headers["last-modified"]
        got.append((url, browser.request("GET", url, headers=conditions)))
    return got


def decoded(answer: Answer) -> bytes:
    encoding = answer.headers.get("content-encoding")
    if encoding == "gzip":
        import gzip

        return gzip.decompress(answer.body)
    if encoding == "br":
        import brotli

        return brotli.decompress(answer.body)
    if encoding == "zstd":
        from flask_compress.compat import compression

        return compression.zstd.decompress(answer.body)
    return answer.body


def kib(n: int) -> str:
    return f"{n / 1024:,.1f} KiB" if n >= 2048 else f"{n} B"


def serve(app):
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request would drown the figures
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


def measure(small, big, label: str, encoding: str, verbose: bool) -> dict:
    """small, big: (app, port) of the demo-sized table and of the large one."""
    browser = Browser(small[1], encoding)
    login = browser.login("viewer")
    first, _shown = first_load(small[0], browser, {url for url, a in login if cacheable(a)})
    again = second_load(browser, login + first)
    tab = Browser(big[1], encoding)
    tab.login("viewer")
    full = tab.callback(table_body(big[0], None))
    shown = json.loads(decoded(full))["response"].get(ids.VERSION, {}).get("data")
    unchanged = tab.callback(table_body(big[0], shown))
    if verbose:
        print(f"\n  {label}: login page, then the first load")
        for url, a in login + first:
            print(f"    {a.status} {kib(a.wire):>12} {a.headers.get('content-encoding', '-'):>5}  "
                  f"{a.headers.get('cache-control', '-')[:40]:40}  {url[:90]}")
    return {
        "label": label,
        "first_n": len(first), "first_bytes": sum(a.wire for _, a in first),
        "visit_n": len(login) + len(first), "visit_bytes": sum(a.wire for _, a in login + first),
        "full_bytes": len(full.body), "full_wire": full.wire, "full_ms": full.ms,
        "full_raw": len(decoded(full)),
        "unchanged_body": len(unchanged.body), "unchanged_wire": unchanged.wire,
        "unchanged_encoding": unchanged.headers.get("content-encoding", "none"),
        "again_n": len(again), "again_bytes": sum(a.wire for _, a in again),
    }


def report(rows: list[dict], processes: int, small: int) -> None:
    print(f"\nBytes on the wire, Process Manager page (headers included unless noted). First load with {small} "
          f"processes, after the login page; full table and unchanged refresh with {processes:,}.")
    print(f"{'Accept-Encoding':18} | {'login page + first load':>24} | {'first load':>24} | "
          f"{'full table (body, server ms)':>30} | {'unchanged refresh body (+headers)':>34} | "
          f"{'second load, warm cache':>24}")
    for r in rows:
        print(f"{r['label']:18} | {r['visit_n']:3d} requests {kib(r['visit_bytes']):>11} | "
              f"{r['first_n']:3d} requests {kib(r['first_bytes']):>11} | "
              f"{kib(r['full_bytes']):>14} {r['full_ms']:7.0f} ms      | "
              f"{r['unchanged_body']:6d} B (+{r['unchanged_wire'] - r['unchanged_body']} B), "
              f"{r['unchanged_encoding']:>5}      | {r['again_n']:3d} requests {kib(r['again_bytes']):>11}")
    print(f"\nfull table before compression: {kib(rows[0]['full_raw'])} of JSON")
    for r in rows[1:]:
        print(f"goals, {r['label']}: first load {r['first_bytes']:,} B <= 1.0 MB "
              f"{'ok' if r['first_bytes'] <= GOAL_FIRST_LOAD else 'MISSED'}; full table {kib(r['full_wire'])} "
              f"<= 400 KB {'ok' if r['full_wire'] <= GOAL_FULL_TABLE else 'MISSED'}; unchanged refresh body "
              f"{r['unchanged_body']} B <= 100 B {'ok' if r['unchanged_body'] <= GOAL_UNCHANGED else 'MISSED'}")
    print("(the unchanged refresh's headers: status, type, length, date; neither cookie is re-sent with a poll)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=10_000, help="processes of the full table (10000)")
    parser.add_argument("--first-load-processes", type=int, default=6, help="processes at first load (6, the demo)")
    parser.add_argument("--verbose", action="store_true", help="list every request of the first loads")
    args = parser.parse_args()
    if args.processes < 1 or args.first_load_processes < 1:
        parser.error("--processes and --first-load-processes must be at least 1")
    with ExitStack() as stack:
        small = stack.enter_context(served_app(args.first_load_processes))
        big = stack.enter_context(served_app(args.processes))
        rows = [measure(small, big, label, enc, args.verbose) for label, enc in ENCODINGS.items()]
    report(rows, args.processes, args.first_load_processes)


@contextmanager
def served_app(processes: int):
    """(app, port) of an app served over HTTP against a simulator with `processes` virtual processes."""
    proc, addresses = demo.start_simulator(["--virtual", "--processes", str(processes), "--churn", "0",
                                            "--seed", "1", "--kafka", "none"])
    server = services = None
    try:
        settings = make_settings(Path(tempfile.mkdtemp()), process_manager_url=addresses["process_manager"])
        services = make_services(settings)
        app = create_app(settings, services)
        services.process_feed.refresh_now()  # the shared poller has run: the tabs measure the page, not ps
        server = serve(app)
        yield app, server.server_port
    finally:
        if server is not None:
            server.shutdown()
        if services is not None:
            services.close()
        demo.stop(proc)


if __name__ == "__main__":
    main()
