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
