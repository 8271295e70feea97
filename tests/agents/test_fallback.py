"""Plans made in code: memory templates, apps recruited by similarity, re-plans per app."""

from __future__ import annotations

from typing import Any

import pytest

from agents import SchedulingGraph, SubtaskRecord, validate_graph
from agents.fallback import (
    PlanTemplate,
    apps_plan,
    plan_fallback,
    plan_templates,
    replan_apps,
    template_plan,
    tool_lines,
)
from agents.records import Attempt, Verdict
from agents.similarity import recruit_apps, score_apps, similarity, terms
from apps.base import Tool
from memory.models import GuidelineEntry, Retrieved

AGENTS = {
    "<app:notes>": "A notebook. Add notes and read them.",
    "<app:mail>": "Send mail to people.",
    "<app:weather>": "The weather in a city.",
}
TOOLS = {
    "<app:notes>": ["add: Add a note.", "read: Read a note by id."],
    "<app:mail>": ["send: Send a mail."],
    "<app:weather>": ["get_forecast: The forecast of a city for a day."],
}
CHAIN = {
    "nodes": [
        {"id": "s1", "task_token": "<app:notes>", "instruction": "Add a note 'milk'", "needs": []},
        {"id": "s2", "task_token": "<app:mail>", "instruction": "Mail its id", "needs": ["s1"]},
    ]
}


def template(tid: str = "7", graph: dict[str, Any] | None = None, **fields: Any) -> PlanTemplate:
    instruction = fields.pop("instruction", "Add a note 'milk' and mail its id to bob")
    return PlanTemplate(
        id=tid,
        instruction=instruction,
        graph=SchedulingGraph.model_validate(graph or CHAIN),
        **fields,
    )


def tokens_of(graph: SchedulingGraph) -> list[str]:
    return [n.task_token for n in graph.nodes]


def test_terms_split_names_drop_stop_words_and_meet_plurals() -> None:
    assert terms("get_forecast of the sendMail Notes") == ["forecast", "send", "mail", "not"]
    assert terms("booking") == terms("book") and terms("notes") == terms("note")
    assert similarity("Add a note 'milk'", "add the NOTE milk") == 1.0
    assert similarity("Add a note", "Check the weather") == 0.0


@pytest.mark.parametrize(
    ("instruction", "apps"),
    [
        ("Add a note 'alpha' and mail it to ann", ["<app:notes>", "<app:mail>"]),
        ("Mail ann, then note down what you sent", ["<app:mail>", "<app:notes>"]),
        ("Mail ann, then add a note and read it back", ["<app:mail>", "<app:notes>"]),
        ("Add a note 'alpha'", ["<app:notes>"]),
        ("What is the forecast for Paris tomorrow?", ["<app:weather>"]),
    ],
)
def test_the_apps_the_instruction_names_are_recruited_in_its_order(
    instruction: str, apps: list[str]
) -> None:
    graph, note = apps_plan(instruction, AGENTS, TOOLS, max_nodes=8)
    assert tokens_of(graph) == apps
    assert validate_graph(graph, AGENTS) == []
    assert all(n.needs == [] for n in graph.nodes)  # independent
    for node in graph.nodes:
        assert instruction in node.instruction
        assert f"the {node.task_token[5:-1]} app" in node.instruction
    assert note.startswith("fell back to one subtask per app: ")


def test_tool_names_and_descriptions_count() -> None:
    """'forecast' is only in the weather app's tools: without them nothing matches."""
    scores = {s.token: s for s in score_apps("Get the forecast", AGENTS, TOOLS)}
    assert scores["<app:weather>"].matched == ("forecast",) and scores["<app:weather>"].score > 0
    assert all(s.score == 0 for s in score_apps("Get the forecast", AGENTS))


def test_an_instruction_no_app_matches_still_gets_the_best_one_and_says_so() -> None:
    graph, note = apps_plan("Do something nice", AGENTS, TOOLS, max_nodes=8)
    assert len(graph.nodes) == 1
    assert "no app matched" in note


def test_recruitment_is_capped_at_max_nodes() -> None:
    scores = score_apps("Add a note, mail it, check the forecast", AGENTS, TOOLS)
    assert len(recruit_apps(scores, 8)) == 3
    assert len(recruit_apps(scores, 2)) == 2


def test_the_same_instruction_keeps_the_remembered_graph_as_it_is() -> None:
    found, passed = template_plan(
        [template()], "add a note 'milk' and mail its id to bob", AGENTS, max_nodes=8
    )
    assert found is not None and passed == []
    assert found[1] == SchedulingGraph.model_validate(CHAIN)


def test_a_similar_instruction_keeps_the_remembered_steps_with_the_new_values() -> None:
    instruction = "Add a note 'eggs' and mail its id to ann"
    found, _ = template_plan([template()], instruction, AGENTS, max_nodes=8)
    assert found is not None
    graph = found[1]
    assert [n.id for n in graph.nodes] == ["s1", "s2"] and graph.nodes[1].needs == ["s1"]
    assert "Add a note 'milk'" in graph.nodes[0].instruction
    assert instruction in graph.nodes[0].instruction


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (template("1", successes=0), "#1 is not verified"),
        (template("2", instruction="Check the weather in Rome"), "#2 is another task"),
        (
            template("3", {"nodes": [{**CHAIN["nodes"][0], "task_token": "<app:fax>"}]}),
            "#3 names <app:fax>, not in this world",
        ),
        (template("4", {"nodes": [{**CHAIN["nodes"][0], "needs": ["s9"]}]}), "#4 is invalid"),
    ],
)
def test_an_unusable_template_is_passed_over_for_the_next(bad: PlanTemplate, reason: str) -> None:
    found, passed = template_plan([bad, template("8")], "Add a note 'milk'", AGENTS, max_nodes=8)
    assert found is not None and found[0].id == "8"
    assert len(passed) == 1 and passed[0].startswith(reason)


def test_without_a_usable_template_the_plan_recruits_apps() -> None:
    graph, how, notes = plan_fallback(
        "Mail ann", [template("4", {"nodes": [{**CHAIN["nodes"][0], "needs": ["s9"]}]})], AGENTS,
        TOOLS, max_nodes=8,
    )  # fmt: skip
    assert how == "apps" and tokens_of(graph) == ["<app:mail>"]
    assert notes[0].startswith("memory template #4 is")
    graph, how, notes = plan_fallback("Add a note 'milk'", [template()], AGENTS, max_nodes=8)
    assert how == "template:7" and notes == ["fell back to memory template #7: " + repr(
        "Add a note 'milk' and mail its id to bob"
    )]  # fmt: skip


def test_templates_come_from_a_guideline_lookup_in_its_order() -> None:
    entries = [
        GuidelineEntry(id=12, instruction="first", graph=CHAIN, successes=3),
        GuidelineEntry(instruction="never stored", graph=CHAIN),  # no id: no template
        GuidelineEntry(id=5, instruction="second", graph={"nodes": [{"id": "x"}]}),  # unusable
        GuidelineEntry(id=9, instruction="third", graph=CHAIN),
    ]
    found = Retrieved(kind="guideline", query="q", entries=entries, scores=[3.0, 2.0, 1.5, 1.0])
    templates = plan_templates(found)
    assert [(t.id, t.score, t.successes) for t in templates] == [("12", 3.0, 3), ("9", 1.0, 1)]
    assert templates[0].graph == SchedulingGraph.model_validate(CHAIN)


def test_tool_lines() -> None:
    tools = [Tool(name="send", description="Send a mail."), Tool(name="ping")]
    assert tool_lines(tools) == ["send: Send a mail.", "ping"]


def record(sid: str, token: str, instruction: str, needs: list[str], tips: str = "") -> Any:
    history = [Attempt(number=1, verdict=Verdict(success=False, tips=tips))] if tips else []
    return SubtaskRecord(
        id=sid, task_token=token, instruction=instruction, needs=needs, history=history
    )


def test_a_replan_falls_back_to_one_subtask_per_unfinished_app() -> None:
    done = [record("s1", "<app:notes>", "Add a note 'milk'", [])]
    failed = [
        record("s2", "<app:mail>", "Mail the id to bob.", ["s1"], tips="bob is not a contact"),
        record("s3", "<app:mail>", "Mail the id to ann", ["s1"]),
    ]
    waiting = [record("s4", "<app:notes>", "Note that it was sent", ["s2"])]
    graph, how, notes = replan_apps("Note milk, mail bob and ann", list(AGENTS), done,
                                    [*failed, *waiting], max_nodes=5)  # fmt: skip
    assert how == "apps" and notes == [
        "re-plan fell back to one subtask per unfinished app: <app:mail>, <app:notes>"
    ]
    mail, notes_node = graph.nodes
    assert (mail.id, notes_node.id) == ("s5", "s6")  # no id of the run is reused
    assert mail.needs == ["s1"] and notes_node.needs == []  # finished work still flows in
    assert "Left to do on this app: Mail the id to bob; Mail the id to ann." in mail.instruction
    assert "Earlier tries failed: bob is not a contact" in mail.instruction
    assert "Note milk, mail bob and ann" in notes_node.instruction
    finished = {("<app:notes>", "add a note 'milk'"): "s1"}
    assert validate_graph(graph, list(AGENTS), done=["s1"], finished=finished) == []
