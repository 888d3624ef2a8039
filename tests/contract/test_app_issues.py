"""A simulated DAQ application reports an injected error or a failed transition over ERS, as a real one does:
an issue chain with nested causes, context and parameters (simulator/app_issues.py). Without a publisher (no
Kafka) nothing is reported and nothing else changes."""

from __future__ import annotations

from drunc_client.controller import ControllerClient
from simulator.broadcast import RecordingBroadcaster
from simulator.controller import build_tree, serve_tree, stop_tree

SESSION = "test-session"
APP = "segment-controller-0-app-1"


class Collecting:
    def __init__(self):
        self.chains = []

    def publish(self, chain):
        self.chains.append(chain)
        return True


def _tree():
    root = build_tree(1, 2, session=SESSION, broadcaster=RecordingBroadcaster())
    sink = Collecting()
    for node in root.walk():
        if node.kind == "application":
            node.ers = sink
    return root, sink


def test_an_injected_error_is_reported_as_an_ers_chain_with_its_causes():
    root, sink = _tree()
    root.inject_error(APP)
    assert root.find(APP).in_error
    [chain] = sink.chains
    assert (chain.session, chain.application) == (SESSION, APP)
    final = chain.final
    assert (final.name, final.severity) == ("dfmodules::DataStoreFull", "ERROR")
    assert list(final.inheritance) == ["ers::Issue", "dfmodules::DataStoreFull"]
    assert dict(final.parameters)["application"] == APP
    ctx = final.context
    assert ctx.application_name == APP and ctx.package_name == "dfmodules" and ctx.host_name
    assert ctx.file_name.endswith(".cpp") and ctx.line_number > 0 and "DataWriterModule" in ctx.function_name
    assert [(c.name, c.severity) for c in chain.causes] == [("hdf5libs::FileOperationProblem", "ERROR"),
                                                           ("ers::FileSystemError", "FATAL")]
    assert all(c.context.application_name == APP and c.context.file_name for c in chain.causes)
    root.inject_error("segment-controller-0")  # a controller reports over broadcasts only
    assert len(sink.chains) == 1


def test_a_failed_transition_is_reported_once_as_an_ers_chain():
    root, sink = _tree()
    servers, addresses = serve_tree(root, "127.0.0.1", 0)
    try:
        client = ControllerClient(addresses[root.name], "alice", child_addresses=addresses)
        client.take_control()
        root.fail_next(APP, "conf")
        result = client.execute("conf")
        assert [(f.name, f.fsm_flag) for f in result.failures()] == [(APP, "FSM_FAILED")]
        [chain] = sink.chains
        assert (chain.final.name, chain.final.message) == ("appfwk::CommandFailed",
                                                           f"Command 'conf' failed on application '{APP}'")
        assert dict(chain.final.parameters) == {"command": "conf", "application": APP}
        assert [c.name for c in chain.causes] == ["appfwk::CommandDispatchingFailed",
                                                  "iomanager::ConnectionInstanceNotFound"]
        assert root.find("segment-controller-0-app-0").state == "configured"
        assert root.find(APP).state == "initial" and not root.find(APP).executing
    finally:
        stop_tree(root, servers)
    assert len(sink.chains) == 1


def test_without_a_publisher_nothing_is_reported():
    root = build_tree(1, 2, session=SESSION, broadcaster=RecordingBroadcaster())
    root.inject_error(APP)
    assert root.find(APP).in_error and root.find(APP).ers is None
