"""The simulator's Kafka producers against a real Kafka-protocol broker (Tansu, see tests/kafka_broker.py).

Broadcasts: topic control.<session>.<name>, no key, no headers, value = BroadcastMessage with a PlainText.
ERS: topic monitoring.ers_stream, key = session, value = IssueChain.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import TIMESTAMP_CREATE_TIME, Consumer
from kafka_broker import (  # noqa: F401 - kafka_broker_fixture provides the `kafka_broker` fixture
    ERS_TOPIC,
    close_consumer,
    free_port,
    kafka_broker_fixture,
    poll_until,
    wait_for_assignment,
)

from drunc_client.generated.druncschema import broadcast_pb2, generic_pb2
from drunc_client.generated.ersschema import issue_pb2
from simulator.broadcast import T, topic_for
from simulator.kafka import ErsGenerator, ErsPublisher, KafkaBroadcaster, make_issue_chain


def _session() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def _decode(record) -> tuple[str, str, str, str]:
    message = broadcast_pb2.BroadcastMessage()
    message.ParseFromString(record.value())
    text = generic_pb2.PlainText()
    assert message.data.Unpack(text), message.data.type_url
    return message.emitter.process, message.emitter.session, broadcast_pb2.BroadcastType.Name(message.type), text.text


def test_broadcasts_round_trip_through_kafka(kafka_broker):
    session = _session()
    pm, controller = topic_for(session, "process_manager"), topic_for(session, "root-controller")
    kafka_broker.create_topics([pm, controller])  # before subscribing: regex subscriptions see existing topics
    consumer = Consumer(kafka_broker.consumer_config(regex=True))
    consumer.subscribe([r"^control\..+"])
    broadcaster = KafkaBroadcaster(kafka_broker.bootstrap)
    assert broadcaster.kafka_address == kafka_broker.bootstrap
    sent = [
        ("process_manager", T.SERVER_READY, "ready"),
        ("process_manager", T.ACK, "User 'alice' attempting to execute 'ps'"),
        ("process_manager", T.COMMAND_EXECUTION_SUCCESS, "User 'alice' successfully executed 'ps'"),
        ("root-controller", T.FSM_STATUS_UPDATE, "Changing operational_state from initial to configured"),
    ]
    try:
        for process, btype, text in sent:
            broadcaster.emit(process, session, btype, text)
        broadcaster.close(timeout=10)
        assert (broadcaster.produced, broadcaster.delivered, broadcaster.failures) == (4, 4, 0)
        records = poll_until(consumer, lambda rs: len([r for r in rs if r.topic() in (pm, controller)]) >= 4)
    finally:
        close_consumer(consumer)
    ours = [r for r in records if r.topic() in (pm, controller)]
    assert len(ours) == 4
    for record in ours:
        assert record.key() is None
        assert not record.headers()
        kind, stamp = record.timestamp()
        assert kind == TIMESTAMP_CREATE_TIME and abs(stamp / 1000 - time.time()) < 120
    assert [_decode(r) for r in ours if r.topic() == pm] == [
        ("process_manager", session, broadcast_pb2.BroadcastType.Name(t), text) for _, t, text in sent[:3]]
    assert [_decode(r) for r in ours if r.topic() == controller] == [
        ("root-controller", session, "FSM_STATUS_UPDATE", "Changing operational_state from initial to configured")]


def test_ers_issue_chain_round_trip_through_kafka(kafka_broker):
    session = _session()
    consumer = Consumer(kafka_broker.consumer_config())
    consumer.subscribe([ERS_TOPIC])
    publisher = ErsPublisher(kafka_broker.bootstrap)
    chain = make_issue_chain(
        session, "dfo-01", "ERROR", "Data store 'hdf5_datawriter_0' is full", name="dfmodules::DataStoreFull",
        causes=[("hdf5libs::FileOperationProblem", "Problem opening file"), ("ers::FileSystemError", "No space",
                                                                             "FATAL")],
        host="np04-srv-004", parameters={"store": "hdf5_datawriter_0", "free_gb": 0}, line_number=321,
        process_id=4242)
    generator = ErsGenerator(publisher, session=session, applications=["ru-01", "tp-stream-writer"], period=0.02,
                             seed=7)
    try:
        assert publisher.publish(chain) is True
        generator.start()
        deadline = time.monotonic() + 10
        while generator.published < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        generator.stop()
        assert generator.published >= 3
        publisher.close(timeout=10)
        assert publisher.failures == 0 and publisher.delivered == publisher.produced == 1 + generator.published
        wait_for_assignment(consumer)
        records = poll_until(consumer, lambda rs: len([r for r in rs if r.key() == session.encode()])
                             >= 1 + generator.published)
    finally:
        generator.stop()
        close_consumer(consumer)
    ours = [r for r in records if r.key() == session.encode()]
    assert all(r.topic() == ERS_TOPIC for r in ours)
    first = issue_pb2.IssueChain.FromString(ours[0].value())
    assert first == chain
    assert (first.session, first.application) == (session, "dfo-01")
    final = first.final
    assert (final.name, final.severity, final.message) == ("dfmodules::DataStoreFull", "ERROR",
                                                           "Data store 'hdf5_datawriter_0' is full")
    assert list(final.inheritance) == ["ers::Issue", "dfmodules::DataStoreFull"]
    assert dict(final.parameters) == {"store": "hdf5_datawriter_0", "free_gb": "0"}
    assert abs(final.time / 1e9 - time.time()) < 120
    ctx = final.context
    assert (ctx.host_name, ctx.application_name, ctx.line_number, ctx.process_id, ctx.package_name) == (
        "np04-srv-004", "dfo-01", 321, 4242, "dfmodules")
    assert ctx.file_name.endswith(".cpp") and ctx.function_name and ctx.user_name
    assert [(c.name, c.severity, c.message) for c in first.causes] == [
        ("hdf5libs::FileOperationProblem", "ERROR", "Problem opening file"),
        ("ers::FileSystemError", "FATAL", "No space")]
    generated = [issue_pb2.IssueChain.FromString(r.value()) for r in ours[1:]]
    assert {g.application for g in generated} <= {"ru-01", "tp-stream-writer"}
    assert all(g.final.severity in ("WARNING", "ERROR") for g in generated)


def test_broadcaster_never_raises_when_the_broker_is_down():
    broadcaster = KafkaBroadcaster(f"127.0.0.1:{free_port()}", publish_timeout=0.3)
    try:
        broadcaster.emit("process_manager", "s", T.ACK, "User 'a' attempting to execute 'ps'")
        deadline = time.monotonic() + 10
        while broadcaster.failures < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert broadcaster.failures == 1 and broadcaster.delivered == 0
    finally:
        broadcaster.close(timeout=1)
    broadcaster.emit("process_manager", "s", T.ACK, "after close")  # counted, not raised
    assert broadcaster.failures == 2
    broadcaster.close()  # idempotent


class _Collecting:
    def __init__(self):
        self.chains = []

    def publish(self, chain):
        self.chains.append(chain)
        return True


def test_ers_generator_is_reproducible_and_realistic():
    apps = ["ru-01", "ru-02", "dfo-01", "trigger"]
    one = ErsGenerator(_Collecting(), session="s", applications=apps, seed=3)
    two = ErsGenerator(_Collecting(), session="s", applications=apps, seed=3)
    chains = [one.generate_one() for _ in range(40)]
    again = [two.generate_one() for _ in range(40)]
    summary = [(c.application, c.final.name, c.final.message, [x.name for x in c.causes]) for c in chains]
    assert summary == [(c.application, c.final.name, c.final.message, [x.name for x in c.causes]) for c in again]
    assert {c.final.severity for c in chains} == {"WARNING", "ERROR"}
    assert {len(c.causes) for c in chains} == {0, 1, 2}
    assert all("::" in c.final.name and c.final.inheritance[0] == "ers::Issue" for c in chains)
    assert all(c.session == "s" and c.final.context.application_name == c.application for c in chains)
    assert all(c.final.parameters and c.final.context.host_name.startswith("np04-srv-") for c in chains)


def test_ers_generator_thread_publishes_until_stopped():
    sink = _Collecting()
    generator = ErsGenerator(sink, session="s", applications=["a"], period=0.01, seed=1)
    generator.start()
    deadline = time.monotonic() + 5
    while len(sink.chains) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    generator.stop()
    assert not generator.is_alive()
    count = len(sink.chains)
    assert count >= 3 and generator.published == count
    time.sleep(0.05)
    assert len(sink.chains) == count


def test_ers_generator_owns_a_publisher_built_from_a_bootstrap_address():
    generator = ErsGenerator(f"127.0.0.1:{free_port()}", session="s", applications=["a"], period=60)
    assert isinstance(generator.publisher, ErsPublisher) and generator.publisher.topic == ERS_TOPIC
    generator.stop()  # never started: closes the publisher it owns
    assert not generator.publisher.publish(generator.generate_one())  # closed: refused and counted, not raised
    assert generator.publisher.failures == 1
