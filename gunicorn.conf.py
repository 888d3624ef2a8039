"""gunicorn settings, read automatically when gunicorn starts in this folder: `gunicorn app:server`.

Every worker runs the same idempotent start-up (migrations under a lock, catalog), so no --preload is needed,
and no database connection or gRPC channel is ever shared across a fork.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8050")
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 60
# Longer than the slowest refresh (5 s): with gunicorn's 2 s default a tab's next poll raced the server closing
# its idle connection, and the browser saw connection resets under load.
keepalive = 15
# Behind a TLS proxy set TRUSTED_PROXIES too, so the app sees https and marks its cookies Secure.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"


def on_starting(server):
    """Check the settings once in the master, so a missing SECRET_KEY stops gunicorn with one clear line
    instead of a loop of workers failing to boot."""
    import sys

    from settings import SettingsError, from_env

    try:
        from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)


def post_worker_init(worker):
    """Each worker starts its job runner (`python -m job_runner`, which forks the background jobs) now rather than
    at the first transition."""
    from app import start_job_runner_soon

    start_job_runner_soon(worker.wsgi)
