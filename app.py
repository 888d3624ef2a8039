"""DUNE run-control web UI: the app factory, the gunicorn entry point and the demo launcher.

    create_app(settings=None, services=None) -> Dash     (the Flask server is app.server)
    gunicorn app:server                                  production; settings from the environment
    python app.py [--port 8050]                          demo on 127.0.0.1 with embedded defaults
"""

from __future__ import annotations

import argparse
import logging
import secrets
import signal
import sys
from pathlib import Path

import diskcache
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import settings as settings_module
from auth.guard import init_auth
from auth.rate_limit import LoginLimits
from auth.views import make_blueprint as login_blueprint
from callbacks import alarms as alarms_callbacks
from callbacks import audit as audit_callbacks
from callbacks import boot_configs as boot_configs_callbacks
from callbacks import controller_control as controller_control_callbacks
from callbacks import controller_expert as controller_expert_callbacks
from callbacks import controller_fsm as controller_fsm_callbacks
from callbacks import controller_runs as controller_runs_callbacks
from callbacks import controller_tree as controller_tree_callbacks
from callbacks import message_panel as message_panel_callbacks
from callbacks import messages_page as messages_page_callbacks
from callbacks import overview as overview_callbacks
from callbacks import process_boot as process_boot_callbacks
from callbacks import process_logs as process_logs_callbacks
from callbacks import process_manager as process_manager_callbacks
from callbacks import session_manager_panel as session_manager_callbacks
from callbacks import sessions_page as sessions_page_callbacks
from callbacks import shell as shell_callbacks
from callbacks import users as users_callbacks
from callbacks.errors import on_callback_error
from components.shell import shell
from job_runner.manager import JobRunnerManager
from pages import nav_items
from services import Services
from settings import Settings, SettingsError
from web.compression import init_compression
from web.dash_app import RunControlDash
from web.errors import register_error_handlers
from web.health import make_blueprint as health_blueprint
from web.messages_export import make_blueprint as messages_export_blueprint
from web.static_cache import init_static_cache

ROOT = Path(__file__).resolve().parent
ASSETS = ROOT / "assets"
# theme.js runs in <head>, before the first paint, so a dark-mode operator never sees a white flash. Its URL
# (THEME_JS, fingerprinted by create_app) is filled in with str.replace: the template is full of braces.
THEME_JS = "{%rc_theme_js%}"
INDEX = """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        <script src="{%rc_theme_js%}"></script>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""
CALLBACK_MODULES = (
    shell_callbacks,
    audit_callbacks,
    users_callbacks,
    process_manager_callbacks,
    process_boot_callbacks,
    process_logs_callbacks,
    message_panel_callbacks,
    controller_tree_callbacks,
    controller_runs_callbacks,
    controller_fsm_callbacks,
    controller_control_callbacks,
    controller_expert_callbacks,
    messages_page_callbacks,
    alarms_callbacks,
    sessions_page_callbacks,
    session_manager_callbacks,
    boot_configs_callbacks,
    overview_callbacks,
)


def create_app(settings: Settings | None = None, services: Services | None = None) -> RunControlDash:
    if settings is None:
        settings = services.settings if services is not None else settings_module.from_env()
    if services is None:
        services = Services.from_settings(settings)
    services.prepare()
    _configure_logging(settings.log_level)

    server = Flask(__name__, static_folder=None, template_folder=None)
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    server.extensions["runcontrol.services"] = services
    server.extensions["runcontrol.login_limits"] = LoginLimits.from_settings(settings)
    # The guard must be registered before anything else that runs before a request (CSRF above all).
    init_auth(server, services)
    server.register_blueprint(login_blueprint(services))
    server.register_blueprint(health_blueprint(services))
    server.register_blueprint(messages_export_blueprint(services))
    register_error_handlers(server)
    init_compression(server)
    static = init_static_cache(server, ASSETS)  # after compression: its hook must run first

    # Transitions and sequences run as background jobs, forked by this worker's job runner (a fresh process that
    # never uses gRPC), never by the worker. Every worker shares the results directory, and dash signs the job
    # handles with SECRET_KEY, the same in every worker. A job's result key is the function and its arguments:
    # two tabs sending the same click would share it and swap their answers, so each call gets a key of its own
    # (results then expire after an hour instead of being deleted when read).
    jobs = JobRunnerManager(diskcache.Cache(str(settings.data_dir / "jobs")), settings,
                            cache_by=[lambda: secrets.token_hex(16)], expire=3600)
    services.on_close(jobs.close)
    server.extensions["runcontrol.jobs"] = jobs
    app = RunControlDash(
        __name__,
        server=server,
        assets_folder=str(ASSETS),
        assets_ignore=r"theme\.js",
        index_string=INDEX.replace(THEME_JS, static.asset_url("theme.js")),
        serve_locally=True,
        title="DUNE Run Control",
        update_title=None,
        suppress_callback_exceptions=True,
        on_error=on_callback_error,
        enable_mcp=False,
        health_endpoint=None,
        websocket_callbacks=False,
        background_callback_manager=jobs,
    )
    app.layout = shell(nav_items(), settings.demo)
    for module in CALLBACK_MODULES:
        module.register(app, services)
    return app


def start_job_runner_soon(server: Flask) -> None:
    """Start this process's job runner in the background (gunicorn's post_worker_init and the demo call it), so
    an operator's first transition does not wait the second or so it takes to build; without this call the first
    job starts it. A runner that fails to start is reported by the first job's toast."""
    import threading

    jobs = server.extensions["runcontrol.jobs"]

    def start():
        try:
            jobs.start_runner()
        except Exception:  # noqa: BLE001 - the next job retries and tells the operator
            logging.getLogger("runcontrol.jobs").exception("the job runner did not start")

    threading.Thread(target=start, daemon=True, name="job-runner-start").start()


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("runcontrol").setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration plugin is noise


def _production_server():
    try:
        return create_app().server
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(3) from None  # gunicorn: "worker failed to boot", stop instead of respawning


def __getattr__(name: str):
    # `gunicorn app:server` builds the production app on first access, so importing this module (tests, the
    # demo) never needs the production settings.
    if name == "server":
        return _production_server()
    raise AttributeError(name)


def _with_embedded_backends(settings: Settings) -> Settings:
    """The demo starts the drunc simulator unless a drunc address was given in the environment."""
    import os

    if any(os.environ.get(v) for v in ("PROCESS_MANAGER_URL", "CONTROLLER_URL", "SESSION_MANAGER_URL", "CSC_URL")):
        return settings
    import demo

    kafka = os.environ.get("KAFKA_ADDRESS") or demo.start_broker()
    _, addresses = demo.start_simulator(kafka=kafka)
    print(f"drunc simulator: process manager {addresses['process_manager']}, session manager "
          f"{addresses['session_manager']}, controllers of session {addresses['session']} registered in the "
          f"connectivity service http://{addresses['connectivity']}", flush=True)
    if kafka:
        demo.start_consumer({**os.environ, "KAFKA_ADDRESS": kafka, "DATABASE_URL": settings.database_url,
                             "DATA_DIR": str(settings.data_dir)}, demo.DEMO_CONSUMER_OPTIONS)
        print(f"kafka broker {kafka}: broadcasts and ERS issues are stored by the message consumer", flush=True)
        settings = settings.with_overrides(kafka_address=kafka)
    else:
        print("no Kafka broker (install the demo extra for one): running without broadcasts", flush=True)
    demo.start_poller({**os.environ, "PROCESS_MANAGER_URL": addresses["process_manager"],
                       "CSC_URL": f"http://{addresses['connectivity']}", "CSC_SESSION": addresses["session"],
                       "DATA_DIR": str(settings.data_dir.resolve())})
    return settings.with_overrides(
        process_manager_url=addresses["process_manager"],
        session_manager_url=addresses["session_manager"],
        csc_url=f"http://{addresses['connectivity']}",
        csc_session=addresses["session"],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the run-control UI demo on embedded defaults.")
    parser.add_argument("--port", type=int, default=8050, help="port to listen on (default 8050)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port must be between 1 and 65535, got {args.port}")
    # SIGTERM exits like Ctrl-C, through atexit, which stops the demo's child processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        settings = settings_module.from_env(demo=True)
        settings = _with_embedded_backends(settings)
        app = create_app(settings)
    except (SettingsError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    start_job_runner_soon(app.server)
    print(f"DUNE Run Control demo on http://{args.host}:{args.port}/  (users admin, shifter, viewer; "
          f"password from DEMO_PASSWORD, default 'demo')", flush=True)
    try:
        app.run(host=args.host, port=args.port, debug=False)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
