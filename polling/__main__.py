"""`python -m polling`: the shared `ps` poller as its own process, next to gunicorn and the message consumer."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from service_process import load_settings, watch_parent

EPILOG = """\
settings (environment variables; SECRET_KEY and the database are not needed):
  PROCESS_MANAGER_URL  process manager gRPC address (default localhost:10054)
  CSC_URL, CONTROLLER_URL, CSC_SESSION, CONTROLLER_ADDRESSES
                       where the controllers are: the controller trees of the sessions tabs watch are swept too
  DATA_DIR             the cache lives in DATA_DIR/cache: give it the same DATA_DIR as gunicorn
  DRUNC_TIMEOUT_SECS   deadline of one ps (default 5)
  LOG_LEVEL            DEBUG, INFO, WARNING or ERROR (default INFO)

It polls only while a browser tab watches the process table or a session's controller tree (at the period the
tab asked for; the sessions are named by the tabs' demand in the cache) and at once after an action. While
it runs, the web workers only read the cache; when it stops (its heartbeat is older than a few seconds) each
worker polls by itself again, so stopping it never stops the table or the tree.
SIGTERM or SIGINT: the poll in progress ends, then the process exits 0. Exit status 2: bad settings.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m polling",
        description="Poll each process manager for the run-control UI's shared process table, in a process of "
        "its own so that busy web workers never delay a poll.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exit-with-parent", type=int, default=None, metavar="PID",
                        help="stop when process PID exits (used by the demo)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    loaded = load_settings("runcontrol.polling")
    if loaded is None:
        return 2
    settings, log = loaded

    from drunc_client.backends import DruncBackends
    from polling.controller_feed import ControllerFeeds
    from polling.process_feed import ProcessFeed

    drunc = DruncBackends(process_manager_url=settings.process_manager_url, controller_url=settings.controller_url,
                          session_manager_url="", timeout=settings.drunc_timeout,
                          controller_addresses=dict(settings.controller_addresses), csc_url=settings.csc_url,
                          csc_session=settings.csc_session)
    process_feed = ProcessFeed(settings.data_dir / "cache", drunc, timeout=settings.drunc_timeout)
    controller_feeds = ControllerFeeds(settings.data_dir / "cache", drunc, timeout=settings.drunc_timeout,
                                       process_feed=process_feed if process_feed.configured else None)
    feeds = [feed for feed in (process_feed, controller_feeds) if feed.configured]
    if not feeds:
        print("error: PROCESS_MANAGER_URL, CONTROLLER_URL and CSC_URL are empty: nothing to poll", file=sys.stderr)
        return 2

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.exit_with_parent is not None:
        watch_parent(args.exit_with_parent, stop.set, stop.is_set, log)

    names = [getattr(feed, "endpoint", None) or "controller trees" for feed in feeds]
    threads = [threading.Thread(target=feed.serve, args=(stop,), name=f"poll {name}")
               for feed, name in zip(feeds, names, strict=True)]
    for thread in threads:
        thread.start()
    log.info("polling %s into %s", ", ".join(names), settings.data_dir / "cache")
    try:
        while not stop.wait(1.0):
            pass
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for feed in feeds:
            feed.close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
