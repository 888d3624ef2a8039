"""The committed generated modules are exactly what the .proto files compile to."""

import filecmp
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import gen_protos  # noqa: E402


def test_generated_modules_are_up_to_date(tmp_path):
    gen_protos.generate(tmp_path)
    committed = ROOT / "drunc_client" / "generated"
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.py"))
    assert fresh == sorted(p.relative_to(committed) for p in committed.rglob("*.py")), "files differ"
    stale = [str(p) for p in fresh if not filecmp.cmp(tmp_path / p, committed / p, shallow=False)]
    assert not stale, f"regenerate with: .venv/bin/python tools/gen_protos.py  (stale: {stale})"


def test_package_and_names_match_the_spec():
    from drunc_client.generated.druncschema import controller_pb2, process_manager_pb2, request_response_pb2
    from drunc_client.generated.ersschema import issue_pb2

    assert request_response_pb2.DESCRIPTOR.package == "dunedaq.druncschema"
    assert issue_pb2.DESCRIPTOR.package == "dunedaq.ersschema"
    assert process_manager_pb2.DESCRIPTOR.services_by_name["ProcessManager"].methods_by_name["logs"].server_streaming
    methods = controller_pb2.DESCRIPTOR.services_by_name["Controller"].methods_by_name
    assert set(methods) == {"describe", "ls", "get_children_status", "get_status", "describe_fsm",
                            "execute_fsm_command", "include", "exclude", "take_control", "surrender_control",
                            "who_is_in_charge"}


def test_generated_011_modules_are_up_to_date(tmp_path):
    gen_protos.generate_011(tmp_path)
    committed = ROOT / "drunc_client" / "generated_011"
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.py"))
    assert fresh == sorted(p.relative_to(committed) for p in committed.rglob("*.py")), "files differ"
    stale = [str(p) for p in fresh if not filecmp.cmp(tmp_path / p, committed / p, shallow=False)]
    assert not stale, f"regenerate with: .venv/bin/python tools/gen_protos.py  (stale: {stale})"


def test_unchanged_files_of_011_are_the_08_files():
    """process manager, generic, broadcast and token did not change between 0.8.x and 0.11.0."""
    for name in ("process_manager", "generic", "broadcast", "token"):
        old = (ROOT / "drunc_client" / "proto" / "druncschema" / f"{name}.proto").read_text()
        assert (ROOT / "drunc_client" / "proto_011" / "druncschema" / f"{name}.proto").read_text() == old, name


def test_011_lives_in_its_own_pool_with_drunc_names_and_paths():
    from google.protobuf import descriptor_pool

    from drunc_client.generated.druncschema import request_response_pb2 as rr8
    from drunc_client.generated_011 import pool
    from drunc_client.generated_011.druncschema import controller_pb2, request_response_pb2, session_manager_pb2

    assert request_response_pb2.Description.DESCRIPTOR.full_name == rr8.Description.DESCRIPTOR.full_name
    assert request_response_pb2.Description.DESCRIPTOR.file.pool is pool.POOL
    assert rr8.Description.DESCRIPTOR.file.pool is descriptor_pool.Default()
    assert request_response_pb2.Description.DESCRIPTOR.fields_by_name["session"].number == 5
    assert rr8.Description.DESCRIPTOR.fields_by_name["session"].number == 3
    methods = controller_pb2.DESCRIPTOR.services_by_name["Controller"].methods_by_name
    assert set(methods) == {"describe", "status", "describe_fsm", "execute_fsm_command", "execute_expert_command",
                            "include", "exclude", "recompute_status", "take_control", "surrender_control",
                            "who_is_in_charge"}
    assert methods["status"].full_name == "dunedaq.druncschema.Controller.status"
    sm = session_manager_pb2.DESCRIPTOR.services_by_name["SessionManager"].methods_by_name
    assert set(sm) == {"describe", "list_all_sessions", "start_session", "stop_session", "list_all_configs",
                       "load_config"}
    grpc_text = (ROOT / "drunc_client" / "generated_011" / "druncschema" / "controller_pb2_grpc.py").read_text()
    assert "'/dunedaq.druncschema.Controller/status'" in grpc_text
