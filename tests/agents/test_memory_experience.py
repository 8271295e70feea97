"""Memory-based self-evolution through a run: written after verified success only, retrieved
into the prompts of similar later runs, and recorded in the run record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.experience import NoExperience
from agents.memory_experience import MemoryExperience
from memory import ExpertiseEntry, MemoryStore
from memory.runs import RunStore
from modelclient.base import ChatMessage
from tests.orchestrator.helpers import kind, steward_fn, verdict
from tests.orchestrator.test_run import CHAIN, judge_all_ok, make


def summarizing(base: Any) -> Any:
    def fn(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        if kind(schema) == "summarize":
            return {"guideline": "note first, then mail its id", "tips": ["ids look like N1"]}
        return base(messages, schema)

    return fn


async def test_success_is_learned_and_retrieved_next_time(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.db")
    memory = MemoryStore(tmp_path / "memory.db")
    orch, models = make(tmp_path, store, summarizing(steward_fn([CHAIN], judge_all_ok)))
    orch.experience = MemoryExperience(memory, summarizer=models.__getitem__, model_name="m")
    first = await orch.run("Add a note 'buy milk' and mail its id to bob")
    assert first.status == "succeeded"
    guidelines = memory.list("guideline")
    assert len(guidelines) == 1 and guidelines[0].guideline == "note first, then mail its id"
    assert guidelines[0].provenance.run_id == first.run_id
    expertise = memory.list("expertise")
    assert {e.task_token for e in expertise} == {"<app:notes>", "<app:mail>"}
    assert any(a.tool == "add" for e in expertise for a in e.actions)
    assert any(c.purpose == "summarize" for c in first.steward_calls)

    seen: list[str] = []
    base = summarizing(steward_fn([CHAIN], judge_all_ok))

    def steward(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        if kind(schema) == "plan":
            seen.append(messages[0].content)
        return base(messages, schema)

    orch2, models2 = make(tmp_path, store, steward)
    orch2.experience = MemoryExperience(memory, summarizer=models2.__getitem__)
    second = await orch2.run("Add a note 'buy bread' and mail its id to bob")
    assert "note first, then mail its id" in seen[0]
    assert second.retrieved["guidelines"][0]["ids"] == [guidelines[0].id]
    staff_prompt = models2["<app:notes>"].calls[0].messages[1].content
    assert "Experience from similar subtasks" in staff_prompt
    assert memory.list("guideline")[0].successes == 2  # merged, not piled up


async def test_failed_run_writes_nothing(tmp_path: Path) -> None:
    memory = MemoryStore(tmp_path / "memory.db")
    orch, models = make(
        tmp_path,
        RunStore(tmp_path / "runs.db"),
        summarizing(steward_fn([CHAIN], lambda s, m: verdict(False, tips="no", kind="other"))),
    )
    orch.experience = MemoryExperience(memory, summarizer=models.__getitem__)
    record = await orch.run("Add a note 'buy milk' and mail its id to bob")
    assert record.status == "failed"
    assert memory.list("guideline") == [] and memory.list("expertise") == []


async def test_deferred_learning_waits_for_verification(tmp_path: Path) -> None:
    memory = MemoryStore(tmp_path / "memory.db")
    orch, _ = make(tmp_path, RunStore(tmp_path / "runs.db"), steward_fn([CHAIN], judge_all_ok))
    experience = MemoryExperience(memory, learn_in_run=False)
    orch.experience = experience
    record = await orch.run("Add a note 'buy milk' and mail its id to bob")
    assert record.status == "succeeded" and memory.list("guideline") == []
    await experience.learn(record, verified=True)
    assert len(memory.list("guideline")) == 1


async def test_no_memory_retrieves_nothing(tmp_path: Path) -> None:
    orch, _ = make(tmp_path, RunStore(tmp_path / "runs.db"), steward_fn([CHAIN], judge_all_ok))
    orch.experience = NoExperience()
    record = await orch.run("Add a note 'buy milk' and mail its id to bob")
    assert record.retrieved.get("guidelines") == []


async def test_a_replay_taught_entry_in_your_store_is_offered_only_when_asked(
    tmp_path: Path,
) -> None:
    """A benchmark's ground-truth replay wrote into the user's store: a normal run (as `steward
    run` builds it) is not offered those entries; a run that asks for them is."""
    from memory import GuidelineEntry, Provenance

    instruction = "Add a note 'buy milk' and mail its id to bob"
    replay = Provenance(run_id="multi_turn_base_0-t0-abc123", model="oracle", source="scripted")
    with MemoryStore() as user_store:  # $STEWARD_HOME/memory.db
        taught = user_store.add_guideline(
            GuidelineEntry(instruction=instruction, graph=CHAIN, provenance=replay)
        )
        user_store.add_expertise(
            ExpertiseEntry(
                task_token="<app:notes>",
                subtask="Add a note 'buy milk'",
                tips=["[oracle 2.0] cat(file_name=...)"],
                provenance=replay,
            )
        )
    store = RunStore(tmp_path / "runs.db")
    seen: list[str] = []

    def steward(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        if kind(schema) == "plan":
            seen.append(messages[0].content)
        return steward_fn([CHAIN], judge_all_ok)(messages, schema)

    orch, models = make(tmp_path, store, steward)
    orch.experience = MemoryExperience.default()
    normal = await orch.run(instruction)
    assert normal.retrieved["guidelines"][0]["ids"] == []
    assert all(not found[0]["ids"] for found in normal.retrieved["expertise"].values())
    assert "Graph that worked" not in seen[0]
    assert "[oracle" not in models["<app:notes>"].calls[0].messages[1].content

    orch2, models2 = make(tmp_path, store, steward)
    orch2.experience = MemoryExperience(MemoryStore(), include_scripted=True, learn_in_run=False)
    asked = await orch2.run(instruction)
    # the first run learned its own entry; it did not merge into the replay's
    assert sorted(asked.retrieved["guidelines"][0]["ids"]) == [taught, taught + 1]
    assert "Graph that worked" in seen[1]
    assert "[oracle 2.0]" in models2["<app:notes>"].calls[0].messages[1].content
