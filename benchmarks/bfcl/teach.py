"""Training examples from BFCL's ground truth: the teacher (``benchmarks.bfcl.teacher``) plays
a split of tasks through the real path, the official checker verifies each turn, and the
prompts and answers of the turns it accepted become examples (``training.examples``).

The prompts are the runtime's own (the same renderers, in the compact style a trained expert
gets), because they are what the runtime really sent: nothing is rendered twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from agents.records import RunRecord
from agents.settings import AgentSettings
from benchmarks.bfcl.harness import run_benchmark
from benchmarks.bfcl.models import OracleSource
from benchmarks.bfcl.report import read_results
from benchmarks.bfcl.results import BenchConfig, TaskResult
from memory.runs import RunStore
from training.examples import Example, examples_from_record

Arm = Literal["steward", "single"]
"""Whose examples: the steward and its staff agents, or the single-agent baseline."""


class TeachReport(BaseModel):
    """What the teacher's run gave."""

    model_config = ConfigDict(extra="forbid")

    category: str
    tasks: int
    turns: int
    verified_turns: int
    examples: int
    folder: str


async def teacher_examples(
    category: str,
    indices: list[int],
    out: Path,
    *,
    arm: Arm = "steward",
    settings: AgentSettings | None = None,
    concurrency: int = 8,
    reject_share: float | None = None,
    on_result: Callable[[TaskResult], None] | None = None,
) -> tuple[list[Example], TeachReport]:
    """Run the teacher on the tasks at ``indices`` of ``category`` (results and run records
    go to ``out``) and return the examples of every turn the checker accepted.

    ``reject_share``: the share of subtasks the teacher first attempts short, so that its
    verdicts teach rejection too (``None``: the teacher's default; none without retries)."""
    settings = settings or AgentSettings()
    if settings.max_retries < 1:  # a rejected attempt could not be retried: the turn would fail
        reject_share = 0.0
    config = BenchConfig(
        category=category,
        agent="no-memory" if arm == "steward" else "single",
        indices=sorted(indices),
        concurrency=concurrency,
        out=out,
        learn=False,
        settings=settings,
    )
    source = OracleSource(teacher=True, reject_share=reject_share)
    await run_benchmark(config, source, on_result=on_result)
    results = read_results(out / f"{config.key(source.label)}.jsonl")
    store = RunStore(out / "runs.db")
    examples: list[Example] = []
    turns = verified = 0
    try:
        for result in results.values():
            turns += result.turn_count
            for turn in result.turns[: result.turns_passed]:
                verified += 1
                record = RunRecord.model_validate(store.load_run(turn.run_id))
                found = examples_from_record(record, source=f"teacher:bfcl:{category}")
                for example in found:
                    example.meta = {"task": result.id, "turn": turn.index}
                examples += found
    finally:
        store.close()
    report = TeachReport(
        category=category,
        tasks=len(results),
        turns=turns,
        verified_turns=verified,
        examples=len(examples),
        folder=str(out),
    )
    return examples, report
