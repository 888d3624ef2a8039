"""/health: public JSON status for load balancers, monitoring and the operator's first question."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, jsonify

VERSION = "0.1.0"


def make_blueprint(services) -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.route("/health")
    def health():
        database_ok = services.db.ping()
        checks = {"database": {"status": "ok" if database_ok else "down", "backend": services.db.engine.dialect.name}}
        healthy = all(c["status"] == "ok" for c in checks.values())
        body = {
            "status": "ok" if healthy else "degraded",
            "app": "ok",
            "version": VERSION,
            "demo": services.settings.demo,
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "checks": checks,
        }
        return jsonify(body), 200 if healthy else 503

    return bp
