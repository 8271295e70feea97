"""Scheduling-graph validation and the deterministic last-resort repair."""

from __future__ import annotations

import pytest

from agents import SchedulingGraph, repair_graph, topological_order, validate_graph
from agents.plan import work_key

TOKENS = ["<app:a>", "<app:b>"]


def graph(*nodes: tuple[str, str, str, list[str]]) -> SchedulingGraph:
    return SchedulingGraph.model_validate(
        {
            "nodes": [
                {"id": i, "task_token": t, "instruction": x, "needs": n} for i, t, x, n in nodes
            ]
        }
    )


@pytest.mark.parametrize(
    ("plan", "fragment"),
    [
        (graph(("s1", "<app:a>", "x", ["s1"])), "needs itself"),
        (graph(("s1", "<app:a>", "x", []), ("s1", "<app:b>", "y", [])), "more than once"),
        (graph(("s1", "<app:z>", "x", [])), "unknown task token"),
        (graph(("s1", "<app:a>", "x", ["s9"])), "not a subtask"),
        (graph(("s1", "<app:a>", "x", ["s2"]), ("s2", "<app:b>", "y", ["s1"])), "cycle"),
        (graph(("s1", "<app:a>", " ", [])), "empty instruction"),
        (graph(("s1", "<app:a>", "Tweet it", []), ("s2", "<app:a>", "tweet  it", [])), "repeats"),
        (SchedulingGraph(nodes=[]), "no subtasks"),
    ],
)
def test_validation_names_the_problem(plan: SchedulingGraph, fragment: str) -> None:
    errors = validate_graph(plan, TOKENS)
    assert any(fragment in e for e in errors), errors


def test_valid_plan_and_order() -> None:
    plan = graph(("s2", "<app:b>", "y", ["s1"]), ("s1", "<app:a>", "x", []))
    assert validate_graph(plan, TOKENS) == []
    assert topological_order(plan.nodes) == ["s1", "s2"]
    assert "s1 --> " in plan.to_mermaid().replace("n_s1", "s1")


def test_replan_may_need_finished_subtasks_but_not_reuse_their_ids() -> None:
    plan = graph(("s3", "<app:a>", "x", ["s1"]))
    assert validate_graph(plan, TOKENS, done=["s1"]) == []
    assert validate_graph(graph(("s1", "<app:a>", "x", [])), TOKENS, done=["s1"]) != []


def test_repair_makes_any_plan_valid() -> None:
    messy = graph(
        ("s1", "<app:a>", "x", ["s1", "s2", "ghost"]),
        ("s2", "<app:b>", "y", ["s1"]),
        ("s2", "<app:b>", "z", []),
        ("s4", "<app:z>", "w", []),
        ("s5", "<app:a>", "X", ["s2"]),
        ("s6", "<app:b>", "", ["s5"]),
    )
    fixed, fixes = repair_graph(messy, TOKENS, "do it")
    assert validate_graph(fixed, TOKENS) == []
    assert fixes
    assert [n.task_token for n in fixed.nodes] == ["<app:a>", "<app:b>", "<app:b>", "<app:b>"]
    assert fixed.nodes[-1].instruction == "do it"
    assert fixed.nodes[-1].needs == ["s1"]  # s5 repeated s1, so its dependents need s1


def test_replan_must_not_repeat_finished_work() -> None:
    finished = {work_key("<app:a>", "Book the flight"): "s1"}
    again = graph(("s3", "<app:a>", "book  the FLIGHT", []), ("s4", "<app:b>", "tweet", ["s3"]))
    errors = validate_graph(again, TOKENS, done=["s1"], finished=finished)
    assert any("repeats finished subtask 's1'" in e for e in errors), errors
    fixed, fixes = repair_graph(again, TOKENS, "do it", done=["s1"], finished=finished)
    assert [(n.id, n.needs) for n in fixed.nodes] == [("s4", ["s1"])]
    assert "dropped 's3' (repeats 's1')" in fixes
    assert validate_graph(fixed, TOKENS, done=["s1"], finished=finished) == []
    # the same words on another agent are other work
    other = graph(("s3", "<app:b>", "Book the flight", []))
    assert validate_graph(other, TOKENS, done=["s1"], finished=finished) == []


def test_the_package_names_load_lazily_and_all_resolve() -> None:
    import agents

    assert sorted(agents.__all__) == sorted(agents._MODULE_OF)
    for name in agents.__all__:
        assert getattr(agents, name) is not None
