"""/health: public JSON status for load balancers, monitoring and the operator's first question."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, jsonify, request

VERSION = "0.1.0"


def make_blueprint(services) -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.route("/health")
    def health():
        """200 while the app can serve (its database answers); 503 otherwise.

        `?deep=1` also calls describe() on each drunc server (1 s deadline each) and, with CSC_URL, looks the
        configured session's controllers up in the connectivity service ("connectivity"; the root controller
        is "not_registered" when the session has none). It is opt-in because every drunc rpc also publishes
        two Kafka broadcasts: a load balancer polling it would flood the topics.
        """
        database_ok = services.db.ping()
        checks = {"database": {"status": "ok" if database_ok else "down", "backend": services.db.engine.dialect.name}}
        if request.args.get("deep") in ("1", "true", "yes"):
            checks.update(services.drunc.health())
        healthy = all(c["status"] == "ok" for c in checks.values())
        body = {
            "status": "ok" if healthy else "degraded",
            "app": "ok",
            "version": VERSION,
            "demo": services.settings.demo,
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "checks": checks,
        }
        return jsonify(body), 200 if database_ok else 503

    return bp
