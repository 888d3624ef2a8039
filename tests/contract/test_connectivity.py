"""Contract tests: the connectivity service look-alike over real HTTP, controllers publishing into it over their
lifetime, and the client finding a session's controllers through it (root and children with one query, again
after the root moved, a clear state when the root is not registered, the tree walk with no address list)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent import futures

import grpc
import pytest

from drunc_client.backends import DruncBackends
from drunc_client.connectivity import ConnectivityClient, ControllerResolver
from drunc_client.errors import BackendUnavailable, NotRegistered
from simulator.connectivity import PUBLISH_PERIOD, ConnectivityServer
from simulator.controller import build_tree, serve_tree, stop_tree
from simulator.run import SimulatorConfig, start_simulator

SESSION = "csc-test"
RC = "RunControlMessage"


def http(url: str, path: str, body=None, form=None, method: str | None = None) -> tuple[int, str]:
    data, headers = None, {}
    if body is not None:
        data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=2) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def entry(uid: str, uri: str = "grpc://127.0.0.1:1", data_type: str = RC) -> dict:
    return {"connection_type": 0, "data_type": data_type, "uid": uid, "uri": uri}


@pytest.fixture
def service():
    server = ConnectivityServer(ttl=10).start()
    yield server
    server.stop()


@pytest.fixture
def sim(tmp_path):
    simulator = start_simulator(SimulatorConfig(segments=2, apps=2, session=SESSION, connectivity_port=0,
                                                log_dir=tmp_path / "logs"))
    yield simulator
    simulator.stop(0)


def lookup(url: str, partition: str, regex: str, data_type: str = RC, method: str = "POST") -> list[dict]:
    status, text = http(url, f"/getconnection/{partition}", {"uid_regex": regex, "data_type": data_type}, method=method)
    assert status == 200, text
    return json.loads(text)


# -- the service's REST interface ---------------------------------------------------------------------------------


def test_publish_then_getconnection_by_post_and_get(service):
    assert http(service.url, "/publish", {"partition": "p", "connections": [
        entry("root-controller_control", "grpc://h:1"), entry("seg_control", "grpc://h:2")]}) == (200, "OK")
    found = lookup(service.url, "p", "root-controller_control")
    assert found == [{"uid": "root-controller_control", "uri": "grpc://h:1", "connection_type": 0,
                      "data_type": RC, "capacity": 0}]
    assert [e["uid"] for e in lookup(service.url, "p", ".*_control", method="GET")] == [
        "root-controller_control", "seg_control"]


def test_uid_regex_must_match_fully_and_data_type_exactly(service):
    http(service.url, "/publish", {"partition": "p", "connections": [
        entry("root-controller_control"), entry("ru-01_data", data_type="TimeSlice")]})
    assert lookup(service.url, "p", "root") == []  # search would have found it; fullmatch does not
    assert lookup(service.url, "p", "root-controller_control", data_type="runcontrolmessage") == []
    assert [e["uid"] for e in lookup(service.url, "p", ".*")] == ["root-controller_control"]
    assert [e["uid"] for e in lookup(service.url, "p", ".*", data_type="TimeSlice")] == ["ru-01_data"]


def test_unknown_partition_answers_an_empty_list(service):
    assert lookup(service.url, "no-such-session", ".*") == []


def test_entries_expire_after_the_ttl_until_published_again(service):
    service.store.ttl = 0.3
    body = {"partition": "p", "connections": [entry("a_control")]}
    http(service.url, "/publish", body)
    assert len(lookup(service.url, "p", ".*")) == 1
    time.sleep(0.45)
    assert lookup(service.url, "p", ".*") == []
    status, page = http(service.url, "/")
    assert status == 200 and "<s>a_control</s>" in page  # the dump strikes expired entries out
    http(service.url, "/publish", body)
    assert len(lookup(service.url, "p", ".*")) == 1


def test_retract_removes_entries_and_the_partition_with_its_last(service):
    http(service.url, "/publish", {"partition": "p", "connections": [entry("a_control"), entry("b_control")]})
    retract = {"partition": "p", "connections": [{"connection_id": "a_control", "data_type": RC}]}
    assert http(service.url, "/retract", retract) == (200, "OK")
    assert [e["uid"] for e in lookup(service.url, "p", ".*")] == ["b_control"]
    assert http(service.url, "/retract", retract)[0] == 404  # unknown id
    http(service.url, "/retract", {"partition": "p", "connections": [{"connection_id": "b_control"}]})
    assert "p" not in service.store.partitions
    assert http(service.url, "/retract", retract)[0] == 404  # unknown partition


def test_retract_partition_is_a_form_post(service):
    http(service.url, "/publish", {"partition": "p", "connections": [entry("a_control")]})
    http(service.url, "/publish", {"partition": "q", "connections": [entry("a_control")]})
    assert http(service.url, "/retract-partition", form={"partition": "p"}) == (200, "OK")
    assert lookup(service.url, "p", ".*") == [] and len(lookup(service.url, "q", ".*")) == 1
    assert http(service.url, "/retract-partition", form={"partition": "p"})[0] == 404


def test_dump_stats_and_bad_requests(service):
    http(service.url, "/publish", {"partition": "p<b>", "connections": [entry("a_control")]})
    status, page = http(service.url, "/")
    assert status == 200 and "p&lt;b&gt;" in page and "a_control" in page
    status, stats = http(service.url, "/stats")
    assert status == 200 and "1 calls to publish" in stats
    assert http(service.url, "/getconnection/p", {"uid_regex": "("})[0] == 400
    assert http(service.url, "/getconnection/p", {"uid_regex": "(", "data_type": RC})[0] == 400
    assert http(service.url, "/publish", {"nothing": 1})[0] == 400
    assert http(service.url, "/no-such-route")[0] == 404


# -- controllers publish and retract -----------------------------------------------------------------------------


def test_simulated_controllers_register_with_drunc_entries(sim):
    csc = sim.addresses["connectivity"]
    found = lookup(f"http://{csc}", SESSION, ".*_control")
    assert {e["uid"]: e["uri"] for e in found} == {
        f"{name}_control": f"grpc://{address}" for name, address in sim.controller_addresses.items()}
    assert {(e["data_type"], e["connection_type"]) for e in found} == {(RC, 0)}


def test_controllers_republish_periodically_and_retract_when_stopped(service):
    assert PUBLISH_PERIOD == 2.0  # drunc's period
    root = build_tree(1, 1, session=SESSION)
    servers, addresses = serve_tree(root, connectivity=service.address)
    try:
        client = ConnectivityClient(service.address)
        assert client.controllers(SESSION).controllers == addresses
        # republished from the background thread: still there after the TTL with a faster period
        root.start_publishing(service.address, addresses[root.name], period=0.1)
        service.store.ttl = 0.5
        time.sleep(0.8)
        assert client.controllers(SESSION).root == addresses[root.name]
    finally:
        stop_tree(root, servers, 0)
    assert client.controllers(SESSION).controllers == {}
    assert SESSION not in service.store.partitions


# -- the client ------------------------------------------------------------------------------------------------


def test_client_resolves_root_and_children_with_one_query(sim):
    before = sim.connectivity.store.lookups
    found = ConnectivityClient(sim.addresses["connectivity"]).controllers(SESSION)
    assert sim.connectivity.store.lookups == before + 1
    assert found.root == sim.addresses["controller"]
    assert found.children == {k: v for k, v in sim.controller_addresses.items() if k != "root-controller"}


def test_tree_walk_through_the_connectivity_service_without_an_address_list(sim):
    backends = DruncBackends(process_manager_url="", controller_url="", session_manager_url="",
                             csc_url=sim.addresses["connectivity"], csc_session=SESSION)
    tree = backends.controller("csc-test").tree()
    names = {node.name for node in tree.walk()}
    assert "segment-controller-1-app-1" in names and len(names) == 7
    assert {n.name for n in tree.walk() if n.kind == "controller"} == set(sim.controller_addresses)


def test_any_session_can_be_resolved_and_an_unregistered_root_is_a_state(sim):
    backends = DruncBackends(process_manager_url="", controller_url="", session_manager_url="",
                             csc_url=sim.addresses["connectivity"], csc_session="other-session")
    assert backends.locate(SESSION).root == sim.addresses["controller"]
    location = backends.locate()
    assert not location.registered and location.children == {}
    assert "not registered in the connectivity service" in location.message
    with pytest.raises(NotRegistered, match="not registered in the connectivity service"):
        backends.controller("u")
    assert backends.controller("u", session=SESSION).status().name == "root-controller"
    health = backends.health()
    assert health["connectivity"]["status"] == "ok"
    assert health["controller"]["status"] == "not_registered"


def test_resolved_again_after_the_root_moved(service):
    root = build_tree(1, 1, session=SESSION)
    servers, addresses = serve_tree(root, connectivity=service.address)  # the root's server first
    resolver = ControllerResolver(ConnectivityClient(service.address), period=3600)
    backends = DruncBackends(process_manager_url="", controller_url="", session_manager_url="",
                             csc_url=service.address, csc_session=SESSION, resolver=resolver)
    try:
        old = backends.controller("u")
        assert old.address == addresses[root.name] and old.status().name == root.name

        # the root controller restarts on another port and registers there, as a re-booted session's does
        servers[0].stop(None).wait()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        root.add_to_server(server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers[0] = server
        root.start_publishing(service.address, f"127.0.0.1:{port}")

        assert backends.controller("u").address == old.address  # still the cached answer (long period) ...
        with pytest.raises(BackendUnavailable):
            old.status()  # ... until a call finds it unreachable
        moved = backends.controller("u")
        assert moved.address == f"127.0.0.1:{port}"
        assert moved.status().name == root.name
        assert moved.tree().children[0].children  # the child is still found through the service
    finally:
        stop_tree(root, servers, 0)


def test_resolver_period_and_unreachable_service():
    client = ConnectivityClient("127.0.0.1:1", timeout=0.2, tries=2)
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match=r"connectivity service http://127.0.0.1:1 unreachable"):
        client.controllers(SESSION)
    assert time.monotonic() - started < 2


def test_resolver_looks_again_after_its_period(service):
    resolver = ControllerResolver(ConnectivityClient(service.address), period=0.2)
    assert resolver.resolve(SESSION).root is None
    http(service.url, "/publish", {"partition": SESSION, "connections": [
        entry("root-controller_control", "grpc://h:1")]})
    assert resolver.resolve(SESSION).root == "h:1"  # an unregistered answer is never kept
    http(service.url, "/publish", {"partition": SESSION, "connections": [
        entry("root-controller_control", "grpc://h:2")]})
    assert resolver.resolve(SESSION).root == "h:1"  # within the period
    time.sleep(0.25)
    assert resolver.resolve(SESSION).root == "h:2"
    resolver.forget(SESSION)


def test_deep_health_reports_the_connectivity_service(sim, tmp_path):
    from support import make_services, make_settings

    from app import create_app

    for session, controller_status in ((SESSION, "ok"), ("not-booted", "not_registered")):
        settings = make_settings(tmp_path, process_manager_url=sim.addresses["process_manager"],
                                 session_manager_url=sim.addresses["session_manager"],
                                 csc_url=f"http://{sim.addresses['connectivity']}", csc_session=session)
        services = make_services(settings)
        try:
            answer = create_app(settings, services).server.test_client().get("/health?deep=1")
            checks = answer.get_json()["checks"]
            assert answer.status_code == 200
            assert checks["connectivity"] == {"status": "ok", "address": f"http://{sim.addresses['connectivity']}",
                                              "session": session,
                                              "controllers": 3 if session == SESSION else 0}
            assert checks["controller"]["status"] == controller_status
            assert checks["process_manager"]["status"] == "ok"
            assert checks["process_manager"]["schema"] == "0.8"  # read from its describe answer
        finally:
            services.close()
            tmp_path = tmp_path / "again"
            tmp_path.mkdir()
