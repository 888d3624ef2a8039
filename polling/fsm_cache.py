"""describe_fsm answers, learnt destinations and the progress of the transition running, per root controller, in
the shared cache: tabs never call drunc, and every tab (and worker) sees the same progress.

    cache = FsmCache(cache_dir, backends)
    cache.refresh(session, root, state)      # the tree sweep's call: describe_fsm when the answer is older than
                                             # `ttl` or does not know `state` (at most once per ttl per root)
    cache.graph(session, root, state)        # FsmGraph from the cache: never a drunc call (FsmNotRead when none)
    cache.learn(root, transition, before, after)
    cache.set_progress(root, {...}) / cache.progress(root) / cache.clear_progress(root)
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import diskcache

from drunc_client.errors import BackendUnavailable, DruncError, DruncFlagError
from polling.shared_cache import ForkSafeCache
from viewmodels.fsm import STANDARD, FsmGraph, derive_graph, learn, states_to_ask

log = logging.getLogger("runcontrol.polling")

DESCRIBE_USER = "runcontrol-ui"


class FsmNotRead(DruncError):
    """describe_fsm has not been answered for this root yet (the tree sweep asks it; see ControllerFeeds)."""


class FsmCache:
    def __init__(self, cache_dir: Path, backends, *, timeout: float = 5.0, ttl: float = 15.0):
        self.cache_dir = Path(cache_dir)
        self.backends = backends
        self.timeout = timeout
        self.ttl = ttl
        self._shared = ForkSafeCache(self.cache_dir)

    @property
    def cache(self) -> diskcache.Cache:
        return self._shared.get()

    def learnt(self, root: str) -> dict[str, str]:
        return dict(self.cache.get(f"fsm-learnt:{root}") or {})

    def learn(self, root: str, transition: str, before: str, after: str) -> None:
        with self.cache.transact():
            updated = learn(self.learnt(root), transition, before, after)
            if updated is not None:
                self.cache.set(f"fsm-learnt:{root}", updated)
                entry = self.cache.get(f"fsm-describe:{root}")
                if entry is not None:  # stale: the next sweep asks the new state's own transitions
                    self.cache.set(f"fsm-describe:{root}", {**entry, "at": 0.0}, expire=self.ttl * 20)

    def _entry_fits(self, entry: dict | None, state: str | None) -> bool:
        fresh = entry is not None and time.time() - entry["at"] < self.ttl
        knows_state = entry is not None and (not state or state in entry["asked"] or state in ("unknown", "error"))
        return fresh and knows_state

    def refresh(self, session: str, root: str, state: str | None) -> bool:
        """Ask the controller when the cached answer is older than `ttl` or does not know `state`; called by the
        tree sweep (once per period per root, under its lease), never by a tab. Returns True when it asked. A
        failure keeps the cached answer (logged); the tree's own error already says the root does not answer."""
        key = f"fsm-describe:{root}"
        if self._entry_fits(self.cache.get(key), state):
            return False
        try:
            entry = self._describe(session, root, self.learnt(root), state)
        except DruncError:
            log.info("describe_fsm of %s failed: the cached answer is kept", root, exc_info=True)
            return False
        self.cache.set(key, entry, expire=self.ttl * 20)
        return True

    def graph(self, session: str, root: str, state: str | None) -> FsmGraph:
        """The graph from the cache (the tree sweep keeps it fresh): never a drunc call. Raises FsmNotRead when
        the controller has not been described yet."""
        entry = self.cache.get(f"fsm-describe:{root}")
        if entry is None:
            raise FsmNotRead(f"describe_fsm of {root} not answered yet (asked at the next sweep)")
        return derive_graph(entry["specs"], entry["sources"], self.learnt(root))

    def _describe(self, session: str, root: str, learnt: dict[str, str], state: str | None) -> dict:
        client = self.backends.controller(DESCRIBE_USER, address=root, timeout=self.timeout, session=session)
        specs = client.all_transitions()
        asked = states_to_ask(specs, learnt, state)
        sources = {}
        broken = False
        for name in asked:
            try:
                sources[name] = [s.name for s in client.describe_fsm(name)]
            except BackendUnavailable:
                raise
            except DruncFlagError as exc:
                # drunc 0.13.2 answers every named key with UNHANDLED_EXCEPTION_THROWN (its bug): derive instead
                broken = broken or exc.flag == "UNHANDLED_EXCEPTION_THROWN"
                sources[name] = []
            except DruncError:
                sources[name] = []  # not a state of this controller's FSM
        if broken:
            sources = derived_sources(specs, asked)
            if state:
                try:
                    sources[state] = [s.name for s in client.describe_fsm("")]  # "" still works on 0.13.2
                except DruncError:
                    pass
        return {"specs": specs, "sources": sources, "asked": asked, "at": time.time()}

    # -- the transition running ---------------------------------------------------------------------------------

    def set_progress(self, root: str, progress: dict, expire: float) -> None:
        self.cache.set(f"fsm-progress:{root}", progress, expire=expire)

    def progress(self, root: str) -> dict | None:
        return self.cache.get(f"fsm-progress:{root}")

    def clear_progress(self, root: str) -> None:
        self.cache.delete(f"fsm-progress:{root}")

    def close(self) -> None:
        self._shared.close()


def derived_sources(specs, states) -> dict[str, list[str]]:
    """state → transitions leaving it, from the standard DUNE FSM, for a controller whose describe_fsm cannot be
    asked per state (drunc 0.13.2)."""
    names = [s.name for s in specs]
    return {state: [n for n in names if n in STANDARD and STANDARD[n][0] == state] for state in states}
