"""Bytes on the wire: compressed responses, cache lifetimes of static files, no cookie on a public file."""

from __future__ import annotations

import gzip
import json
import re

import dash
import pytest
from dash_calls import body_for, server_callbacks
from support import csrf_token

from components import process_table as ids
from components import shell
from web.static_cache import IMMUTABLE

GZIP = {"Accept-Encoding": "gzip"}


@pytest.fixture
def viewer(client, logged_in):
    return logged_in(client, "viewer")


def _route_callback(app):
    return next((k, s) for k, s in server_callbacks(app).items()
                if shell.PAGE in k and any(i["id"] == shell.URL for i in s["inputs"]))


def _scripts_and_styles(html: str) -> list[str]:
    return re.findall(r'<(?:script|link)[^>]+(?:src|href)="(/[^"]+)"', html)


def test_callback_json_layout_and_dependencies_come_back_gzipped(app, viewer):
    key, spec = _route_callback(app)
    body = body_for(key, spec, values={f"{shell.URL}.pathname": "/process-manager", f"{shell.URL}.search": ""})
    answer = viewer.post("/_dash-update-component", json=body, headers={"X-CSRFToken": csrf_token(viewer), **GZIP})
    assert answer.status_code == 200 and answer.headers["Content-Encoding"] == "gzip"
    assert "response" in json.loads(gzip.decompress(answer.get_data()))
    for path in ("/_dash-layout", "/_dash-dependencies", "/process-manager"):
        answer = viewer.get(path, headers=GZIP)
        assert answer.headers.get("Content-Encoding") == "gzip", path
        assert "Accept-Encoding" in answer.headers["Vary"]
        gzip.decompress(answer.get_data())


def test_brotli_is_preferred_when_offered_and_nothing_is_compressed_without_asking(viewer):
    assert viewer.get("/_dash-layout", headers={"Accept-Encoding": "gzip, deflate, br, zstd"}) \
        .headers["Content-Encoding"] == "br"
    assert "Content-Encoding" not in viewer.get("/_dash-layout").headers
    assert "Content-Encoding" not in viewer.get("/_dash-layout", headers={"Accept-Encoding": "identity"}).headers


def test_the_unchanged_table_refresh_stays_tiny_and_uncompressed(sim_app, sim_services, logged_in):
    client = logged_in(sim_app.server.test_client(), "viewer")
    key, spec = next((k, s) for k, s in server_callbacks(sim_app).items()
                     if any(i["id"] == ids.TICK for i in s["inputs"]))
    sim_services.process_feed.refresh_now()

    def tick(shown):
        body = body_for(key, spec, values={f"{ids.TICK}.n_intervals": 1, f"{ids.VERSION}.data": shown,
                                           f"{ids.REFRESH}.value": "1"}, triggered=f"{ids.TICK}.n_intervals")
        return client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": csrf_token(client), **GZIP})

    full = tick(None)
    assert full.headers["Content-Encoding"] == "gzip"
    shown = json.loads(gzip.decompress(full.get_data()))["response"][ids.VERSION]["data"]
    unchanged = tick(shown)
    assert unchanged.status_code == 200 and len(unchanged.get_data()) <= 100
    assert "Content-Encoding" not in unchanged.headers, "gzip would only add its header and trailer"
    # Neither cookie is re-sent with a poll: the server ends sessions, and the browser's CSRF cookie is valid.
    assert "Set-Cookie" not in unchanged.headers, unchanged.headers.getlist("Set-Cookie")


def test_every_script_and_stylesheet_of_the_page_is_fingerprinted_immutable_gzipped_and_cookieless(viewer):
    html = viewer.get("/process-manager").get_data(as_text=True)
    urls = _scripts_and_styles(html)
    assert any(u.startswith("/assets/theme.js?m=") for u in urls), "theme.js is fingerprinted too"
    assert any(u.startswith("/_dash-component-suites/") for u in urls)
    assert not [u for u in urls if "/dash_table/" in u], "the DataTable bundle is not loaded: no page uses it"
    # plotly.js is loaded on demand by the Controller page's timeline only (tests/browser/test_ctl_control.py)
    assert not [u for u in urls if "plotly" in u.lower()], "no page loads plotly.js up front"
    for url in urls:
        answer = viewer.get(url, headers=GZIP)
        assert answer.status_code == 200, url
        assert answer.headers["Cache-Control"] == IMMUTABLE, url
        assert "Set-Cookie" not in answer.headers, url
        assert "Cookie" not in answer.headers.get("Vary", ""), url
        if len(gzip.decompress(answer.get_data())) >= 500:
            assert answer.headers["Content-Encoding"] == "gzip", url


def test_unfingerprinted_or_stale_asset_urls_must_revalidate(viewer):
    for url in ("/assets/ui/runcontrol.css", "/assets/ui/runcontrol.css?m=1.0", "/assets/theme.js",
                "/_dash-component-suites/dash_ag_grid/async-community.js", f"/_favicon.ico?v=0.{dash.__version__}"):
        answer = viewer.get(url, headers=GZIP)
        assert answer.status_code == 200, url
        assert answer.headers["Cache-Control"] == "no-cache", url
        assert "Set-Cookie" not in answer.headers, url
    assert viewer.get("/assets/nope.css?m=1").headers["Cache-Control"] == "no-store"


def test_a_revalidated_asset_answers_not_modified(viewer):
    first = viewer.get("/assets/ui/runcontrol.css", headers=GZIP)
    again = viewer.get("/assets/ui/runcontrol.css", headers={"If-None-Match": first.headers["ETag"], **GZIP})
    assert again.status_code == 304 and not again.get_data()


def test_anonymous_static_files_carry_no_cookie_and_the_login_page_shares_the_app_urls(client):
    login = client.get("/login").get_data(as_text=True)
    urls = _scripts_and_styles(login)
    assert any(u.startswith("/assets/lib/bootstrap.min.css?m=") for u in urls)
    for url in [*urls, "/favicon.ico", f"/_favicon.ico?v={dash.__version__}"]:
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert "Set-Cookie" not in answer.headers, url
    assert client.get("/favicon.ico").mimetype == "image/x-icon", "not Dash's index page"
