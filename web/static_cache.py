"""Cache lifetimes of the static files, and no cookie on any of them.

A file whose URL carries its fingerprint (`/assets/x.css?m=<mtime>` as Dash writes them, `asset_url()` below,
Dash's own `/_dash-component-suites/.../name.v4_4_1m123.js` and `/_favicon.ico?v=<dash version>`) can never
change under that URL: the browser keeps it for a year without asking again. Any other request for a static
file (an old or missing fingerprint, a hand-typed URL) must revalidate, so a deploy is seen at once.

Static files are public (the login guard lets them through) and may sit in a shared cache, so a response to
one must never carry a cookie: the session's refresh or the CSRF cookie would be handed to whoever asks next.
The session is saved after every after_request hook has run, hence a small WSGI wrapper that drops Set-Cookie
(and `Vary: Cookie`, which they do not depend on) from static responses, whatever set them.
"""

from __future__ import annotations

import os
import pkgutil
from pathlib import Path

import dash
from dash.fingerprint import check_fingerprint
from flask import Response, request

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"  # may be stored, but is checked (ETag / Last-Modified) before each use

ASSETS = "/assets/"
COMPONENT_SUITES = "/_dash-component-suites/"
FAVICON = "/_favicon.ico"
ROOT_FAVICON = "/favicon.ico"  # what a browser asks for on a page without an icon link (the login page)
STATIC_PREFIXES = (ASSETS, COMPONENT_SUITES, FAVICON, ROOT_FAVICON)


def mtime_fingerprint(path: Path) -> str | None:
    """The `m` value Dash appends to an asset URL (repr of the file's mtime), None when the file is missing."""
    try:
        return str(os.stat(path).st_mtime)
    except OSError:
        return None


class StaticCache:
    def __init__(self, assets_folder: Path):
        self.assets_folder = Path(assets_folder).resolve()

    def asset_url(self, name: str) -> str:
        """`/assets/<name>?m=<mtime>`: the URL Dash itself would write for a file of the assets folder."""
        stamp = mtime_fingerprint(self.assets_folder / name)
        return f"{ASSETS}{name}" + (f"?m={stamp}" if stamp else "")

    def fingerprinted(self, path: str) -> bool:
        if path.startswith(ASSETS):
            stamp = request.args.get("m")
            target = (self.assets_folder / path[len(ASSETS):]).resolve()
            # Only the current fingerprint is immutable: a stale one may name content that has since changed.
            return bool(stamp) and target.is_relative_to(self.assets_folder) and stamp == mtime_fingerprint(target)
        if path.startswith(COMPONENT_SUITES):
            return check_fingerprint(path)[1]
        return path == FAVICON and request.args.get("v") == dash.__version__

    def after_request(self, response):
        path = request.path
        if not path.startswith(STATIC_PREFIXES) or request.method not in ("GET", "HEAD"):
            return response
        if response.status_code not in (200, 304):
            response.headers["Cache-Control"] = "no-store"
            return response
        if response.is_streamed and response.status_code == 200:
            # send_file streams the file; read it (they are small) so compression sees a length and gzips it.
            response.direct_passthrough = False
            response.make_sequence()
        response.headers["Cache-Control"] = IMMUTABLE if self.fingerprinted(path) else REVALIDATE
        return response


class _NoCookiesOnStaticFiles:
    """WSGI wrapper: static responses leave without Set-Cookie and without `Cookie` in Vary."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if not environ.get("PATH_INFO", "").startswith(STATIC_PREFIXES):
            return self.wsgi_app(environ, start_response)

        def start(status, headers, exc_info=None):
            kept = []
            for name, value in headers:
                lower = name.lower()
                if lower == "set-cookie":
                    continue
                if lower == "vary":
                    value = ", ".join(v.strip() for v in value.split(",") if v.strip().lower() != "cookie")
                    if not value:
                        continue
                kept.append((name, value))
            return start_response(status, kept, exc_info)

        return self.wsgi_app(environ, start)


def _root_favicon():
    response = Response(pkgutil.get_data("dash", "favicon.ico"), mimetype="image/x-icon")
    response.add_etag()
    return response.make_conditional(request)


def init_static_cache(server, assets_folder: Path) -> StaticCache:
    """Register the cache headers (after compression's hook, so they run before it) and the cookie filter.

    Also gives templates `asset_url('lib/bootstrap.min.css')`, so the login page shares the app's cached copy.
    """
    cache = StaticCache(assets_folder)
    server.after_request(cache.after_request)
    # Without this rule Dash's catch-all answers /favicon.ico with the 11 kB index page.
    server.add_url_rule(ROOT_FAVICON, "root_favicon", _root_favicon)
    server.wsgi_app = _NoCookiesOnStaticFiles(server.wsgi_app)
    server.add_template_global(cache.asset_url, "asset_url")
    return cache
