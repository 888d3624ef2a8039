"""What every background service of the app (`python -m consumers`, `python -m polling`) does at start:
read the settings (one line and exit 2 when they are bad), set up logging, and optionally stop with its parent."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable

import settings as settings_module


def load_settings(logger_name: str) -> tuple[settings_module.Settings, logging.Logger] | None:
    """The settings and the service's logger; None after printing the one-line error of a bad setting."""
    try:
        settings = settings_module.from_env(require_secret=False)
    except settings_module.SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return settings, logging.getLogger(logger_name)


def watch_parent(pid: int, stop: Callable[[], None], stopping: Callable[[], bool], log: logging.Logger) -> None:
    """Call `stop` once process `pid` is no longer this process's parent (the demo died without telling us)."""

    def watch():
        while not stopping():
            if os.getppid() != pid:
                log.warning("parent %d exited; stopping", pid)
                stop()
                return
            threading.Event().wait(1.0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()
