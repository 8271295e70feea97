"""Run BFCL multi-turn tasks through an agent, K at a time, score them, keep and resume results.

Per task: one ``TaskWorld`` from its ``initial_config`` (every turn acts on the same app
instances). ``turns`` mode runs the agent once per user turn, showing held-out functions when
the task says so, and records the calls of each turn; ``compound`` mode runs all turns as one
instruction. The official checker scores the recorded calls. A task's result is appended to
``<out>/<key>.jsonl`` as soon as it is scored, so an interrupted run resumes where it stopped.
Memory (for agents that have it) learns only from tasks the checker passed, into
``<out>/memory.db`` unless told otherwise, and is never used on a task whose index it learned
from (see ``benchmarks.bfcl.learning``). With ``ray``, the tasks run on a Ray cluster instead,
one Ray task each, and this process learns and writes the results (see
``benchmarks.bfcl.ray_shard``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from agents.budget import BudgetLimits
from agents.experience import Experience, NoExperience
from agents.records import RunRecord
from benchmarks.bfcl.data import BfclTask, load_tasks
from benchmarks.bfcl.instructions import compound_instruction, turn_instruction
from benchmarks.bfcl.learning import BenchMemory
from benchmarks.bfcl.models import ModelSource, TaskModels
from benchmarks.bfcl.outcome import turn_result, usage_totals
from benchmarks.bfcl.purposes import CallCounts, count_calls
from benchmarks.bfcl.report import read_results, server_report, write_reports
from benchmarks.bfcl.results import (
    LEGACY_SETTINGS,
    BenchConfig,
    Summary,
    TaskResult,
    Totals,
    TurnResult,
)
from benchmarks.bfcl.score import Decoded, checker_model_name, score_task
from benchmarks.bfcl.settings_file import changed_settings, save_settings
from benchmarks.bfcl.single import run_single_turn
from benchmarks.bfcl.turn import StewardContext, TurnRun, run_steward_turn
from benchmarks.bfcl.world import TaskWorld
from core.errors import UserError
from memory.runs import RunStore
from modelclient.metrics import read_counters

if TYPE_CHECKING:
    from benchmarks.bfcl.ray_shard import RayOptions, RayReport

log = logging.getLogger("steward.benchmarks")

OnStart = Callable[[int, int], None]
"""Called with (tasks to run, tasks already done) before the first task starts."""
OnResult = Callable[[TaskResult], None]
"""Called with each task's result as soon as it is scored."""


class Harness:
    """One benchmark invocation: ``await Harness(config, source).run()``."""

    def __init__(
        self,
        config: BenchConfig,
        source: ModelSource,
        *,
        on_start: OnStart | None = None,
        on_result: OnResult | None = None,
        ray: RayOptions | None = None,
    ) -> None:
        self.config = config
        self.source = source
        self.on_start = on_start
        self.on_result = on_result
        self.ray = ray
        self.ray_report: RayReport | None = None
        """How the last ``run`` went on Ray (``None``: it ran here)."""
        self.key = config.key(source.label)
        self.checker_name = checker_model_name()
        self.tag = uuid.uuid4().hex[:6]
        self.settings = config.variant_settings()
        self.memory = BenchMemory(config, source) if config.uses_memory else None
        self._ctx: StewardContext | None = None

    @property
    def results_path(self) -> Path:
        return self.config.out / f"{self.key}.jsonl"

    def run_store(self) -> RunStore:
        """Where the runs' records go: ``OUT/runs.db``."""
        return self._steward_context().store

    def close(self) -> None:
        """Close the run store (a harness made for one task, as a Ray worker makes)."""
        if self._ctx is not None:
            self._ctx.store.close()

    def _steward_context(self) -> StewardContext:
        if self._ctx is None:
            self.config.out.mkdir(parents=True, exist_ok=True)
            experience: Experience = (
                NoExperience() if self.memory is None else self.memory.experience
            )
            self._ctx = StewardContext(
                settings=self.settings,
                store=RunStore(self.config.out / "runs.db"),
                checkpoints=self.config.out / "checkpoints.db",
                experience=experience,
                limits=BudgetLimits(max_calls=self.config.max_calls_per_turn),
                run_settings={
                    "benchmark": "bfcl",
                    "category": self.config.category,
                    "agent": self.config.agent,
                    "mode": self.config.mode,
                    "model": self.source.label,
                },
            )
        return self._ctx

    async def run(self) -> Summary:
        """Run every selected task not already in the results file; write the reports."""
        cfg = self.config
        tasks = load_tasks(cfg.category, limit=cfg.limit, offset=cfg.offset, indices=cfg.indices)
        cfg.out.mkdir(parents=True, exist_ok=True)
        self._check_settings()
        done = read_results(self.results_path)
        todo = [t for t in tasks if t.id not in done]
        if self.memory is not None:
            self.memory.check([t.id for t in todo])
        if self.on_start is not None:
            self.on_start(len(todo), len(tasks) - len(todo))
        started = time.monotonic()
        cache_before = read_counters(self.source.base_urls())

        def save(result: TaskResult) -> None:
            with self.results_path.open("a", encoding="utf-8") as fh:
                fh.write(result.model_dump_json() + "\n")
            done[result.id] = result
            if self.on_result is not None:
                self.on_result(result)

        try:
            if self.ray is not None:
                from benchmarks.bfcl.ray_shard import run_sharded

                self.ray_report = await run_sharded(self, todo, save, self.ray)
            else:
                await self._run_here(todo, save)
        finally:
            await self.source.aclose()
        elapsed = time.monotonic() - started
        results = [done[t.id] for t in tasks if t.id in done]
        ran = [done[t.id] for t in todo if t.id in done]
        summary = write_reports(
            cfg,
            self.source.label,
            results,
            elapsed_s=elapsed,
            tasks_run=len(todo),
            memory=None if self.memory is None else self.memory.report(),
            server=server_report(ran, cache_before, read_counters(self.source.base_urls())),
        )
        if self.ray_report is not None:
            self.ray_report.check_lost(self.results_path)
        return summary

    async def _run_here(self, todo: list[BfclTask], save: Callable[[TaskResult], None]) -> None:
        """Run ``todo`` in this process, ``concurrency`` at a time; the first error stops all."""
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(task: BfclTask) -> None:
            async with gate:
                if self.memory is not None:
                    self.memory.guard(task.id)
                result = await self.run_task(task)
            save(result)

        try:
            async with asyncio.TaskGroup() as group:
                for task in todo:
                    group.create_task(one(task))
        except BaseExceptionGroup as group_error:
            # the first failure stopped the others (e.g. the server went away): raise it alone
            raise group_error.exceptions[0] from None

    def _check_settings(self) -> None:
        """Refuse to add results made under other settings to an existing results file."""
        path = self.config.out / f"{self.key}.settings.json"
        current = self.config.result_settings()
        exists = self.results_path.exists()
        changed = changed_settings(path, current, legacy=LEGACY_SETTINGS) if exists else {}
        if changed:
            raise UserError(
                f"{self.results_path} holds results made with other settings "
                f"({', '.join(changed)} differ); use another --out, or --fresh to start over"
            )
        save_settings(path, current)

    async def run_task(self, task: BfclTask) -> TaskResult:
        """Run one task (all its turns, or its compound instruction), score it, and learn from
        it if it passed."""
        result, records = await self.play_task(task)
        return await self.learn_from(result, records)

    async def play_task(self, task: BfclTask) -> tuple[TaskResult, list[RunRecord]]:
        """Run and score one task, without learning: its result and its turns' run records."""
        cfg = self.config
        started = time.monotonic()
        started_at = time.time()
        compound = cfg.mode == "compound"
        world = TaskWorld(task, reveal_all=compound)
        max_calls = max(1, self.settings.max_steps - 1)
        models = self.source.for_task(task, compound=compound, max_calls=max_calls)
        if compound:
            runs = [(0, compound_instruction(task), [c for t in task.gt_calls() for c in t])]
        else:
            gt = task.gt_calls()
            runs = [
                (i, turn_instruction(task, i, context_turns=cfg.context_turns), gt[i])
                for i in range(len(task.turns))
            ]
        turns: list[TurnResult] = []
        records: list[RunRecord] = []
        run_turn = self._turn_runner(world, models)
        for i, instruction, expected in runs:
            world.begin_turn(i)
            models.begin_turn(i)
            mark = world.log.mark()
            run = await run_turn(instruction, f"{task.id}-t{i}-{self.tag}")
            if run.record is not None:
                records.append(run.record)
            turns.append(turn_result(i, instruction, run, world.log.since(mark), expected))
        decoded: Decoded = [[[c] for c in turn.calls] for turn in turns]
        score = score_task(task, decoded, model_name=self.checker_name, compound=compound)
        judged = [t.recruited for t in turns if t.recruited is not None]
        totals = Totals.total(t.totals for t in turns)
        totals.wall_s = round(time.monotonic() - started, 3)
        result = TaskResult(
            id=task.id,
            category=task.category,
            agent=cfg.agent,
            mode=cfg.mode,
            model=self.source.label,
            valid=score.valid,
            error_type=score.error_type,
            error_message=score.error_message,
            failed_turn=score.failed_turn,
            turns_passed=score.turns_passed,
            turn_count=score.turn_count,
            recruitment=sum(judged) / len(judged) if judged else None,
            totals=totals,
            calls_by_purpose=CallCounts.total(t.calls_by_purpose for t in turns),
            started_at=started_at,
            finished_at=time.time(),
            turns=turns,
        )
        return result, records

    async def learn_from(self, result: TaskResult, records: list[RunRecord]) -> TaskResult:
        """Learn from the run records of a task the checker passed (agents with memory); the
        result with the summary calls of learning, and its time, added."""
        if not result.valid or self.memory is None:
            return result
        started = time.monotonic()
        learning = await self.memory.learn(result.id, records)
        totals = result.totals + usage_totals(learning)
        totals.wall_s = round(result.totals.wall_s + time.monotonic() - started, 3)
        return result.model_copy(
            update={
                "totals": totals,
                "calls_by_purpose": result.calls_by_purpose + count_calls(learning),
                "finished_at": time.time(),
            }
        )

    def _turn_runner(
        self, world: TaskWorld, models: TaskModels
    ) -> Callable[[str, str], Awaitable[TurnRun]]:
        """``run(instruction, run_id)`` for this task's agent, world and models."""
        if self.config.agent == "single":
            store = self._steward_context().store  # the single agent's records go there too

            async def single(instruction: str, run_id: str) -> TurnRun:
                run = await run_single_turn(
                    world,
                    models,
                    instruction,
                    self.settings,
                    max_steps=self.config.single_max_steps,
                    run_id=run_id,
                )
                if run.record is not None:
                    store.save_run(run.record.model_dump(mode="json"))
                return run

            return single
        ctx = self._steward_context()

        async def steward(instruction: str, run_id: str) -> TurnRun:
            return await run_steward_turn(ctx, world, models, instruction, run_id)

        return steward


async def run_benchmark(
    config: BenchConfig,
    source: ModelSource,
    *,
    on_start: OnStart | None = None,
    on_result: OnResult | None = None,
    ray: RayOptions | None = None,
) -> Summary:
    """Run a benchmark invocation (see ``Harness``)."""
    return await Harness(config, source, on_start=on_start, on_result=on_result, ray=ray).run()
