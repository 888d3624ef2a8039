"""The controller tree of each session, polled once per refresh period per root, shared by every tab and worker.

THE CONTRACT (what the Controller page's callbacks rely on; keep it when the internals change):

    feeds = services.controller_feeds                       # ControllerFeeds, one per process
    snap = feeds.snapshot(session)                          # TreeSnapshot: the newest known tree, never a drunc call
    feeds.watch(session, period)                            # a tab is looking at this session every `period` s
    feeds.changes(session, epoch, version)                  # what a tab showing (epoch, version) needs (tree panel)
    feeds.refresh_now(session, wait=3.0)                    # after an action: poll now, or wait for the poll
    feeds.poke(session)                                     # poll as soon as possible, without waiting
    feeds.observations(session, since)                      # [(time, path, state)] state changes seen (timeline)

A node row (a dict, JSON-safe, one per node, in tree order, the root first) has these keys (NODE_FIELDS):
    path          "root-controller/segment-0/app-1": unique, the row id
    name, parent  the node's name; the parent's path ("" for the root)
    depth         0 for the root
    kind          "controller" | "application"
    state         the FSM state ("configured"); "unknown" when unreachable
    sub_state     drunc's sub-state ("preparing-start" while a transition runs, "idle" otherwise)
    busy          True while a transition runs on the node
    in_error, included, unreachable   booleans (unreachable: state unknown and in error, drunc's fallback)
    host          the host of the node's process, joined from the process table by name ("" when unknown)
    in_charge     who is in charge of a controller ("" for applications or when unknown)
    address       a controller's own gRPC address ("" for applications)
    error         why a controller's subtree could not be read ("" when it could)
    order         the row's place in tree order (0 for the root): the grid sorts by it

HOW (the same design as polling/process_feed.py): browsers never call drunc. One sweep per session per refresh
period reads the whole tree (get_status + get_children_status per controller, who_is_in_charge per controller,
the hosts joined by name from the process feed's cached rows) and writes it to a diskcache under
DATA_DIR/cache that every worker shares (while a node is mid-transition, a sweep every BUSY_PERIOD instead, so
the end of a transition reaches the tabs within their period), per session:

    meta         epoch, version, times of the last sweep and of the last good one, the error while the root is
                 down, whether the root is registered in the connectivity service, the counts
    rows         the last tree (version, rows)
    delta:<v>    what changed from version v-1 to v, keyed by path (AG Grid transactions; kept 10 minutes)
    lease        held during a sweep: sweeps of one session never overlap, across threads and workers
    obs          the state changes seen, (time, path, state), for the last hour
and, for all sessions, `ctl:demand` ({session: {period: until}}: the periods tabs asked for recently), `ctl:pokes`
({session: time}: a sweep was asked for now) and `ctl:service` (the poller service's heartbeat). The demand
names the sessions, so the poller service (`python -m polling`) finds which sessions to sweep; without a fresh
heartbeat each worker runs its own poller thread, exactly like the process feed. Nobody watching: no sweeps.

A session's root is resolved through the connectivity service (`backends.locate`, CONTROLLER_URL overrides it)
at each sweep (the resolver keeps its answer 30 s and looks again at once after an unreachable controller). A
session whose root is not registered is a state (`registered` False, no nodes), not an error; an unreachable
root keeps the last known nodes with `error` set.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import diskcache

from drunc_client.errors import DruncError, NotRegistered
from polling.fsm_cache import FsmCache
from polling.shared_cache import ForkSafeCache
from viewmodels.controller_tree import TreeDelta, clean_session, diff_nodes, merge_deltas, node_counts

log = logging.getLogger("runcontrol.polling")

POLL_USER = "runcontrol-ui"
NODE_FIELDS = ("path", "name", "parent", "depth", "kind", "state", "sub_state", "busy", "in_error", "included",
               "unreachable", "host", "in_charge", "address", "error", "order")

DELTA_TTL = 600.0
MAX_MERGE = 120  # a tab further behind than this many versions reloads the whole tree
DEMAND_HOLD = 10.0  # a tab's demand lasts this long after its last tick
MAX_SESSIONS = 20  # sessions swept at once at most (typed names cannot make the poller sweep without end)
IDLE_EXIT = 30.0  # a worker's poller thread ends after this long without demand
HEARTBEAT_EVERY = 0.5
SERVICE_STALE = 3.0
SERVICE_TICK = 0.05
FIRST_WAIT = 6.0  # the first tab of a session waits this long at most for the first sweep
STALE_POKE = 10.0  # a snapshot older than this asks for a sweep (a part read a session nobody's tree watches)
OBSERVATION_HOURS = 1.0
MAX_OBSERVATIONS = 200_000
IN_CHARGE_PARALLEL = 8
BUSY_PERIOD = 0.25  # the sweep period while a transition runs (a sweep of 1,000 nodes costs a few tens of ms)

DEMAND_KEY = "ctl:demand"
POKES_KEY = "ctl:pokes"
SERVICE_KEY = "ctl:service"
SUMMARIES_KEY = "ctl:summaries"  # (token, counter, {session: summary}): every root's summary in one read
MAX_SUMMARIES = 2000  # sessions kept in that index (the oldest change goes first)


@dataclass(frozen=True)
class TreeSnapshot:
    session: str
    root: str | None  # the root controller's address; None when not registered in the connectivity service
    epoch: str
    version: int
    polled_at: float | None
    ok_at: float | None
    error: str | None  # why the last poll failed (the nodes are then the last known ones)
    registered: bool = True
    message: str = ""  # the location ("root controller of session ... at ...") or why there is none
    nodes: tuple[dict, ...] = field(default_factory=tuple)
    failed_since: float | None = None  # when the outage began
    counts: dict = field(default_factory=dict)  # viewmodels.controller_tree.node_counts of the nodes
    schema: str = ""  # the root's druncschema layout, "0.8" or "0.11" ("" before a good sweep)

    @property
    def targeted(self) -> bool:
        """The root addresses a subtree itself (druncschema 0.11): include, exclude and transitions of any node go
        through the root with a target, instead of to the node's own address (0.8)."""
        return self.schema == "0.11"

    @property
    def ok(self) -> bool:
        return self.error is None and self.registered

    @property
    def root_node(self) -> dict | None:
        return self.nodes[0] if self.nodes else None


@dataclass(frozen=True)
class TreeChanges:
    """What a tab showing (epoch, version) needs: kind 'none', 'delta' (see `delta`) or 'full' (`snapshot.nodes`).
    Only a 'full' answer carries the nodes in its snapshot (reading 1,000 rows costs more than an unchanged tick
    may)."""

    kind: str
    snapshot: TreeSnapshot | None
    delta: TreeDelta | None = None


def tree_rows(tree, hosts: dict[str, str] | None = None, in_charge: dict[str, str] | None = None) -> list[dict]:
    """drunc_client TreeNode → node rows (see NODE_FIELDS), depth first, the root first."""
    hosts, in_charge = hosts or {}, in_charge or {}
    rows: list[dict] = []

    def visit(node, parent: str, depth: int) -> None:
        path = f"{parent}/{node.name}" if parent else node.name
        status = node.status
        unreachable = bool(status and status.unreachable) or (status is None and bool(node.error))
        rows.append({
            "path": path, "name": node.name, "parent": parent, "depth": depth, "kind": node.kind,
            "state": status.state if status else "unknown", "sub_state": status.sub_state if status else "",
            "busy": bool(status and status.transitioning), "in_error": bool(status and status.in_error) or unreachable,
            "included": bool(status.included) if status else False, "unreachable": unreachable,
            "host": hosts.get(node.name, ""), "in_charge": in_charge.get(node.name, ""),
            "address": (node.address or "") if node.kind == "controller" else "", "error": node.error or "",
            "order": len(rows),
        })
        for child in node.children:
            visit(child, path, depth + 1)

    visit(tree, "", 0)
    return rows


def _head(rows) -> dict:
    """What a session summary shows of the root (kept in the meta, so it is read without the tree)."""
    if not rows:
        return {}
    root = rows[0]
    return {key: root.get(key) for key in ("name", "state", "sub_state", "busy", "in_error", "in_charge")}


class ControllerFeeds:
    def __init__(self, cache_dir: Path, backends, *, timeout: float = 5.0, process_feed=None,
                 min_period: float = 1.0):
        self.cache_dir = Path(cache_dir)
        self.backends = backends
        self.timeout = timeout
        self.process_feed = process_feed
        self.min_period = min_period
        self._shared = ForkSafeCache(self.cache_dir)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._sweeping: dict[str, threading.Thread] = {}  # session → the thread sweeping it in this process
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._last_rows: dict[str, tuple[str, int, tuple]] = {}  # session → (epoch, version, rows) written here
        self._service_seen = (0.0, False)
        # describe_fsm answers of each root, refreshed by the sweep (at most once per ttl): tabs only read them
        self.fsm = FsmCache(self.cache_dir, backends, timeout=timeout)
        self.sweeps = 0  # sweeps made by this process and the duration of each (benchmarks read them)
        self.sweep_seconds: list[float] = []

    # ------------------------------------------------------------------------------------------ the cache

    @property
    def cache(self) -> diskcache.Cache:
        return self._shared.get()

    @staticmethod
    def _key(session: str, name: str) -> str:
        return f"ctl:{session}:{name}"

    @property
    def default_session(self) -> str:
        return self.backends.csc_session

    @property
    def configured(self) -> bool:
        return bool(self.backends.controller_url or getattr(self.backends, "csc_url", ""))

    def _session(self, session: str | None) -> str:
        return session or self.default_session

    # ------------------------------------------------------------------------------------------- readers

    def _meta(self, session: str) -> dict | None:
        return self.cache.get(self._key(session, "meta"))

    @staticmethod
    def _snapshot(session: str, meta: dict, nodes: tuple = ()) -> TreeSnapshot:
        return TreeSnapshot(session, meta["root"], meta["epoch"], meta["version"], meta["polled_at"], meta["ok_at"],
                            meta["error"], meta["registered"], meta["message"], tuple(nodes),
                            meta.get("failed_since"), meta.get("counts") or {}, meta.get("schema") or "")

    def _no_tree(self, session: str) -> TreeSnapshot:
        """The snapshot when there is none: why (not configured, not a session name, no sweep yet)."""
        if not self.configured:
            why = "no controller configured: set CSC_URL (connectivity service) or CONTROLLER_URL"
        elif clean_session(session) is None:
            why = f"{session[:80]!r} is not a session name (letters, digits, '.', '_' and '-')"
        else:
            why = "no answer yet from the controller poller"
        return TreeSnapshot(session, None, "", 0, None, None, why, True, why)

    def _rows(self, session: str) -> tuple:
        stored = self.cache.get(self._key(session, "rows"))
        return tuple(stored[1]) if stored else ()

    def snapshot(self, session: str | None = None) -> TreeSnapshot:
        """The newest known tree of `session`, from the cache. The first reader of a session waits (FIRST_WAIT at
        most) for the first sweep, which runs in the poller service or a poller thread, never here."""
        session = self._session(session)
        meta = self._first_meta(session)
        if meta is None:
            return self._no_tree(session)
        if time.time() - (meta["polled_at"] or 0) > STALE_POKE:
            self.poke(session)
        return self._snapshot(session, meta, self._rows(session))

    def summary(self, session: str) -> dict | None:
        """The root's state, who is in charge of it, the counts and the sweep's health, from the meta alone: no
        tree read and no wait, so a page listing every session stays cheap. None before the first sweep."""
        meta = self._meta(session)
        if meta is None:
            return None
        return {"registered": meta["registered"], "root": meta["root"], "error": meta["error"],
                "polled_at": meta["polled_at"], "ok_at": meta["ok_at"], "counts": meta.get("counts") or {},
                "head": meta.get("head") or {}, "message": meta.get("message") or ""}

    def summaries(self, sessions) -> tuple[str, dict[str, dict | None]]:
        """(mark, {session: summary without the sweep times, None before its first sweep}) in one cache read:
        the mark changes whenever any root's summary does, so a tab showing it can skip an unchanged tick."""
        stored = self.cache.get(SUMMARIES_KEY)
        token, counter, known = stored if stored else ("", 0, {})
        return f"{token}:{counter}", {s: (known[s][1] if s in known else None) for s in sessions}

    def _index_summary(self, session: str, meta: dict) -> None:
        """Keep SUMMARIES_KEY equal to the newest meta of every session, bumping its counter on a change only
        (a sweep that changes nothing writes nothing here)."""
        summary = {"registered": meta["registered"], "root": meta["root"], "error": meta["error"],
                   "counts": meta.get("counts") or {}, "head": meta.get("head") or {},
                   "message": meta.get("message") or ""}
        stored = self.cache.get(SUMMARIES_KEY)
        if stored and (stored[2].get(session) or (0, None))[1] == summary:
            return
        with self.cache.transact():  # read again under the lock: several sweeps may write at once
            token, counter, known = self.cache.get(SUMMARIES_KEY) or (secrets.token_hex(4), 0, {})
            if (known.get(session) or (0, None))[1] == summary:
                return
            known = {**known, session: (time.time(), summary)}
            if len(known) > MAX_SUMMARIES:
                known = dict(sorted(known.items(), key=lambda kv: kv[1][0])[-MAX_SUMMARIES:])
            self.cache.set(SUMMARIES_KEY, (token, counter + 1, known))

    def changes(self, session: str | None, epoch: str | None, version: int | None) -> TreeChanges:
        session = self._session(session)
        meta = self._first_meta(session)
        if meta is None:
            return TreeChanges("none", None)
        if epoch == meta["epoch"] and version == meta["version"]:
            return TreeChanges("none", self._snapshot(session, meta))
        if epoch == meta["epoch"] and version is not None and 0 <= meta["version"] - version <= MAX_MERGE:
            deltas = []
            for v in range(version + 1, meta["version"] + 1):
                stored = self.cache.get(self._key(session, f"delta:{v}"))
                if stored is None:
                    break
                deltas.append(TreeDelta(*stored))
            else:
                return TreeChanges("delta", self._snapshot(session, meta), merge_deltas(deltas))
        stored = self.cache.get(self._key(session, "rows"))
        if stored is not None and stored[0] != meta["version"]:  # a sweep landed between the two reads
            meta = self._meta(session) or meta
        return TreeChanges("full", self._snapshot(session, meta, tuple(stored[1]) if stored else ()))

    def _first_meta(self, session: str) -> dict | None:
        meta = self._meta(session)
        if meta is not None or not self.configured or clean_session(session) is None:
            return meta
        self.poke(session)
        deadline = time.monotonic() + min(FIRST_WAIT, self.timeout + 1)
        while meta is None and time.monotonic() < deadline:
            time.sleep(0.05)
            meta = self._meta(session)
        return meta

    def observations(self, session: str | None, since: float) -> list[tuple[float, str, str]]:
        """The state changes seen by the sweeps since `since` (the first sweep records every node's state)."""
        stored = self.cache.get(self._key(self._session(session), "obs")) or []
        return [o for o in stored if o[0] >= since]

    # ------------------------------------------------------------------------------------- demand and poke

    def watch(self, session: str | None, period: float) -> None:
        """A tab refreshing every `period` seconds looks at `session`: sweep it at least that often."""
        self.watch_many([self._session(session)], period)

    def watch_many(self, sessions, period: float) -> None:
        """watch() for several sessions with one read of the demand, and a write only when one is about to lapse
        (or cannot be added: MAX_SESSIONS are swept at most, so a full demand is not rewritten on every tick)."""
        sessions = [s for s in dict.fromkeys(sessions) if clean_session(s) is not None]
        if not self.configured or not sessions:
            return
        period = max(self.min_period, float(period))
        now = time.time()
        demand = self.cache.get(DEMAND_KEY) or {}
        room = MAX_SESSIONS - sum(1 for periods in demand.values() if any(u > now for u in periods.values()))

        def lapsing(s: str) -> bool:
            until = (demand.get(s) or {}).get(period, 0)
            return until < now + DEMAND_HOLD / 2 and (until > now or s in demand or room > 0)

        if any(lapsing(s) for s in sessions):
            try:
                with self.cache.transact():
                    demand = self.cache.get(DEMAND_KEY) or {}
                    live = {s: {p: u for p, u in periods.items() if u > now} for s, periods in demand.items()}
                    live = {s: periods for s, periods in live.items() if periods}
                    for session in sessions:
                        if session in live or len(live) < MAX_SESSIONS:
                            live.setdefault(session, {})[period] = now + max(DEMAND_HOLD, 3 * period)
                    self.cache.set(DEMAND_KEY, live)
            except diskcache.Timeout:
                # the shared cache stayed locked for its whole timeout (a disk stalled under load): the demand is
                # renewed by this tab's next tick, long before it lapses; this tick still shows what is stored
                log.warning("demand for %s not recorded: the shared cache is busy", ", ".join(sessions))
        if not self.service_running():
            self._ensure_thread()

    def poke(self, session: str | None = None) -> None:
        """Sweep `session` as soon as possible, in the service or whichever worker's thread gets there first."""
        session = self._session(session)
        if not self.configured or clean_session(session) is None:
            return
        now = time.time()
        with self.cache.transact():
            pokes = {s: t for s, t in (self.cache.get(POKES_KEY) or {}).items() if now - t < 60}
            pokes[session] = now
            self.cache.set(POKES_KEY, pokes)
        if not self.service_running():
            self._wake.set()
            self._ensure_thread()

    def refresh_now(self, session: str | None = None, wait: float | None = None) -> TreeSnapshot:
        """Sweep now and wait for it (after an action, so the next tick shows the result): the service's sweep
        when it runs, else one from the calling thread (or the sweep in progress)."""
        session = self._session(session)
        if not self.configured or clean_session(session) is None:
            return self._no_tree(session)
        deadline = time.monotonic() + (wait if wait is not None else self.timeout + 1)
        started = time.time()
        service = self.service_running()
        if service:
            self.poke(session)
        while True:
            if not service and self.poll_once(session, force=True):
                break
            meta = self._meta(session)
            if meta and meta["polled_at"] and meta["polled_at"] >= started:
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        meta = self._meta(session)
        if meta is None:
            return self._no_tree(session)
        return self._snapshot(session, meta, self._rows(session))

    def service_running(self) -> bool:
        checked_at, alive = self._service_seen
        now = time.monotonic()
        if now - checked_at < HEARTBEAT_EVERY:
            return alive
        beat = self.cache.get(SERVICE_KEY)
        alive = bool(beat) and time.time() - beat["at"] < SERVICE_STALE
        self._service_seen = (now, alive)
        return alive

    def demand(self) -> dict[str, float]:
        """{session: the shortest period a tab asked for} of the sessions somebody watches now."""
        now = time.time()
        out = {}
        for session, periods in (self.cache.get(DEMAND_KEY) or {}).items():
            live = [p for p, until in periods.items() if until > now]
            if live:
                out[session] = min(live)
        return out

    def _due_sessions(self) -> list[str]:
        """Sessions to sweep now: poked since their last sweep, or their period has nearly passed."""
        demand = self.demand()
        pokes = self.cache.get(POKES_KEY) or {}
        due = []
        for session in dict.fromkeys([*demand, *pokes]):
            meta = self._meta(session)
            polled_at = meta["polled_at"] if meta else None
            if polled_at is None:
                due.append(session)
            elif pokes.get(session, 0) > polled_at:
                due.append(session)
            elif session in demand and time.time() - polled_at >= self._period(demand[session], meta) * 0.95:
                due.append(session)
        return due

    @staticmethod
    def _period(period: float, meta: dict) -> float:
        """While a transition runs somewhere in the tree, sweep faster, so that its end reaches the tabs within
        their own period rather than up to two periods later (one to the sweep, one to the tab's tick)."""
        if (meta.get("counts") or {}).get("busy"):
            return min(period, BUSY_PERIOD)
        return period

    # -------------------------------------------------------------------------------------------- sweeping

    def poll_once(self, session: str | None = None, force: bool = False) -> bool:
        """One sweep of `session` under its lease, unless another holds it or (not forced) the last is recent.
        Returns True when this call swept."""
        session = self._session(session)
        cache = self.cache
        token = secrets.token_hex(8)
        lease = self._key(session, "lease")
        if not cache.add(lease, token, expire=self.timeout * 3 + 10):
            return False
        try:
            if not force and session not in self._due_sessions():
                return False  # another worker swept between our check and the lease
            started = time.perf_counter()
            try:
                self._sweep(session)
            finally:
                self.sweep_seconds = [*self.sweep_seconds[-99:], time.perf_counter() - started]
            return True
        finally:
            if cache.get(lease) == token:
                cache.delete(lease)

    def _hosts(self) -> dict[str, str]:
        if self.process_feed is None:
            return {}
        try:
            self.process_feed.watch(5.0)  # the hosts come from ps: keep it polled (slowly) while the tree is
            _state, rows = self.process_feed.rows()
        except Exception:  # noqa: BLE001 - hosts are a nicety: a broken process cache must not stop the tree
            log.warning("cannot read the process table for hosts", exc_info=True)
            return {}
        return {r.get("name", ""): r.get("host", "") for r in rows}

    def _read_tree(self, session: str):
        """The tree and who is in charge of each controller; raises NotRegistered or DruncError."""
        client = self.backends.controller(POLL_USER, timeout=self.timeout, session=session)
        tree = client.tree()
        controllers = [n for n in tree.walk() if n.kind == "controller" and n.address and not n.error]

        def who(node) -> tuple[str, str]:
            try:
                target = client if node is tree else client._child(node.address)
                return node.name, target.who_is_in_charge()
            except DruncError:
                return node.name, ""

        with ThreadPoolExecutor(max_workers=max(1, min(IN_CHARGE_PARALLEL, len(controllers)))) as pool:
            in_charge = dict(pool.map(who, controllers))
        return tree, in_charge, client.layout  # known by now: tree() detected it

    def _sweep(self, session: str) -> None:
        now = time.time()
        meta = self._meta(session)
        epoch = meta["epoch"] if meta else secrets.token_hex(4)
        version = meta["version"] if meta else 0
        self.sweeps += 1

        def failed(error: str, root: str | None, message: str) -> None:
            failed_since = (meta.get("failed_since") if meta else None) or now
            self._write_meta(session, epoch, version, now, meta["ok_at"] if meta else None, error, failed_since,
                             True, root, message, meta.get("counts") if meta else {},
                             meta.get("head") if meta else None, meta.get("schema", "") if meta else "")

        try:
            location = self.backends.locate(session)
        except DruncError as exc:
            failed(str(exc), meta.get("root") if meta else None, str(exc))
            return
        if not location.registered:
            self._store(session, meta, epoch, version, now, (), registered=False, root=None,
                        message=location.message)
            return
        try:
            tree, in_charge, schema = self._read_tree(session)
        except NotRegistered as exc:
            self._store(session, meta, epoch, version, now, (), registered=False, root=None, message=str(exc))
            return
        except DruncError as exc:
            failed(str(exc), location.root, location.message)
            return
        rows = tuple(tree_rows(tree, self._hosts(), in_charge))
        if rows and not rows[0]["unreachable"]:
            # before the tree is stored, so a tab that sees a new state also finds its transitions
            self.fsm.refresh(session, location.root, rows[0]["state"])
        self._store(session, meta, epoch, version, now, rows, registered=True, root=location.root,
                    message=location.message, schema=schema)

    def _previous_rows(self, session: str, epoch: str, version: int) -> tuple:
        mine = self._last_rows.get(session)
        if mine and mine[:2] == (epoch, version):
            return mine[2]
        stored = self.cache.get(self._key(session, "rows"))
        return tuple(stored[1]) if stored and stored[0] == version else ()

    def _store(self, session, meta, epoch, version, now, rows: tuple, *, registered, root, message,
               schema: str = "") -> None:
        previous = self._previous_rows(session, epoch, version)
        delta = diff_nodes(previous, rows)
        counts = node_counts(rows)
        head = _head(rows)
        changed = bool(delta) or meta is None or meta.get("registered") != registered
        if changed:
            version += 1
            with self.cache.transact():
                self.cache.set(self._key(session, f"delta:{version}"), delta.as_tuple(), expire=DELTA_TTL)
                self.cache.set(self._key(session, "rows"), (version, rows))
                self._write_meta(session, epoch, version, now, now, None, None, registered, root, message, counts,
                                 head, schema)
            self._last_rows[session] = (epoch, version, rows)
            self._observe(session, now, previous, rows)
        else:
            self._write_meta(session, epoch, version, now, now, None, None, registered, root, message, counts, head,
                             schema)

    def _observe(self, session: str, now: float, previous: tuple, rows: tuple) -> None:
        before = {r["path"]: r["state"] for r in previous}
        seen = [(now, r["path"], r["state"]) for r in rows if before.get(r["path"]) != r["state"]]
        if not seen:
            return
        key = self._key(session, "obs")
        horizon = now - OBSERVATION_HOURS * 3600
        with self.cache.transact():
            stored = [o for o in (self.cache.get(key) or []) if o[0] >= horizon]
            stored.extend(seen)
            self.cache.set(key, stored[-MAX_OBSERVATIONS:], expire=OBSERVATION_HOURS * 3600 + 60)

    def _write_meta(self, session, epoch, version, polled_at, ok_at, error, failed_since, registered, root, message,
                    counts, head=None, schema: str = "") -> None:
        self.cache.set(self._key(session, "meta"), {
            "epoch": epoch, "version": version, "polled_at": polled_at, "ok_at": ok_at, "error": error,
            "failed_since": failed_since, "registered": registered, "root": root, "message": message,
            "counts": counts or {}, "head": head, "schema": schema,
        })
        self._index_summary(session, {"registered": registered, "root": root, "error": error, "message": message,
                                      "counts": counts or {}, "head": head})

    def _sweep_due(self) -> int:
        """Start a sweep (in a thread of its own, so one slow root never delays another session) for each due
        session this process is not sweeping already. Returns how many were started."""
        started = 0
        for session in self._due_sessions():
            with self._lock:
                running = self._sweeping.get(session)
                if running is not None and running.is_alive():
                    continue
                thread = threading.Thread(target=self._sweep_guarded, args=(session,), daemon=True,
                                          name=f"ctl-sweep {session}")
                self._sweeping[session] = thread
            thread.start()
            started += 1
        return started

    def _sweep_guarded(self, session: str) -> None:
        try:
            self.poll_once(session)
        except Exception:  # noqa: BLE001 - one broken sweep must not end the poller
            log.exception("controller tree sweep of %s failed", session)

    # -------------------------------------------------------------------------------------------- thread

    def _ensure_thread(self) -> None:
        if self._closed.is_set():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="ctl-feed", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        idle_since = time.monotonic()
        while not self._closed.is_set():
            try:
                if self.service_running():
                    return  # the service sweeps; watch() starts this thread again if its heartbeat stops
                if self.demand() or self.cache.get(POKES_KEY):
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > IDLE_EXIT:
                    return
                self._sweep_due()
            except Exception:  # noqa: BLE001 - the poller must outlive a broken cache read
                log.exception("controller tree poller failed")
                self._closed.wait(1.0)
            self._wake.wait(0.1)
            self._wake.clear()

    # ------------------------------------------------------------------------------------- the poller service

    def serve(self, stop: threading.Event) -> None:
        """The poller service's loop (`python -m polling`): sweep every session tabs watch at the period they ask
        for, at once when poked, and keep the heartbeat fresh so the web workers leave the sweeps to it."""
        started = time.time()
        beat_at = 0.0
        try:
            while not stop.is_set():
                try:
                    if time.monotonic() - beat_at >= HEARTBEAT_EVERY:
                        self._beat(started)
                        beat_at = time.monotonic()
                    self._sweep_due()
                except Exception:  # noqa: BLE001 - the service must outlive a broken cache read
                    log.exception("controller tree poller failed")
                    stop.wait(1.0)
                stop.wait(SERVICE_TICK)
        finally:
            self._join_sweeps()
            try:
                self.cache.delete(SERVICE_KEY)
            except Exception:  # noqa: BLE001 - stopping must not fail on a cache error
                log.warning("could not clear the controller poller heartbeat", exc_info=True)

    def _beat(self, started: float) -> None:
        self.cache.set(SERVICE_KEY, {"pid": os.getpid(), "at": time.time(), "started": started,
                                     "sweeps": self.sweeps}, expire=SERVICE_STALE * 10)

    def service_heartbeat(self) -> dict | None:
        return self.cache.get(SERVICE_KEY)

    def _join_sweeps(self) -> None:
        with self._lock:
            threads = list(self._sweeping.values())
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout=self.timeout * 3 + 2)

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.timeout + 2)
        self._join_sweeps()
        self.fsm.close()
        self._shared.close()
