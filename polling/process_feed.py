"""One `ps` poller per process-manager endpoint, shared by every user, tab and gunicorn worker.

Browsers never call `ps`. Each worker runs a small poller thread while somebody watches; the threads of all
workers share a diskcache directory (DATA_DIR/cache) holding, per endpoint:

    meta        version, time of the last poll and of the last good one, the error while the endpoint is down
    rows        the last table (version, {uuid: row})
    delta:<v>   what changed from version v-1 to v (kept 10 minutes)
    derived:<name>:<epoch>:<v>  a value computed from the table of version v (kept 10 minutes), see derived()
    lease       held during a poll: polls never overlap, across threads and workers
    demand      {period: until}: the refresh periods tabs asked for recently
    poke        a poll was asked for now (after an action)
    service     heartbeat of the `python -m polling` service: {pid, at, polls}

Production runs the polls in their own process (`python -m polling`, next to the message consumer), so their
rhythm does not depend on how busy the web workers are. While its heartbeat is fresh the workers only read the
cache (and write demand and pokes); without one (tests, a lone `python app.py`, the service stopped) each
worker falls back to its own poller thread.

A tab sends the version it shows and gets nothing (unchanged), the merged deltas (AG Grid transactions keyed by
uuid) or, when it is new or too far behind, the whole table. So the number of `ps` calls depends on the refresh
period only, never on the number of tabs, and an unchanged table costs a few hundred bytes per tab per poll.
Nothing here is module-level state: the feed object belongs to the app's Services.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import diskcache

from drunc_client.errors import DruncError
from drunc_client.transport import normalise_address
from polling.shared_cache import ForkSafeCache
from viewmodels.processes import Delta, diff_rows, merge_deltas, rows_by_uuid, status_counts

log = logging.getLogger("runcontrol.polling")

POLL_USER = "runcontrol-ui"  # the drunc token of the shared poller: it acts for nobody in particular
DELTA_TTL = 600.0
MAX_MERGE = 120  # a tab further behind than this many versions reloads the whole table
DEMAND_HOLD = 10.0  # a tab's demand lasts this long after its last tick (background tabs tick irregularly)
IDLE_EXIT = 30.0  # the thread ends after this long without demand, and restarts on the next tick
HEARTBEAT_EVERY = 0.5  # the poller service writes its heartbeat this often
SERVICE_STALE = 3.0  # an older heartbeat means no service: the workers poll themselves again
SERVICE_TICK = 0.05  # how often the service looks at demand and pokes (a few cache reads)


@dataclass(frozen=True)
class FeedState:
    epoch: str
    version: int
    polled_at: float | None  # last attempt
    ok_at: float | None  # last successful ps
    error: str | None
    failed_since: float | None
    total: int
    counts: dict

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Changes:
    """What a tab showing `since` needs: kind 'none', 'delta' (see `delta`) or 'full' (see `rows`)."""

    kind: str
    state: FeedState | None
    delta: Delta | None = None
    rows: list | None = None


class ProcessFeed:
    def __init__(self, cache_dir: Path, backends, *, timeout: float = 5.0, min_period: float = 1.0):
        self.cache_dir = Path(cache_dir)
        self.backends = backends
        self.timeout = timeout
        self.min_period = min_period
        self.endpoint = normalise_address(backends.process_manager_url or "")
        self._prefix = f"pm:{self.endpoint}:"
        self._shared = ForkSafeCache(self.cache_dir)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._last_rows: tuple[str, int, dict] | None = None  # (epoch, version, rows) this process wrote last
        self._service_seen = (0.0, False)  # (monotonic time of the check, whether the service was alive)
        self.polls = 0  # ps calls made by this process, and the duration of each poll (benchmarks read them)
        self.poll_seconds: list[float] = []

    # ------------------------------------------------------------------------------------------ the cache

    @property
    def cache(self) -> diskcache.Cache:
        return self._shared.get()

    def _key(self, name: str) -> str:
        return self._prefix + name

    # ------------------------------------------------------------------------------------------- readers

    @property
    def configured(self) -> bool:
        return bool(self.endpoint)

    def state(self) -> FeedState | None:
        meta = self.cache.get(self._key("meta"))
        return FeedState(**meta) if meta else None

    def rows(self) -> tuple[FeedState | None, list]:
        state = self.state()
        stored = self.cache.get(self._key("rows"))
        if state is None or not stored:
            return state, []
        return state, list(stored[1].values())

    def derived(self, name: str, compute, state: FeedState | None = None):
        """compute(rows) of the table `state` shows, computed once per table version by whichever worker first
        asks and kept in the shared cache, so a page summarising 10,000 rows reads one small value per tick."""
        state = state if state is not None else self.state()
        if state is None:
            return compute([])
        key = self._key(f"derived:{name}:{state.epoch}:{state.version}")
        value = self.cache.get(key)
        if value is not None:
            return value
        stored = self.cache.get(self._key("rows"))
        if stored and stored[0] != state.version:
            # a poll landed since `state` was read: compute for it, under its own version's key
            state = self.state() or state
            if stored[0] != state.version:
                return compute(list(stored[1].values()))
            key = self._key(f"derived:{name}:{state.epoch}:{state.version}")
        value = compute(list(stored[1].values()) if stored else [])
        self.cache.set(key, value, expire=DELTA_TTL)
        return value

    def changes(self, epoch: str | None, since: int | None) -> Changes:
        state = self.state()
        if state is None:
            return Changes("none", None)
        if epoch == state.epoch and since == state.version:
            return Changes("none", state)
        if epoch == state.epoch and since is not None and 0 <= state.version - since <= MAX_MERGE:
            deltas = []
            for v in range(since + 1, state.version + 1):
                stored = self.cache.get(self._key(f"delta:{v}"))
                if stored is None:
                    break
                deltas.append(Delta(*stored))
            else:
                return Changes("delta", state, delta=merge_deltas(deltas))
        state, rows = self.rows()
        return Changes("full", state, rows=rows)

    # ------------------------------------------------------------------------------------- demand and poke

    def watch(self, period: float) -> None:
        """A tab refreshing every `period` seconds is looking: keep (or start) polling at least that often."""
        if not self.configured:
            return
        period = max(self.min_period, float(period))
        now = time.time()
        demand = self.cache.get(self._key("demand")) or {}
        if demand.get(period, 0) < now + DEMAND_HOLD / 2:  # write only when it is about to lapse
            demand = {p: until for p, until in demand.items() if until > now}
            demand[period] = now + max(DEMAND_HOLD, 3 * period)
            self.cache.set(self._key("demand"), demand)
        if not self.service_running():
            self._ensure_thread()

    def poke(self) -> None:
        """Poll as soon as possible (after an action), in whichever worker's thread gets there first."""
        if not self.configured:
            return
        self.cache.set(self._key("poke"), time.time())
        if not self.service_running():
            self._wake.set()
            self._ensure_thread()

    def refresh_now(self, wait: float | None = None) -> FeedState | None:
        """Poll now and wait for it, so the next tick shows the result: the poller service's poll when it runs
        (poked), else one from the calling thread (or the poll in progress)."""
        if not self.configured:
            return None
        deadline = time.monotonic() + (wait if wait is not None else self.timeout + 1)
        started = time.time()
        service = self.service_running()
        if service:
            self.cache.set(self._key("poke"), started)
        while True:
            if not service and self.poll_once(force=True):
                return self.state()
            state = self.state()
            if state and state.polled_at and state.polled_at >= started:
                return state
            if time.monotonic() > deadline:
                return state
            time.sleep(0.05)

    def service_running(self) -> bool:
        """Whether a poller service's heartbeat is fresh (read at most twice a second per process)."""
        checked_at, alive = self._service_seen
        now = time.monotonic()
        if now - checked_at < HEARTBEAT_EVERY:
            return alive
        beat = self.cache.get(self._key("service"))
        alive = bool(beat) and time.time() - beat["at"] < SERVICE_STALE
        self._service_seen = (now, alive)
        return alive

    def _period(self) -> float | None:
        demand = self.cache.get(self._key("demand")) or {}
        now = time.time()
        live = [p for p, until in demand.items() if until > now]
        return min(live) if live else None

    # -------------------------------------------------------------------------------------------- polling

    def _due(self, period: float | None) -> bool:
        """A poll is due: poked since the last one, or `period` (None: nobody watches) has nearly passed."""
        state = self.state()
        if state is None or not state.polled_at:
            return period is not None or bool(self.cache.get(self._key("poke")))
        poked = self.cache.get(self._key("poke")) or 0
        if poked > state.polled_at:
            return True
        return period is not None and time.time() - state.polled_at >= period * 0.95

    def poll_once(self, force: bool = False) -> bool:
        """One `ps` under the lease, unless another poll holds it or (not forced) the last one is recent.

        Returns True when this call polled.
        """
        cache = self.cache
        token = secrets.token_hex(8)
        lease = self._key("lease")
        if not cache.add(lease, token, expire=self.timeout + 10):
            return False
        try:
            state = self.state()
            if not force and not self._due(self._period() or self.min_period):
                return False  # another worker polled between our check and the lease
            self._poll(state)
            return True
        finally:
            if cache.get(lease) == token:
                cache.delete(lease)

    def _poll(self, state: FeedState | None) -> None:
        started = time.perf_counter()
        try:
            self._poll_and_store(state)
        finally:
            self.poll_seconds = [*self.poll_seconds[-99:], time.perf_counter() - started]

    def _poll_and_store(self, state: FeedState | None) -> None:
        now = time.time()
        epoch = state.epoch if state else secrets.token_hex(4)
        version = state.version if state else 0
        self.polls += 1
        try:
            processes = self.backends.process_manager(POLL_USER, timeout=self.timeout).ps()
        except DruncError as exc:
            failed_since = (state.failed_since if state and state.failed_since else now)
            self._write_meta(epoch, version, now, state.ok_at if state else None, str(exc), failed_since,
                             state.total if state else 0, state.counts if state else {})
            return
        rows = rows_by_uuid(processes)
        previous = self._previous_rows(epoch, version)
        delta = diff_rows(previous, rows)
        counts = status_counts(rows.values())
        if delta or state is None:
            version += 1
            with self.cache.transact():
                self.cache.set(self._key(f"delta:{version}"), (delta.add, delta.update, delta.remove),
                               expire=DELTA_TTL)
                self.cache.set(self._key("rows"), (version, rows))
                self._write_meta(epoch, version, now, now, None, None, len(rows), counts)
            self._last_rows = (epoch, version, rows)
        else:
            self._write_meta(epoch, version, now, now, None, None, len(rows), counts)

    def _previous_rows(self, epoch: str, version: int) -> dict:
        if self._last_rows and self._last_rows[:2] == (epoch, version):
            return self._last_rows[2]
        stored = self.cache.get(self._key("rows"))
        return stored[1] if stored and stored[0] == version else {}

    def _write_meta(self, epoch, version, polled_at, ok_at, error, failed_since, total, counts) -> None:
        self.cache.set(self._key("meta"), {
            "epoch": epoch, "version": version, "polled_at": polled_at, "ok_at": ok_at, "error": error,
            "failed_since": failed_since, "total": total, "counts": counts,
        })

    # -------------------------------------------------------------------------------------------- thread

    def _ensure_thread(self) -> None:
        if self._closed.is_set():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name=f"pm-feed {self.endpoint}", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        idle_since = time.monotonic()
        while not self._closed.is_set():
            try:
                if self.service_running():
                    return  # the service polls; watch() starts this thread again if its heartbeat stops
                period = self._period()
                if period is None:
                    if time.monotonic() - idle_since > IDLE_EXIT:
                        return
                    self._wake.wait(0.5)
                    self._wake.clear()
                    continue
                idle_since = time.monotonic()
                if self._due(period):
                    self.poll_once()
            except Exception:  # noqa: BLE001 - the poller must outlive a broken cache read or a bug in one poll
                log.exception("process table poll failed")
                self._closed.wait(1.0)
            self._wake.wait(0.2)
            self._wake.clear()

    # ------------------------------------------------------------------------------------- the poller service

    def serve(self, stop: threading.Event) -> None:
        """The poller service's loop (`python -m polling`): poll at the period tabs ask for, at once when poked,
        and keep the heartbeat fresh so the web workers leave the polling to this process. Until `stop`."""
        started = time.time()
        beat_at = 0.0
        try:
            while not stop.is_set():
                try:
                    if time.monotonic() - beat_at >= HEARTBEAT_EVERY:
                        self._beat(started)
                        beat_at = time.monotonic()
                    if self._due(self._period()) and self.poll_once():
                        self._beat(started)
                except Exception:  # noqa: BLE001 - the service must outlive a broken cache read or one bad poll
                    log.exception("process table poll failed")
                    stop.wait(1.0)
                stop.wait(SERVICE_TICK)
        finally:
            try:
                self.cache.delete(self._key("service"))  # the workers take over at once, not after SERVICE_STALE
            except Exception:  # noqa: BLE001 - stopping must not fail on a cache error
                log.warning("could not clear the poller heartbeat", exc_info=True)

    def _beat(self, started: float) -> None:
        self.cache.set(self._key("service"), {"pid": os.getpid(), "at": time.time(), "started": started,
                                              "polls": self.polls}, expire=SERVICE_STALE * 10)

    def service_heartbeat(self) -> dict | None:
        """The service's last heartbeat ({pid, at, started, polls}), for benchmarks and monitoring."""
        return self.cache.get(self._key("service"))

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.timeout + 2)
        self._shared.close()
