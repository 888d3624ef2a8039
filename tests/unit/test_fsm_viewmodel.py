"""The FSM view-model: the graph from describe_fsm answers, destinations standard or learnt, the argument forms
and their validation (the client's own rules), what the panel says."""

from __future__ import annotations

from drunc_client.controller import ArgumentSpec, NodeResult, NodeStatus, TransitionSpec
from viewmodels.fsm import (
    STANDARD,
    command_block,
    derive_graph,
    diagram_elements,
    form_fields,
    learn,
    parse_arguments,
    progress_summary,
    result_rows,
    states_to_ask,
)

START_ARGS = (
    ArgumentSpec("run_number", "INT", True, None, (), "the run's number"),
    ArgumentSpec("disable_data_storage", "BOOL", False, False, (), ""),
    ArgumentSpec("trigger_rate", "FLOAT", False, 0.0, (), ""),
    ArgumentSpec("run_type", "STRING", False, "TEST", ("TEST", "PROD"), "TEST or PROD"),
)


def _specs(extra=()):
    return [TransitionSpec(name, "", START_ARGS if name == "start" else ()) for name in STANDARD] + list(extra)


def _sources(extra=None):
    sources: dict[str, list[str]] = {}
    for name, (source, _dest) in STANDARD.items():
        sources.setdefault(source, []).append(name)
    for state, names in (extra or {}).items():
        sources.setdefault(state, []).extend(names)
    return sources


def test_the_standard_graph_comes_from_the_answers_and_the_standard_destinations():
    graph = derive_graph(_specs(), _sources())
    assert graph.states[:4] == ("initial", "configured", "ready", "running")
    assert {(e.transition, e.source, e.destination) for e in graph.edges} == {
        (t, s, d) for t, (s, d) in STANDARD.items()}
    assert graph.allowed("initial") == ["conf"]
    assert graph.allowed("configured") == ["start", "scrap"]
    assert graph.sequences("initial") == ["start_run"]
    assert graph.sequences("configured") == ["start_run", "shutdown"]  # conf skipped; stop skipped
    assert graph.sequences("running") == ["stop_run", "shutdown"]


def test_an_unknown_transition_has_no_destination_until_one_is_learnt():
    extra = TransitionSpec("pause", "", ())
    graph = derive_graph(_specs([extra]), _sources({"running": ["pause"]}))
    edge = next(e for e in graph.edges if e.transition == "pause")
    assert edge.destination is None and "pause" in graph.allowed("running")
    elements = diagram_elements(graph, "running", graph.allowed("running"), True)
    assert any(e["data"]["id"] == "u:pause" for e in elements)
    learnt = learn({}, "pause", "running", "paused")
    assert learnt == {"pause": "paused"}
    assert learn(learnt, "pause", "running", "paused") is None  # nothing new
    assert learn({}, "conf", "initial", "configured") is None  # standard: never learnt
    assert learn({}, "pause", "running", "error") is None and learn({}, "pause", "running", "running") is None
    graph = derive_graph(_specs([extra]), _sources({"running": ["pause"]}), learnt)
    edge = next(e for e in graph.edges if e.transition == "pause")
    assert edge.destination == "paused" and edge.learnt and "paused" in graph.states
    assert "paused" in states_to_ask(graph.specs, learnt, "running")


def test_diagram_marks_the_current_state_and_the_allowed_edges():
    graph = derive_graph(_specs(), _sources())
    elements = diagram_elements(graph, "configured", graph.allowed("configured"), False)
    current = [e["data"]["label"] for e in elements if e.get("classes") == "current"]
    assert current == ["configured"]
    allowed = sorted(e["data"]["transition"] for e in elements if "allowed" in e.get("classes", ""))
    assert allowed == ["scrap", "start"]
    assert not any("enabled" in e.get("classes", "") for e in elements)  # commands disabled: not clickable


def test_a_sequence_form_holds_every_steps_arguments_with_their_kinds():
    graph = derive_graph(_specs(), _sources())
    fields = form_fields(graph, "start_run", {"run_number": 43})
    by_name = {f.name: f for f in fields}
    assert list(by_name) == ["run_number", "disable_data_storage", "trigger_rate", "run_type"]
    assert by_name["run_number"].control == "integer" and by_name["run_number"].initial == 43
    assert by_name["run_number"].mandatory and by_name["run_number"].steps == ("start",)
    assert by_name["disable_data_storage"].control == "switch" and by_name["disable_data_storage"].initial is False
    assert by_name["trigger_rate"].control == "number"
    assert by_name["run_type"].control == "dropdown" and by_name["run_type"].initial == "TEST"
    assert form_fields(graph, "stop_run") == []


def test_parsing_converts_the_forms_values_and_checks_them_by_the_clients_rules():
    graph = derive_graph(_specs(), _sources())
    fields = form_fields(graph, "start")
    values, errors = parse_arguments(graph, "start", fields, {"run_number": "12", "trigger_rate": "2.5",
                                                              "run_type": "PROD", "disable_data_storage": True})
    assert errors == {}
    assert values == {"run_number": 12, "trigger_rate": 2.5, "run_type": "PROD", "disable_data_storage": True}
    values, errors = parse_arguments(graph, "start", fields, {"run_number": "", "run_type": "OTHER",
                                                              "trigger_rate": 1e39})
    assert errors["run_number"] == "required"
    assert errors["run_type"].startswith("must be one of TEST, PROD")
    assert "finite 32-bit float" in errors["trigger_rate"]
    _values, errors = parse_arguments(graph, "start", fields, {"run_number": 1.5})
    assert errors["run_number"].startswith("must be an integer")
    _values, errors = parse_arguments(graph, "start", fields, {"run_number": 2**63})
    assert "64 bits" in errors["run_number"]
    values, errors = parse_arguments(graph, "start", fields, {"run_number": 3.0, "run_type": None})
    assert values == {"run_number": 3} and errors == {}  # blank optional: the controller's default


def test_the_reason_commands_are_disabled():
    root = {"name": "root", "in_charge": "bob", "in_error": False, "unreachable": False}
    assert command_block(can_command=False, user="v", root=root, lock_text=None).startswith("viewer")
    assert command_block(can_command=True, user="alice", root=root, lock_text="transition in progress: x") == \
        "transition in progress: x"
    assert command_block(can_command=True, user="alice", root=root, lock_text=None, since="13:40") == \
        "bob is in charge since 13:40; take control first"
    assert command_block(can_command=True, user="bob", root=root, lock_text=None) is None
    assert "no rpc clears an error" in command_block(can_command=True, user="bob", root={**root, "in_error": True},
                                                     lock_text=None)
    nobody = {**root, "in_charge": "controller_init_token"}
    assert command_block(can_command=True, user="bob", root=nobody, lock_text=None).startswith("nobody")


def test_progress_summary_and_result_rows():
    nodes = [{"busy": i < 3, "sub_state": "preparing-start"} for i in range(11)]
    assert progress_summary(nodes) == "3 of 11 nodes still preparing-start"
    assert progress_summary([{"busy": False}]) == ""
    child = NodeResult("app-1", "EXECUTED_SUCCESSFULLY", "FSM_FAILED", "boom\nlast line")
    root = NodeResult("root", "EXECUTED_SUCCESSFULLY", "FSM_EXECUTED_SUCCESSFULLY", "", (child,),
                      NodeStatus("root", "ready", "ready", True, True, False))
    rows = result_rows(root)
    assert [(r["name"], r["depth"], r["ok"]) for r in rows] == [("root", 0, False), ("app-1", 1, False)]
    assert rows[1]["fsm_flag"] == "FSM_FAILED" and rows[1]["text"] == "last line"
