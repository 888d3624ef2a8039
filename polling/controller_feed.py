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

THIS FILE IS A FIRST CUT: `snapshot` walks the tree itself (with a short shared cache) so that the pages can be
built against real data; the shared poller (lease, versions, deltas, the poller service) replaces it.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import diskcache

from drunc_client.errors import DruncError, NotRegistered

log = logging.getLogger("runcontrol.polling")

POLL_USER = "runcontrol-ui"
NODE_FIELDS = ("path", "name", "parent", "depth", "kind", "state", "sub_state", "busy", "in_error", "included",
               "unreachable", "host", "in_charge", "address", "error")


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

    @property
    def ok(self) -> bool:
        return self.error is None and self.registered

    @property
    def root_node(self) -> dict | None:
        return self.nodes[0] if self.nodes else None


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
        })
        for child in node.children:
            visit(child, path, depth + 1)

    visit(tree, "", 0)
    return rows


class ControllerFeeds:
    def __init__(self, cache_dir: Path, backends, *, timeout: float = 5.0, process_feed=None, ttl: float = 1.0):
        self.cache_dir = Path(cache_dir)
        self.backends = backends
        self.timeout = timeout
        self.process_feed = process_feed
        self.ttl = ttl
        self._cache: diskcache.Cache | None = None
        self._cache_pid: int | None = None
        self._lock = threading.Lock()

    @property
    def cache(self) -> diskcache.Cache:
        pid = os.getpid()
        if self._cache is None or self._cache_pid != pid:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            self._cache = diskcache.Cache(str(self.cache_dir), timeout=5, eviction_policy="none")
            self._cache_pid = pid
        return self._cache

    @property
    def default_session(self) -> str:
        return self.backends.csc_session

    def snapshot(self, session: str | None = None) -> TreeSnapshot:
        session = session or self.default_session
        key = f"ctl-first-cut:{session}"
        cached = self.cache.get(key)
        if cached is not None and time.time() - (cached.polled_at or 0) < self.ttl:
            return cached
        snap = self._poll(session, cached)
        self.cache.set(key, snap, expire=600)
        return snap

    def watch(self, session: str | None, period: float) -> None:
        return None

    def poke(self, session: str | None = None) -> None:
        self.cache.delete(f"ctl-first-cut:{session or self.default_session}")

    def refresh_now(self, session: str | None = None, wait: float | None = None) -> TreeSnapshot:
        self.poke(session)
        return self.snapshot(session)

    def observations(self, session: str | None, since: float) -> list[tuple[float, str, str]]:
        return []

    def _hosts(self) -> dict[str, str]:
        if self.process_feed is None:
            return {}
        _state, rows = self.process_feed.rows()
        return {r.get("name", ""): r.get("host", "") for r in rows}

    def _poll(self, session: str, previous: TreeSnapshot | None) -> TreeSnapshot:
        now = time.time()
        epoch = previous.epoch if previous else secrets.token_hex(4)
        version = previous.version if previous else 0
        try:
            location = self.backends.locate(session)
        except DruncError as exc:
            return TreeSnapshot(session, None, epoch, version, now, previous.ok_at if previous else None, str(exc),
                                True, str(exc), previous.nodes if previous else ())
        if not location.registered:
            return TreeSnapshot(session, None, epoch, version + 1, now, now, None, False, location.message, ())
        try:
            client = self.backends.controller(POLL_USER, timeout=self.timeout, session=session)
            tree = client.tree()
            in_charge = {}
            for node in tree.walk():
                if node.kind == "controller" and node.address and not node.error:
                    try:
                        in_charge[node.name] = client._child(node.address).who_is_in_charge()
                    except DruncError:
                        in_charge[node.name] = ""
        except NotRegistered as exc:
            return TreeSnapshot(session, None, epoch, version + 1, now, now, None, False, str(exc), ())
        except DruncError as exc:
            return TreeSnapshot(session, location.root, epoch, version, now, previous.ok_at if previous else None,
                                str(exc), True, location.message, previous.nodes if previous else ())
        rows = tuple(tree_rows(tree, self._hosts(), in_charge))
        changed = previous is None or previous.nodes != rows
        return TreeSnapshot(session, location.root, epoch, version + (1 if changed else 0), now, now, None, True,
                            location.message, rows)

    def close(self) -> None:
        if self._cache is not None and self._cache_pid == os.getpid():
            self._cache.close()
        self._cache = None
