"""The shared caches the Sessions page and the overview read on a tick: the process summary computed once per
table version, the index of every root's summary (its mark moves on a change only), and one demand write for
many sessions."""

from __future__ import annotations

import time
from types import SimpleNamespace

from polling import controller_feed as feed_module
from polling.controller_feed import DEMAND_KEY, ControllerFeeds
from polling.process_feed import ProcessFeed

BACKENDS = SimpleNamespace(process_manager_url="127.0.0.1:1", controller_url="", csc_url="http://127.0.0.1:1",
                           csc_session="s")


def _meta(feeds, session, version, state="running", error=None):
    feeds._write_meta(session, "e", version, time.time(), time.time(), error, None, True, "h:1", "", {"nodes": 1},
                      {"state": state})


def test_a_derived_value_is_computed_once_per_table_version(tmp_path):
    feed = ProcessFeed(tmp_path / "cache", BACKENDS)
    other_worker = ProcessFeed(tmp_path / "cache", BACKENDS)
    calls = []

    def count(rows):
        calls.append(len(rows))
        return {"n": len(rows)}

    assert feed.derived("n", count) == {"n": 0}  # no table yet
    feed.cache.set(feed._key("rows"), (1, {"u1": {"uuid": "u1"}}))
    feed._write_meta("ep", 1, time.time(), time.time(), None, None, 1, {})
    assert feed.derived("n", count) == other_worker.derived("n", count) == {"n": 1}
    assert calls == [0, 1]
    feed.cache.set(feed._key("rows"), (2, {"u1": {}, "u2": {}}))
    feed._write_meta("ep", 2, time.time(), time.time(), None, None, 2, {})
    assert other_worker.derived("n", count) == {"n": 2} and calls == [0, 1, 2]
    feed.close()
    other_worker.close()


def test_the_summaries_index_moves_only_when_a_summary_changes(tmp_path):
    feeds = ControllerFeeds(tmp_path / "cache", BACKENDS)
    mark0, none = feeds.summaries(["a"])
    assert none == {"a": None}
    _meta(feeds, "a", 1)
    _meta(feeds, "b", 1, "configured")
    mark1, got = feeds.summaries(["a", "b", "c"])
    assert got["a"]["head"] == {"state": "running"} and got["b"]["head"] == {"state": "configured"}
    assert got["c"] is None and mark1 != mark0
    _meta(feeds, "a", 1)  # a sweep that changes nothing (only its times)
    assert feeds.summaries(["a"])[0] == mark1
    _meta(feeds, "a", 1, error="unreachable")  # an error does not change the tree's version
    mark2, got = feeds.summaries(["a"])
    assert mark2 != mark1 and got["a"]["error"] == "unreachable"
    feeds.close()


def test_watching_many_sessions_writes_the_demand_once_and_not_when_full(tmp_path, monkeypatch):
    monkeypatch.setattr(feed_module, "MAX_SESSIONS", 3)
    feeds = ControllerFeeds(tmp_path / "cache", BACKENDS)
    monkeypatch.setattr(feeds, "_ensure_thread", lambda: None)
    writes = []
    real_set = feeds.cache.set
    monkeypatch.setattr(feeds.cache, "set", lambda k, *a, **kw: (writes.append(k), real_set(k, *a, **kw))[1])
    feeds.watch_many(["a", "b", "c", "d", "e", "bad name!"], 5.0)
    assert sorted(feeds.demand()) == ["a", "b", "c"] and writes.count(DEMAND_KEY) == 1
    feeds.watch_many(["a", "b", "c", "d", "e"], 5.0)  # nothing about to lapse, no room for d and e
    assert writes.count(DEMAND_KEY) == 1
    feeds.close()
