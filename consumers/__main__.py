"""`python -m consumers`: the Kafka → SQL message consumer, as a long-running process."""

from __future__ import annotations

import argparse
import signal
import sys

from service_process import load_settings, watch_parent

EPILOG = """\
settings (environment variables; SECRET_KEY is not needed):
  KAFKA_ADDRESS           broker list, host:port[,host:port] (default localhost:9092)
  DATABASE_URL            sqlite:///path or postgresql://user:pass@host/db
                          (default sqlite:///<DATA_DIR>/runcontrol.sqlite3)
  KAFKA_BROADCAST_TOPICS  drunc broadcast topics (default ^control\\..+)
  KAFKA_ERS_TOPICS        ERS topics (default monitoring.ers_stream,^erscontrol\\..+)
                          a pattern starting with ^ is a regular expression, anything else a topic name
  KAFKA_GROUP_ID          consumer group (default runcontrol-ui): offsets are committed there
  MESSAGE_EXPIRE_SECS     messages older than this are deleted (default 1800)
  MESSAGE_MAX_ROWS        at most this many messages are kept
  LOG_LEVEL               DEBUG, INFO, WARNING or ERROR (default INFO)

SIGTERM or SIGINT: the current batch is stored and committed, then the process exits 0.
Exit status 2: bad settings or arguments; 1: the database could not be prepared.
"""


def _kafka_option(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m consumers",
        description="Consume drunc broadcasts and ERS issues from Kafka into the run-control UI's SQL store "
        "(exactly once: offsets are committed after the rows).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=_positive_int, default=500,
                        help="records stored per transaction (default 500)")
    parser.add_argument("--once", action="store_true",
                        help="drain what is there and exit: stop once joined and idle for --idle-secs")
    parser.add_argument("--idle-secs", type=_positive_float, default=3.0,
                        help="with --once: seconds without a new record that mean drained (default 3)")
    parser.add_argument("--prune-every", type=_positive_float, default=30.0, metavar="SECS",
                        help="retention runs every SECS seconds (default 30)")
    parser.add_argument("--kafka-option", type=_kafka_option, action="append", default=[], metavar="KEY=VALUE",
                        help="extra librdkafka consumer property, repeatable (for example session.timeout.ms=6000 "
                        "for a test broker); production keeps the library defaults")
    parser.add_argument("--exit-with-parent", type=int, default=None, metavar="PID",
                        help="stop gracefully when process PID exits (used by the demo)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    loaded = load_settings("consumers")
    if loaded is None:
        return 2
    settings, log = loaded

    from sqlalchemy.engine import make_url

    from consumers.consumer import ConsumerConfig, ConsumerConfigError, MessageConsumer
    from store.db import Database
    from store.messages import MessageStore

    try:
        config = ConsumerConfig.from_settings(settings, dict(args.kafka_option))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    db = Database(settings.database_url)
    try:
        db.migrate()
    except Exception as exc:  # noqa: BLE001 - one clear line, not a traceback
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: cannot prepare the database: {text}", file=sys.stderr)
        db.dispose()
        return 1

    consumer = MessageConsumer(config, MessageStore(db), batch_size=args.batch_size,
                               prune_every_secs=args.prune_every)

    def on_signal(signum, _frame):
        log.info("%s: finishing the current batch, then exiting", signal.Signals(signum).name)
        consumer.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.exit_with_parent is not None:
        watch_parent(args.exit_with_parent, consumer.stop, lambda: consumer.stopping, log)

    where = make_url(settings.database_url).render_as_string(hide_password=True)
    log.info("consuming from %s: %s into %s", config.address, ", ".join(config.patterns), where)
    try:
        consumer.run(idle_exit=args.idle_secs if args.once else None)
    except ConsumerConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - e.g. a fatal librdkafka error
        log.exception("consumer failed")
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
