"""Training examples: from recorded runs (verified parts only, answers as compact JSON) and
from the BFCL teacher (the user's words as instructions, never call strings; prompts identical
to what the runtime sends a trained expert)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from agents import AgentSettings, StaffAgent, default_registry
from benchmarks.bfcl.data import load_tasks
from benchmarks.bfcl.teach import teacher_examples
from benchmarks.bfcl.world import TaskWorld
from memory.runs import RunStore
from modelclient.base import ChatMessage
from modelclient.testing import FunctionModel
from tests.orchestrator.helpers import steward_fn, verdict
from tests.orchestrator.test_run import CHAIN, judge_all_ok, make
from training import examples_from_record, examples_from_store, write_examples
from training.examples import Example

CALL = re.compile(r"\b\w+\([^)]*=")
TIPS = re.compile(r"^Advice from your last attempt: <data>(.*)</data>$")


async def test_a_succeeded_run_gives_its_plan_actions_and_verdicts(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.db")
    orch, _ = make(tmp_path, store, steward_fn([CHAIN], judge_all_ok))
    record = await orch.run("Add a note 'buy milk' and mail its id to bob")
    examples = examples_from_record(record, source="runs")
    by = [(e.role, e.purpose) for e in examples]
    assert by == [
        ("steward", "plan"),
        ("<app:notes>", "act"), ("<app:notes>", "act"), ("steward", "evaluate"),
        ("<app:mail>", "act"), ("<app:mail>", "act"), ("steward", "evaluate"),
    ]  # fmt: skip
    plan = examples[0]
    assert json.loads(plan.answer) == CHAIN and ", " not in plan.answer  # compact JSON
    assert plan.messages == record.steward_calls[0].prompt
    assert examples_from_store(store) == (examples_from_record(record, source="runs"), 1)


async def test_failed_work_teaches_nothing(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.db")
    judge = steward_fn([CHAIN], lambda s, m: verdict(False, tips="no"))
    orch, _ = make(tmp_path, store, judge, settings=AgentSettings(max_retries=0, max_replans=0))
    record = await orch.run("Add a note and mail it")
    assert record.status == "failed" and examples_from_record(record) == []
    assert examples_from_store(store) == ([], 0)


def test_the_teacher_speaks_the_users_words_and_its_prompts_are_the_runtimes(
    tmp_path: Path,
) -> None:
    examples, report = asyncio.run(
        teacher_examples("multi_turn_base", [0, 2, 4, 6], tmp_path / "teach")
    )
    assert report.verified_turns == report.turns > 0 and report.examples == len(examples)
    plans = [e for e in examples if e.purpose == "plan"]
    for plan in plans:
        for node in json.loads(plan.answer)["nodes"]:
            assert not CALL.search(node["instruction"]) and "[oracle" not in node["instruction"]
    summary = write_examples(tmp_path / "examples", examples)
    assert summary.roles["steward"] == len(plans) + sum(e.purpose == "evaluate" for e in examples)

    # a trained expert at run time is sent exactly the prompt the example holds: on a first
    # attempt, and on a retry after the teacher's verdict rejected an attempt (with its tips)
    turn0 = [e for e in examples if e.purpose == "act" and e.meta["turn"] == 0]
    first = next(e for e in turn0 if "Advice from" not in e.messages[1]["content"])
    retry = next(e for e in turn0 if "Advice from" in e.messages[1]["content"])
    for example in (first, retry):
        assert [m.model_dump() for m in _runtime_prompt(example)] == example.messages


def _runtime_prompt(example: Example) -> list[ChatMessage]:
    """What the runtime sends a trained expert opening an attempt at the example's subtask."""
    task = load_tasks("multi_turn_base", indices=[int(example.meta["task"].rsplit("_", 1)[1])])
    app = default_registry().get(example.role)
    world = TaskWorld(task[0])
    seen: list[list[ChatMessage]] = []

    def expert(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        seen.append(messages)
        return {"thought": "", "tool": "finish", "result": "x"}

    model = FunctionModel(expert)
    model.prompt_style = "compact"
    lines = example.messages[1]["content"].splitlines()
    subtask = lines[0].removeprefix("Subtask: ")
    advice = next((TIPS.match(line) for line in lines if TIPS.match(line)), None)
    tips = advice.group(1) if advice else ""
    asyncio.run(StaffAgent(app, world.world.get(app.name), model).attempt(subtask, tips=tips))
    return seen[0]
