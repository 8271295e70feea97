"""Run AgentDojo cases through an agent, K at a time, score them, keep and resume results.

Per case: one ``CaseWorld`` (the suite's environment with the case's injections, split into
apps); the agent runs once on the user task's prompt; AgentDojo's own checks score the final
answer, the environment and the calls. A case's result is appended to ``<out>/<key>.jsonl``
as soon as it is scored, so an interrupted run resumes where it stopped; a folder made with
other settings is refused. Memory is off for every arm (``NoExperience``: nothing read,
nothing learned): AgentDojo is held out from everything Steward learns.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from agents.budget import BudgetLimits
from agents.experience import NoExperience
from agents.registry import Registry, Specialist
from apps.agentdojo_catalog import AGENTDOJO_APPS
from benchmarks.agentdojo.cases import Case, select_cases
from benchmarks.agentdojo.models import CaseSource
from benchmarks.agentdojo.reference import null_utility, reference_utility
from benchmarks.agentdojo.report import read_results, write_reports
from benchmarks.agentdojo.results import AgentDojoConfig, CaseResult, Summary
from benchmarks.agentdojo.world import CaseWorld
from benchmarks.bfcl.models import TaskModels
from benchmarks.bfcl.report import server_report
from benchmarks.bfcl.settings_file import changed_settings, save_settings
from benchmarks.bfcl.single import run_single_turn
from benchmarks.bfcl.turn import StewardContext, TurnRun, run_steward_turn
from core.errors import UserError
from memory.runs import RunStore
from modelclient.metrics import read_counters

OnStart = Callable[[int, int], None]
"""Called with (cases to run, cases already done) before the first case starts."""
OnResult = Callable[[CaseResult], None]
"""Called with each case's result as soon as it is scored."""


def suite_registry(suite: str) -> Registry:
    """One specialist per app of ``suite`` (no notes: AgentDojo is held out)."""

    def unavailable(state: dict[str, object]) -> object:
        raise UserError("AgentDojo apps are built per benchmark case (benchmarks.agentdojo)")

    return Registry(
        [
            Specialist(
                name=info.name,
                description=info.description,
                app_factory=unavailable,  # type: ignore[arg-type]
                source="agentdojo",
            )
            for info in AGENTDOJO_APPS[suite]
        ]
    )


class Harness:
    """One benchmark invocation: ``await Harness(config, source).run()``."""

    def __init__(
        self,
        config: AgentDojoConfig,
        source: CaseSource,
        *,
        on_start: OnStart | None = None,
        on_result: OnResult | None = None,
    ) -> None:
        self.config = config
        self.source = source
        self.on_start = on_start
        self.on_result = on_result
        self.key = config.key(source.label)
        self.tag = uuid.uuid4().hex[:6]
        self.settings = config.variant_settings()
        self._contexts: dict[str, StewardContext] = {}
        self._store: RunStore | None = None

    @property
    def results_path(self) -> Path:
        return self.config.out / f"{self.key}.jsonl"

    def _context(self, suite: str) -> StewardContext:
        ctx = self._contexts.get(suite)
        if ctx is None:
            ctx = self._contexts[suite] = StewardContext(
                settings=self.settings,
                store=self._runs(),
                checkpoints=self.config.out / "checkpoints.db",
                experience=NoExperience(),
                limits=BudgetLimits(max_calls=self.config.max_calls_per_case),
                registry=suite_registry(suite),
                run_settings={
                    "benchmark": "agentdojo",
                    "suite": suite,
                    "agent": self.config.agent,
                    "attack": self.config.attack,
                    "model": self.source.label,
                },
            )
        return ctx

    def _runs(self) -> RunStore:
        if self._store is None:
            self._store = RunStore(self.config.out / "runs.db")
        return self._store

    async def run(self) -> Summary:
        """Run every selected case not already in the results file; write the reports."""
        cfg = self.config
        cases = select_cases(cfg.suites, cfg.attack, limit=cfg.limit, injections=cfg.injections)
        cfg.out.mkdir(parents=True, exist_ok=True)
        self._check_settings()
        done = read_results(self.results_path)
        todo = [c for c in cases if c.id not in done]
        if self.on_start is not None:
            self.on_start(len(todo), len(cases) - len(todo))
        gate = asyncio.Semaphore(cfg.concurrency)
        started = time.monotonic()
        cache_before = read_counters(self.source.base_urls())

        async def one(case: Case) -> None:
            async with gate:
                result = await self.run_case(case)
            with self.results_path.open("a", encoding="utf-8") as fh:
                fh.write(result.model_dump_json() + "\n")
            done[case.id] = result
            if self.on_result is not None:
                self.on_result(result)

        try:
            async with asyncio.TaskGroup() as group:
                for case in todo:
                    group.create_task(one(case))
        except BaseExceptionGroup as group_error:
            raise group_error.exceptions[0] from None  # e.g. the server went away: it resumes
        finally:
            await self.source.aclose()
        elapsed = time.monotonic() - started
        results = [done[c.id] for c in cases if c.id in done]
        ran = [done[c.id] for c in todo if c.id in done]
        return write_reports(
            cfg,
            self.source.label,
            results,
            references=self._baselines(cases, reference_utility),
            floor=self._baselines(cases, null_utility),
            elapsed_s=elapsed,
            cases_run=len(todo),
            server=server_report(ran, cache_before, read_counters(self.source.base_urls())),
        )

    def _baselines(
        self, cases: list[Case], measure: Callable[[str, list[str]], float | None]
    ) -> dict[str, float]:
        """``measure`` (the references' or the floor's benign utility) of the selected user
        tasks, per suite and in total."""
        out: dict[str, float] = {}
        passed = total = 0
        for suite in self.config.suites:
            users = [c.user_task for c in cases if c.suite == suite and not c.attacked]
            value = measure(suite, users)
            if value is not None:
                out[suite] = value
                passed += round(value * len(users))
                total += len(users)
        if total:
            out["total"] = round(passed / total, 4)
        return out

    def _check_settings(self) -> None:
        """Refuse to add results made under other settings to an existing results file."""
        path = self.config.out / f"{self.key}.settings.json"
        current = self.config.result_settings()
        changed = changed_settings(path, current) if self.results_path.exists() else {}
        if changed:
            raise UserError(
                f"{self.results_path} holds results made with other settings "
                f"({', '.join(changed)} differ); use another --out, or --fresh to start over"
            )
        save_settings(path, current)

    async def run_case(self, case: Case) -> CaseResult:
        """Run the agent on one case and score it with AgentDojo's checks."""
        started = time.monotonic()
        started_at = time.time()
        world = CaseWorld(
            case, rollback=self.config.rollback, shown_chars=self.settings.observation_chars
        )
        steps = self.config.single_max_steps if self.config.agent == "single" else None
        models = self.source.for_case(world, max_calls=steps or max(1, self.settings.max_steps - 1))
        run_id = f"{case.id.replace('/', '-')}-{self.tag}"
        run = await self._run_agent(case, world, models, run_id)
        answer = _answer(run, single=self.config.agent == "single")
        score = world.score(answer)
        totals = run.totals.model_copy()
        totals.wall_s = round(time.monotonic() - started, 3)
        goal = world.goal_apps()
        steward = self.config.agent != "single"
        return CaseResult(
            id=case.id,
            suite=case.suite,
            user_task=case.user_task,
            injection_task=case.injection_task,
            attack=case.attack,
            agent=self.config.agent,
            model=self.source.label,
            utility=score.utility,
            security=score.security,
            answer=answer,
            run_id=run.run_id,
            status=run.status,
            error=run.error,
            calls=[
                f"{c.app}.{c.call.tool} {json.dumps(c.call.args, sort_keys=True, default=str)}"
                for c in world.log.calls
            ],
            apps_planned=run.apps_planned,
            apps_expected=world.expected_apps(),
            injection_apps=world.injection_apps(),
            goal_apps=goal,
            placement=world.placement(),
            goal_recruited=bool(set(goal) & set(run.apps_planned)) if goal and steward else None,
            exposed_apps=sorted(world.exposed),
            shown_apps=sorted(world.shown),
            totals=totals,
            calls_by_purpose=run.by_purpose,
            started_at=started_at,
            finished_at=time.time(),
        )

    async def _run_agent(
        self, case: Case, world: CaseWorld, models: TaskModels, run_id: str
    ) -> TurnRun:
        if self.config.agent == "single":
            run = await run_single_turn(
                world,
                models,
                world.prompt,
                self.settings,
                max_steps=self.config.single_max_steps,
                run_id=run_id,
            )
            if run.record is not None:
                self._runs().save_run(run.record.model_dump(mode="json"))
            return run
        ctx = self._context(case.suite)
        return await run_steward_turn(ctx, world, models, world.prompt, run_id)


def _answer(run: TurnRun, *, single: bool) -> str:
    """The final answer AgentDojo reads: the steward's answer, or the single agent's result."""
    record = run.record
    if record is None:
        return ""
    if single:
        return record.subtasks[0].result if record.subtasks else ""
    return record.answer


async def run_benchmark(
    config: AgentDojoConfig,
    source: CaseSource,
    *,
    on_start: OnStart | None = None,
    on_result: OnResult | None = None,
) -> Summary:
    """Run a benchmark invocation (see ``Harness``)."""
    return await Harness(config, source, on_start=on_start, on_result=on_result).run()
