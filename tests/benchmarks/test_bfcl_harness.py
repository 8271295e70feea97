"""The BFCL harness end to end with the ground-truth oracle: plan, dispatch, staff actions on
the apps, the official checker. Small slices keep it fast."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.bfcl import (
    CATEGORIES,
    BenchConfig,
    Harness,
    OracleSource,
    TaskResult,
    load_tasks,
    run_benchmark,
)
from benchmarks.bfcl.instructions import current_request
from benchmarks.bfcl.report import read_results
from benchmarks.bfcl.score import score_task


def config(tmp_path: Path, category: str = "multi_turn_base", **kw: object) -> BenchConfig:
    return BenchConfig(category=category, out=tmp_path / "out", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("category", CATEGORIES)
async def test_oracle_passes_every_category(tmp_path: Path, category: str) -> None:
    summary = await run_benchmark(config(tmp_path, category, limit=3), OracleSource())
    assert (summary.tasks, summary.passed, summary.accuracy) == (3, 3, 1.0)
    assert summary.per_turn_accuracy == 1.0
    assert summary.recruitment_accuracy == 1.0
    assert summary.per_task.model_calls > 0 and summary.per_task.actions > 0


@pytest.mark.parametrize("category", ["multi_turn_base", "multi_turn_miss_param"])
async def test_broken_oracle_fails(tmp_path: Path, category: str) -> None:
    summary = await run_benchmark(config(tmp_path, category, limit=3), OracleSource(broken=True))
    assert summary.tasks == 3 and summary.passed == 0
    assert summary.per_turn_accuracy < 1.0


@pytest.mark.parametrize("agent", ["single", "no-eval", "sequential", "no-memory"])
async def test_baseline_and_ablations_replay_the_ground_truth(tmp_path: Path, agent: str) -> None:
    summary = await run_benchmark(config(tmp_path, agent=agent, limit=2), OracleSource())
    assert summary.accuracy == 1.0
    assert summary.agent == agent


async def test_single_agent_sees_held_out_functions_only_from_their_turn(tmp_path: Path) -> None:
    from benchmarks.bfcl.single import CombinedApp
    from benchmarks.bfcl.world import TaskWorld
    from core.errors import ToolError

    task = load_tasks("multi_turn_miss_func", limit=1)[0]
    world = TaskWorld(task)
    combined = CombinedApp(dict(world.world.items()))
    world.begin_turn(0)
    assert "sort" not in {t.name for t in combined.tools}
    with pytest.raises(ToolError):
        combined.call("sort", {"file_name": "final_report.pdf"})
    with pytest.raises(ToolError):
        combined.call("cd", {"folder": 3})  # refused by the schema: never ran
    assert world.log.calls == []
    with pytest.raises(ToolError, match="No such file"):
        combined.call("cd", {"folder": "nowhere"})  # ran and failed inside the app: recorded
    world.begin_turn(3)
    assert "sort" in {t.name for t in combined.tools}
    assert [c.call.tool for c in world.log.calls] == ["cd"]
    summary = await run_benchmark(
        config(tmp_path, "multi_turn_miss_func", agent="single", limit=2), OracleSource()
    )
    assert summary.accuracy == 1.0


async def test_compound_mode_is_one_run_scored_on_the_final_state(tmp_path: Path) -> None:
    cfg = config(tmp_path, "multi_turn_miss_func", mode="compound", limit=2)
    summary = await run_benchmark(cfg, OracleSource())
    assert summary.accuracy == 1.0
    results = read_results(cfg.out / f"{cfg.key('oracle')}.jsonl")
    for result in results.values():
        assert len(result.turns) == 1 and result.turn_count == 1
        assert result.turns[0].instruction.startswith("Do all of the following")


async def test_turns_record_calls_as_the_checker_reads_them(tmp_path: Path) -> None:
    cfg = config(tmp_path, limit=1, agent="no-memory")
    await run_benchmark(cfg, OracleSource())
    result = next(iter(read_results(cfg.out / f"{cfg.key('oracle')}.jsonl").values()))
    task = load_tasks("multi_turn_base", limit=1)[0]
    assert result.turns[0].calls == [
        "cd(folder='document')",
        "mkdir(dir_name='temp')",
        "mv(source='final_report.pdf', destination='temp')",
    ]
    assert [t.apps_expected for t in result.turns] == [["file_system"]] * len(task.turns)
    assert result.turns[1].instruction.startswith("Earlier requests")


async def test_miss_func_hides_functions_until_their_turn(tmp_path: Path) -> None:
    task = load_tasks("multi_turn_miss_func", limit=1)[0]
    assert task.missed_function == {3: ["sort"]}
    from benchmarks.bfcl.world import TaskWorld

    world = TaskWorld(task)
    fs = world.apps["file_system"]
    world.begin_turn(0)
    assert "sort" in fs.hidden_tools and "cp" in fs.hidden_tools  # cp is excluded for good
    assert world.begin_turn(3) == ["sort"]
    assert "sort" not in fs.hidden_tools and "cp" in fs.hidden_tools


async def test_empty_turns_are_planned_as_no_work(tmp_path: Path) -> None:
    cfg = config(tmp_path, "multi_turn_miss_param", limit=1, agent="no-memory")
    summary = await run_benchmark(cfg, OracleSource())
    assert summary.accuracy == 1.0
    result = next(iter(read_results(cfg.out / f"{cfg.key('oracle')}.jsonl").values()))
    empty = [t for t in result.turns if not t.apps_expected]
    assert empty and all(t.calls == [] and t.recruited is None for t in empty)
    assert all(t.status == "succeeded" for t in empty)


async def test_resume_skips_finished_tasks(tmp_path: Path) -> None:
    cfg = config(tmp_path, limit=2, agent="no-memory")
    first = await run_benchmark(cfg, OracleSource())
    assert first.tasks_run == 2
    path = cfg.out / f"{cfg.key('oracle')}.jsonl"
    lines = path.read_text().splitlines()
    torn = TaskResult.model_validate_json(lines[1]).id
    path.write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])  # a torn last line
    started: list[tuple[int, int]] = []
    seen: list[TaskResult] = []
    again = await run_benchmark(
        cfg.model_copy(update={"limit": 3}),
        OracleSource(),
        on_start=lambda todo, done: started.append((todo, done)),
        on_result=seen.append,
    )
    assert started == [(2, 1)]
    assert {r.id for r in seen} == {torn, "multi_turn_base_2"}
    assert again.tasks == 3 and again.tasks_run == 2 and again.accuracy == 1.0


async def test_reports_are_written(tmp_path: Path) -> None:
    cfg = config(tmp_path, limit=2, agent="no-memory")
    summary = await run_benchmark(cfg, OracleSource())
    await run_benchmark(cfg.model_copy(update={"agent": "single"}), OracleSource())
    for key in ("results", "summary", "markdown", "accuracy_plot", "tokens_plot"):
        assert Path(summary.files[key]).exists(), key
    assert Path(summary.files["accuracy_plot"]).read_bytes()[:4] == b"\x89PNG"
    saved = json.loads(Path(summary.files["summary"]).read_text())
    assert saved["accuracy"] == 1.0 and saved["tasks"] == 2
    table = (cfg.out / "results.md").read_text()
    assert "| multi_turn_base | no-memory | turns | oracle | 2 | 100.0 |" in table
    assert "| multi_turn_base | single | turns | oracle | 2 | 100.0 |" in table


async def test_memory_learns_only_from_tasks_the_checker_passed(tmp_path: Path) -> None:
    from memory import MemoryStore

    good = config(tmp_path, limit=2)
    await run_benchmark(good, OracleSource())
    learned = MemoryStore(good.memory_path()).stats()
    assert learned["guidelines"]["count"] > 0 and learned["expertise"]["count"] > 0
    bad = config(tmp_path, limit=2, offset=2, include_scripted=True)  # the oracle's entries
    await run_benchmark(bad, OracleSource(broken=True))
    after = MemoryStore(bad.memory_path()).stats()
    for kind in ("guidelines", "expertise"):
        assert after[kind]["count"] == learned[kind]["count"]
        assert after[kind]["successes"] == learned[kind]["successes"]
    assert after["guidelines"]["uses"] > learned["guidelines"]["uses"]  # it was retrieved


async def test_checker_instances_are_dropped_after_scoring(tmp_path: Path) -> None:
    from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_utils

    harness = Harness(config(tmp_path, limit=1, agent="no-memory"), OracleSource())
    await harness.run()
    name = harness.checker_name
    assert not [k for k in vars(multi_turn_utils) if k.startswith(name)]


def test_score_rejects_a_wrong_number_of_turns() -> None:
    task = load_tasks("multi_turn_base", limit=1)[0]
    score = score_task(task, [[]], model_name="steward_test_turns")
    assert not score.valid and score.error_type == "multi_turn:force_terminated"


async def test_the_known_ground_truth_defect_fails_in_turns_and_passes_in_compound(
    tmp_path: Path,
) -> None:
    from benchmarks.bfcl import KNOWN_GT_DEFECTS

    task_id = "multi_turn_miss_func_49"
    assert task_id in KNOWN_GT_DEFECTS
    turns = await run_benchmark(
        config(tmp_path, "multi_turn_miss_func", offset=49, limit=1, agent="no-memory"),
        OracleSource(),
    )
    assert turns.tasks == 1 and turns.passed == 0  # tail is held back until turn 3
    compound = await run_benchmark(
        config(tmp_path, "multi_turn_miss_func", offset=49, limit=1, mode="compound"),
        OracleSource(),
    )
    assert compound.passed == 1  # one instruction: every function is shown from the start


async def test_memory_is_retrieved_for_the_same_requests_again(tmp_path: Path) -> None:
    """What a passed task taught is found again when its requests come back (looked up, not
    evaluated: a memory never evaluates the tasks it learned from)."""
    from agents.memory_experience import MemoryExperience
    from benchmarks.bfcl.split import SplitLeakError
    from benchmarks.bfcl.turn import RequestExperience
    from memory import MemoryStore

    memory_db = tmp_path / "memory.db"
    first = config(tmp_path, limit=2, memory_db=memory_db)
    await run_benchmark(first, OracleSource())
    learned = {e.id: e.instruction for e in MemoryStore(memory_db).list("guideline", limit=None)}
    lookup = RequestExperience(MemoryExperience(MemoryStore(memory_db), include_scripted=True))
    results = read_results(first.out / f"{first.key('oracle')}.jsonl")
    for result in results.values():
        for turn in result.turns:
            _, found = lookup.guidelines_for(turn.instruction)
            request = current_request(turn.instruction)
            assert learned[found[0]["ids"][0]] == request  # the best hit is this very request's
    again = BenchConfig(
        category="multi_turn_base", limit=2, out=tmp_path / "again", memory_db=memory_db
    )
    with pytest.raises(SplitLeakError, match=r"task\(s\) 0-1"):
        await run_benchmark(again, OracleSource())


def test_the_plan_fallback_gets_templates_for_the_current_request(tmp_path: Path) -> None:
    """The bench's memory offers the steward's fallback the verified plans of the request a
    turn makes now, and a scripted model's plans only when asked."""
    from agents.memory_experience import MemoryExperience
    from benchmarks.bfcl.instructions import CONTEXT_HEADER, CURRENT
    from benchmarks.bfcl.turn import RequestExperience
    from memory import GuidelineEntry, MemoryStore, Provenance

    graph = {"nodes": [{"id": "s1", "task_token": "<app:twitter>", "instruction": "post it"}]}
    with MemoryStore(tmp_path / "m.db") as store:
        for source in ("bench", "scripted"):
            store.add_guideline(
                GuidelineEntry(
                    instruction=f"post a tweet about the {source} results",
                    graph=graph,
                    provenance=Provenance(run_id="r", model="m", source=source),  # type: ignore[arg-type]
                )
            )
        turn = f"{CONTEXT_HEADER}\n- list my files\n{CURRENT}post a tweet about the results"
        inner = MemoryExperience(store)
        seen: list[str] = []
        look = inner.templates_for
        inner.templates_for = lambda text: seen.append(text) or look(text)  # type: ignore[method-assign]
        assert len(RequestExperience(inner).templates_for(turn)) == 1
        assert seen == ["post a tweet about the results"]
        asked = RequestExperience(MemoryExperience(store, include_scripted=True))
        assert len(asked.templates_for(turn)) == 2
