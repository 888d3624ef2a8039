"""GET /messages/export.csv and /messages/export.jsonl: the Messages page's current filter (same query string as
the page's URL), streamed newest first with flat memory.

Behind the login guard like every non-public route; `messages.manage` is checked here, on the server. The export
is audited before the first byte ("attempted"), and completed with the number of rows, or "failed" when the
stream stopped (a closed browser, a database error).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint, Response, request, stream_with_context
from flask_login import current_user

from auth.actions import client_address
from viewmodels import message_query as mq

log = logging.getLogger("runcontrol.messages")
PERMISSION = "messages.manage"
ACTION = "messages.export"
CHUNK_LINES = 500  # lines joined per write: few syscalls, still flat memory


def _refuse(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


def make_blueprint(services) -> Blueprint:
    bp = Blueprint("messages_export", __name__)

    @bp.route("/messages/export.csv")
    def export_csv():
        return export("csv")

    @bp.route("/messages/export.jsonl")
    def export_jsonl():
        return export("jsonl")

    def export(fmt: str):
        user = current_user
        name = getattr(user, "name", "")
        query = request.query_string.decode("utf-8", errors="replace")[:4000]
        if not user.can(PERMISSION):
            services.audit.record(name, ACTION, target=fmt, arguments={"filter": query}, outcome="denied",
                                  detail=f"missing permission {PERMISSION}", address=client_address())
            return _refuse(403, f"Exporting messages needs the permission {PERMISSION}.")
        now = datetime.now(UTC)
        state = mq.state_from_query(query)
        try:
            flt = mq.to_filter(state, now)
        except ValueError as exc:
            return _refuse(400, f"Bad filter: {exc}")
        try:
            event = services.audit.record(name, ACTION, target=fmt, arguments={"filter": query},
                                          outcome="attempted", address=client_address())
        except Exception:
            log.error("the audit trail cannot be written: export refused", exc_info=True)
            return _refuse(503, "The audit trail cannot be written: the export was not started.")
        line = mq.csv_line if fmt == "csv" else mq.json_line
        mimetype, _ext = mq.EXPORT_FORMATS[fmt]

        def generate():
            rows, outcome, detail = 0, "failed", "stopped before the end"
            try:
                if fmt == "csv":
                    yield mq.csv_header()
                chunk = []
                for m in services.messages.export(flt):
                    chunk.append(line(m))
                    rows += 1
                    if len(chunk) >= CHUNK_LINES:
                        yield "".join(chunk)
                        chunk = []
                if chunk:
                    yield "".join(chunk)
                outcome, detail = "ok", ""
            except Exception as exc:  # the response has started: the trail says what happened
                outcome, detail = "error", f"{type(exc).__name__}: {exc}"[:500]
                log.warning("message export failed after %d rows", rows, exc_info=True)
                raise
            finally:
                try:
                    services.audit.complete(event, outcome, arguments={"filter": query, "rows": rows},
                                            detail=detail)
                except Exception:
                    log.error("could not complete audit event %s (export)", event, exc_info=True)

        response = Response(stream_with_context(generate()), content_type=mimetype)
        response.headers["Content-Disposition"] = f'attachment; filename="{mq.export_filename(fmt, now)}"'
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return bp
