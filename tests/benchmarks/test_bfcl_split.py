"""Held out means held out: learn and evaluation sets share no task index, in any category."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from benchmarks.bfcl import BenchConfig, OracleSource
from benchmarks.bfcl.curve import CurveConfig, copy_memory
from benchmarks.bfcl.learning import BenchMemory
from benchmarks.bfcl.split import (
    SplitLeakError,
    check_unseen,
    leaked,
    learned_tasks,
    ledger_path,
    record_learned,
    span,
    task_index,
)
from memory import GuidelineEntry, MemoryStore, Provenance


def remember(path: Path, run_id: str = "r1", instruction: str = "book a flight") -> None:
    with MemoryStore(path) as store:
        store.add_guideline(
            GuidelineEntry(
                instruction=instruction,
                graph={"nodes": []},
                provenance=Provenance(run_id=run_id, model="m", source="bench"),
            )
        )


def test_task_indices_are_shared_across_categories() -> None:
    assert task_index("multi_turn_base_12") == task_index("multi_turn_miss_param_12") == 12
    assert task_index("multi_turn_long_context_0") == 0
    with pytest.raises(ValueError, match="not a BFCL"):
        task_index("simple_3")
    assert leaked([0, 2, 4], [1, 3, 4, 0]) == [0, 4] and leaked([0, 2], [1, 3]) == []
    assert span([9, 0, 1, 2, 5, 10]) == "0-2, 5, 9-10" and span([]) == "none"


@pytest.mark.parametrize(
    ("fields", "shared"),
    [
        ({"split": "blocks", "fill": 10, "eval": 5, "eval_offset": 5}, "5-9"),
        ({"split": "blocks", "fill": 4, "fill_offset": 10, "eval": 20, "eval_offset": 0}, "10-13"),
    ],
)
def test_a_curve_split_that_shares_an_index_is_refused(
    fields: dict[str, object], shared: str
) -> None:
    with pytest.raises(ValidationError, match=f"overlap \\(task indices {shared}\\)"):
        CurveConfig.model_validate(fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"fill": 50, "eval": 20},
        {"fill": 7, "eval": 7, "fill_offset": 3},
        {"split": "blocks", "fill": 10, "eval": 10},
        {"split": "blocks", "fill": 5, "fill_offset": 20, "eval": 10, "eval_offset": 0},
    ],
)
def test_every_accepted_curve_split_is_disjoint(fields: dict[str, object]) -> None:
    cfg = CurveConfig.model_validate(fields)
    assert not leaked(cfg.fill_indices(), cfg.eval_indices())


def test_the_ledger_and_the_provenance_name_what_a_memory_learned(tmp_path: Path) -> None:
    memory = tmp_path / "memory.db"
    assert learned_tasks(memory) == set() and not memory.exists()  # not created by a look
    record_learned(memory, "multi_turn_base_3", model="oracle")
    remember(memory)  # its own run id names no task
    assert learned_tasks(memory) == {"multi_turn_base_3"}
    remember(memory, "multi_turn_miss_func_7-t1-0a1b2c", "tweet the id")  # before ledgers
    assert learned_tasks(memory) == {"multi_turn_base_3", "multi_turn_miss_func_7"}
    with ledger_path(memory).open("a") as fh:
        fh.write('{"task": "multi_turn_base_9"')  # a torn last line
    assert "multi_turn_base_9" not in learned_tasks(memory)
    copy = tmp_path / "copy" / "memory.db"
    copy_memory(memory, copy)
    assert learned_tasks(copy) == learned_tasks(memory)


def test_an_empty_memory_has_nothing_to_leak(tmp_path: Path) -> None:
    memory = tmp_path / "memory.db"
    record_learned(memory, "multi_turn_base_0")
    MemoryStore(memory).close()  # e.g. `steward memory clear` after a run
    check_unseen(memory, ["multi_turn_miss_func_0"])


@pytest.mark.parametrize(
    "evaluated",
    ["multi_turn_base_4", "multi_turn_miss_func_4", "multi_turn_miss_param_4",
     "multi_turn_long_context_4"],
)  # fmt: skip
def test_check_unseen_refuses_the_same_index_in_every_category(
    tmp_path: Path, evaluated: str
) -> None:
    memory = tmp_path / "memory.db"
    record_learned(memory, "multi_turn_base_4")
    remember(memory)
    with pytest.raises(SplitLeakError, match=r"task\(s\) 4 \(multi_turn_base\)"):
        check_unseen(memory, ["multi_turn_base_5", evaluated])
    check_unseen(memory, ["multi_turn_base_5", "multi_turn_miss_param_3"])


def test_a_task_learned_elsewhere_during_the_run_is_refused_before_it_starts(
    tmp_path: Path,
) -> None:
    """Another process learning into the same file: each task is checked again as it starts."""
    config = BenchConfig(category="multi_turn_miss_param", out=tmp_path, limit=3)
    bench = BenchMemory(config, OracleSource())
    bench.check(["multi_turn_miss_param_0", "multi_turn_miss_param_1"])
    record_learned(config.memory_path(), "multi_turn_base_1")
    remember(config.memory_path())
    bench.guard("multi_turn_miss_param_0")
    with pytest.raises(SplitLeakError, match=r"task\(s\) 1"):
        bench.guard("multi_turn_miss_param_1")


def test_a_stale_ledger_of_a_cleared_memory_does_not_stop_the_run(tmp_path: Path) -> None:
    config = BenchConfig(category="multi_turn_base", out=tmp_path, limit=3)
    record_learned(config.memory_path(), "multi_turn_base_1")
    MemoryStore(config.memory_path()).close()
    bench = BenchMemory(config, OracleSource())
    bench.check(["multi_turn_base_1"])
    bench.guard("multi_turn_base_1")


def test_the_ledger_is_one_json_line_per_task(tmp_path: Path) -> None:
    memory = tmp_path / "m.db"
    record_learned(memory, "multi_turn_base_2", model="qwen")
    line = json.loads(ledger_path(memory).read_text().splitlines()[0])
    assert line["task"] == "multi_turn_base_2" and line["model"] == "qwen"
    assert ledger_path(memory).name == "m.db.learned.jsonl"


async def test_the_harness_checks_each_task_again_as_it_starts(tmp_path: Path) -> None:
    """Another process learns base task 2 into the same memory while this run is on task 0:
    the run stops before miss_param task 2 (what ran is kept; a resume refuses it again)."""
    from benchmarks.bfcl import BfclTask, run_benchmark
    from benchmarks.bfcl.oracle import OracleModels
    from benchmarks.bfcl.report import read_results

    config = BenchConfig(category="multi_turn_miss_param", out=tmp_path, limit=3, concurrency=1)

    class Elsewhere(OracleSource):
        def for_task(self, task: BfclTask, *, compound: bool, max_calls: int) -> OracleModels:
            if task.id.endswith("_0"):
                record_learned(config.memory_path(), "multi_turn_base_2")
                remember(config.memory_path(), instruction="learned elsewhere")
            return super().for_task(task, compound=compound, max_calls=max_calls)

    with pytest.raises(SplitLeakError, match=r"task\(s\) 2 \(multi_turn_base\)"):
        await run_benchmark(config, Elsewhere())
    done = read_results(tmp_path / f"{config.key('oracle')}.jsonl")
    assert sorted(done) == ["multi_turn_miss_param_0", "multi_turn_miss_param_1"]


def test_task_specs_name_indices() -> None:
    from benchmarks.bfcl.split import parse_tasks
    from cli.bench_bfcl import pick_tasks
    from core.errors import UserError

    assert parse_tasks("even")[:3] == [0, 2, 4] and len(parse_tasks("odd")) == 100
    assert parse_tasks("0-3,7,2") == [0, 1, 2, 3, 7]
    assert pick_tasks("odd", 0, 10) == list(range(1, 20, 2))
    assert pick_tasks("odd", 2, 2) == [5, 7]
    for bad in ("evens", "3-x", "250"):
        with pytest.raises(UserError, match="--tasks"):
            parse_tasks(bad)


def test_an_expert_never_evaluates_a_task_it_learned_from(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from benchmarks.bfcl.results import BenchConfig
    from benchmarks.bfcl.split import SplitLeakError, taught_indices
    from cli.bench_bfcl import check_experts
    from modelclient.config import ModelsConfig, RoleOverride

    assert taught_indices(["teacher:bfcl:multi_turn_base:even", "runs"]) == set(range(0, 200, 2))
    expert = SimpleNamespace(
        name="steward-expert",
        manifest=SimpleNamespace(sources=["teacher:bfcl:multi_turn_base:0-9"]),
    )
    monkeypatch.setattr(
        "local.experts.installed_adapters", lambda settings: SimpleNamespace(servable=[expert])
    )
    routed = SimpleNamespace(
        config=ModelsConfig(roles={"steward": RoleOverride(model="steward-expert")})
    )
    check_experts(routed, BenchConfig(category="multi_turn_miss_func", indices=[11, 13]))
    with pytest.raises(SplitLeakError, match="learned from BFCL task"):
        check_experts(routed, BenchConfig(category="multi_turn_miss_func", indices=[3, 11]))
    check_experts(SimpleNamespace(config=ModelsConfig()), BenchConfig(category="multi_turn_base"))
