"""The diskcache every poller and cache of the app shares (DATA_DIR/cache), opened once per process.

Its SQLite handles must not cross a fork (gunicorn workers, background jobs): a process that finds a handle
opened by its parent opens its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import diskcache


class ForkSafeCache:
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._cache: diskcache.Cache | None = None
        self._pid: int | None = None

    def get(self) -> diskcache.Cache:
        pid = os.getpid()
        if self._cache is None or self._pid != pid:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._cache = diskcache.Cache(str(self.directory), timeout=5, eviction_policy="none")
            self._pid = pid
        return self._cache

    def close(self) -> None:
        """Close this process's handle (never the parent's)."""
        if self._cache is not None and self._pid == os.getpid():
            self._cache.close()
        self._cache = None
