"""Foundation figures: request latency of the guard, login, routing and audit callbacks, and memory.

Prints medians over repeated in-process requests (Flask test client, SQLite on a temporary file), so the
figures measure our code, not the network. Run: .venv/bin/python benchmarks/bench_foundation.py
"""

from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from dash_calls import body_for, server_callbacks  # noqa: E402
from support import csrf_token, login, make_services, make_settings  # noqa: E402

from app import create_app  # noqa: E402


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    settings = make_settings(tmp)
    start = time.perf_counter()
    services = make_services(settings)
    app = create_app(settings, services)
    print(f"app start-up (migrate + catalog + 4 users + Dash app): {(time.perf_counter() - start) * 1000:.0f} ms")

    anon = app.server.test_client()
    print(f"GET /health (public):                  {median_ms(lambda: anon.get('/health'), 200):.2f} ms")
    print(f"GET /_dash-layout anonymous → 401:     {median_ms(lambda: anon.get('/_dash-layout'), 200):.2f} ms")
    ms = median_ms(lambda: login(app.server.test_client(), "admin"), 20)
    print(f"login (form + scrypt verify + audit):  {ms:.1f} ms")

    client = app.server.test_client()
    login(client, "viewer")
    client.get("/")
    token = csrf_token(client)
    callbacks = server_callbacks(app)
    route_key = next(k for k in callbacks if "page-content" in k)
    route = body_for(route_key, callbacks[route_key], values={"url.pathname": "/help"})
    headers = {"X-CSRFToken": token}
    ms = median_ms(lambda: client.post("/_dash-update-component", json=route, headers=headers), 100)
    print(f"routing callback (Help page):          {ms:.2f} ms")
    print(f"GET /_dash-layout logged in:           {median_ms(lambda: client.get('/_dash-layout'), 100):.2f} ms")

    audit_key = next(k for k in callbacks if "audit-grid" in k)
    audit_body = body_for(audit_key, callbacks[audit_key], values={"audit-period.value": "all"})
    for total in (1_000, 10_000, 100_000):
        have = services.audit.count("bench", outcome="ok")
        with services.db.session() as s:
            from store.models import AuditEvent, utcnow

            now = utcnow()
            s.add_all(
                AuditEvent(time=now, username=f"user{i % 50}", action="bench", target=f"t{i}", outcome="ok",
                           detail="", address="127.0.0.1")
                for i in range(total - have)
            )
        response = client.post("/_dash-update-component", json=audit_body, headers=headers)
        size = len(response.data)
        ms = median_ms(lambda: client.post("/_dash-update-component", json=audit_body, headers=headers), 20)
        print(f"audit page refresh, {total:>7,} events (newest 500 shown): {ms:7.1f} ms, {size / 1024:.0f} KiB")

    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (app + test client): {rss_mib:.0f} MiB")


if __name__ == "__main__":
    main()
