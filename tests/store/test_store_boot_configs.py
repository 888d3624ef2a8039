"""Saved boot configurations and their versions, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from store.acks import AckStore
from store.boot_configs import BootConfigStore, ConfigurationExists, UnknownConfiguration

PLAN = {"processes": [{"name": "ru-1", "session": "s1", "executable": "sleep", "arguments": ["600"]}]}


@pytest.fixture
def configs(db):
    return BootConfigStore(db)


def test_create_version_list_get_and_delete(configs):
    first = configs.create("np04", PLAN, "alice", "first")
    assert (first.name, first.version, first.author, first.created_by, first.comment) == (
        "np04", 1, "alice", "alice", "first")
    plan2 = {"processes": [*PLAN["processes"], {"name": "ru-2", "session": "s1", "executable": "sleep"}]}
    second = configs.add_version("np04", plan2, "admin")
    assert (second.version, second.author, second.created_by, len(second.processes)) == (2, "admin", "alice", 2)
    assert configs.get("np04", 1).plan == PLAN and configs.get("np04").version == 2
    assert [v.version for v in configs.versions("np04")] == [2, 1]
    configs.create("aaa", PLAN, "bob")
    [a, n] = configs.list()
    assert (a.name, a.version, a.processes) == ("aaa", 1, 1)
    assert (n.name, n.version, n.author, n.created_by, n.processes) == ("np04", 2, "admin", "alice", 2)
    assert configs.delete("np04") and not configs.delete("np04")
    assert configs.get("np04") is None and configs.versions("np04") == []
    assert [s.name for s in configs.list()] == ["aaa"]


def test_names_are_unique_and_unknown_ones_refused(configs):
    configs.create("x", PLAN, "alice")
    with pytest.raises(ConfigurationExists):
        configs.create("x", PLAN, "bob")
    with pytest.raises(UnknownConfiguration):
        configs.add_version("nope", PLAN, "bob")
    assert configs.get("x", 7) is None


def test_odd_text_is_stored_cleaned(configs):
    odd = {"processes": [{"name": "a\ud800", "session": "s\x00", "executable": "x"}]}
    saved = configs.create("odd", odd, "u\ud800", "c\x00")
    assert saved.plan == {"processes": [{"name": "a\ufffd", "session": "s", "executable": "x"}]}
    assert (saved.author, saved.comment) == ("u\ufffd", "c")


def test_unacknowledged_alarms_by_session(db):
    from datetime import UTC, datetime, timedelta

    from store.messages import MessageStore, NewMessage

    def msg(i, severity, session):
        return NewMessage(topic="t", partition=0, offset=i, time=datetime.now(UTC) - timedelta(seconds=10 - i),
                          kind="ers", severity=severity, text=f"m{i}", session=session)

    messages, acks = MessageStore(db), AckStore(db)
    assert acks.unacknowledged_by_session() == {}
    messages.insert_batch([msg(0, "ERROR", "a"), msg(1, "FATAL", "a"), msg(2, "ERROR", "b"), msg(3, "INFO", "b")])
    assert acks.unacknowledged_by_session() == {"a": 2, "b": 1}
    newest_of_a = next(m for m in messages.page(limit=10) if m.session == "a")
    acks.acknowledge([newest_of_a.id], "alice")
    assert acks.unacknowledged_by_session() == {"a": 1, "b": 1}
