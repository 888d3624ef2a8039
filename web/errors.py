"""Errors outside callbacks: never a traceback in the browser, always a line in the server log."""

from __future__ import annotations

import logging
import secrets

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from auth.guard import is_dash_request

log = logging.getLogger("runcontrol.web")


def register_error_handlers(server) -> None:
    @server.errorhandler(Exception)
    def unexpected(error):
        if isinstance(error, HTTPException):
            if is_dash_request(request.path):
                return jsonify(error=error.description or error.name), error.code
            return error
        ref = secrets.token_hex(4)
        if is_dash_request(request.path):
            # Dash's own handler (on_error) catches every failure inside a callback, so what arrives here is a
            # request Dash could not even dispatch: a malformed or forged body.
            log.warning("rejected malformed Dash request to %s (ref %s): %r", request.path, ref, error)
            return jsonify(error="malformed request", reference=ref), 400
        log.error("unhandled error on %s (ref %s)", request.path, ref, exc_info=error)
        return (
            "<!doctype html><title>Server error</title><p>Something went wrong on the server "
            f"(reference {ref}). The details are in the server log. <a href='/'>Back</a></p>",
            500,
        )
