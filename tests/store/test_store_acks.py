"""Acknowledgements of ERROR and FATAL messages on SQLite and PostgreSQL: who and when are recorded, the count of
unacknowledged alarms drops, nothing is cleared silently, and pruning drops a message's acknowledgement with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store.acks import AckStore
from store.messages import MessageStore, NewMessage

T0 = datetime.now(UTC) - timedelta(minutes=10)


def _msg(i: int, severity: str, seconds: int) -> NewMessage:
    return NewMessage(topic="t", partition=0, offset=i, time=T0 + timedelta(seconds=seconds), kind="ers",
                      severity=severity, text=f"m{i}")


def test_acknowledge_one_then_up_to(db):
    messages, acks = MessageStore(db), AckStore(db)
    messages.insert_batch([_msg(0, "ERROR", 10), _msg(1, "FATAL", 20), _msg(2, "INFO", 15), _msg(3, "ERROR", 30),
                           _msg(4, "ERROR", 5)])
    ids = {m.offset: m.id for m in messages.newer_than(0)}
    assert acks.unacknowledged_count() == 4
    assert acks.acknowledge([ids[3]], "alice") == 1
    assert acks.acknowledge([ids[3], 10**9], "bob") == 0  # already acknowledged: alice's record stays
    assert acks.unacknowledged_count() == 3
    who, when = acks.acks_for([ids[3]])[ids[3]]
    assert who == "alice" and when.tzinfo is not None
    assert messages.get(ids[3]).acked_at == when
    # up to the FATAL at 20 s (in time order): the ERRORs at 5 s and 10 s and the FATAL; not the INFO
    assert acks.acknowledge_up_to(ids[1], "bob") == 3
    assert acks.unacknowledged_count() == 0
    marked = acks.acks_for(ids.values())
    assert {m for m in marked} == {ids[0], ids[1], ids[3], ids[4]}
    assert marked[ids[0]][0] == "bob" and marked[ids[3]][0] == "alice"
    messages.insert_batch([_msg(5, "ERROR", 40)])
    assert acks.unacknowledged_count() == 1
    assert acks.acknowledge_up_to(T0 + timedelta(seconds=39), "carol") == 0
    assert acks.acknowledge_up_to(datetime.now(UTC), "carol") == 1
    assert acks.acknowledge_up_to(10**9, "carol") == 0


def test_acknowledge_stored_bounds_by_id_not_time(db):
    messages, acks = MessageStore(db), AckStore(db)
    messages.insert_batch([_msg(0, "ERROR", 30), _msg(1, "INFO", 40)])
    upto = messages.latest_id()
    messages.insert_batch([_msg(2, "FATAL", 5)])  # stored after the question, timed before everything
    assert acks.acknowledge_stored(upto, "dora") == 1
    assert acks.unacknowledged_count() == 1


def test_pruning_drops_acknowledgements_with_their_messages(db):
    messages, acks = MessageStore(db), AckStore(db)
    messages.insert_batch([_msg(i, "ERROR", i) for i in range(6)])
    ids = [m.id for m in messages.newer_than(0)]
    acks.acknowledge(ids, "alice")
    assert messages.prune(None, 2) == 4
    assert set(acks.acks_for(ids)) == set(ids[4:])
