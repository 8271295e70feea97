"""Does memory make later runs better? Fill memory from one slice of tasks, evaluate another.

``run_curve`` runs the fill slice through the full steward in stages (learning only from the
tasks the checker passed) and keeps a copy of the memory after each stage: after ``k`` tasks
seen, for every ``k`` in ``points``. Then the same evaluation slice runs once per copy with the
memory read-only, so every point sees the same tasks and differs only in what memory holds;
point 0 is the steward with memory off. The result is the learning curve (accuracy against
tasks seen) and the memory-on/off comparison (the first and last points) side by side.

Every stage is an ordinary benchmark run with its own results file, so an interrupted curve
resumes: finished tasks are skipped and finished memory copies are kept.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.bfcl.curve_config import (
    CURVE_JSON,
    CURVE_MD,
    CURVE_PNG,
    EXPERIMENT_JSON,
    Curve,
    CurveConfig,
    CurvePoint,
)
from benchmarks.bfcl.curve_report import markdown, write_curve
from benchmarks.bfcl.harness import OnResult, OnStart, run_benchmark
from benchmarks.bfcl.models import ModelSource
from benchmarks.bfcl.results import BenchConfig, Summary
from benchmarks.bfcl.settings_file import changed_settings, save_settings
from benchmarks.bfcl.split import copy_ledger, task_index
from core.errors import UserError

__all__ = [
    "CURVE_JSON",
    "CURVE_MD",
    "CURVE_PNG",
    "EXPERIMENT_JSON",
    "Curve",
    "CurveConfig",
    "CurvePoint",
    "check_experiment",
    "copy_database",
    "copy_memory",
    "markdown",
    "run_curve",
    "write_curve",
]

log = logging.getLogger("steward.benchmarks")

SourceFactory = Callable[[], ModelSource]
"""A fresh model source (a benchmark run closes the one it was given)."""
OnStage = Callable[[str], None]
"""Called with a one-line description before each stage starts."""


def check_experiment(config: CurveConfig, *, fill_model: str, eval_model: str) -> None:
    """Refuse to resume a folder holding a curve made with other settings (its finished tasks
    and memory copies would be mixed into this one); record the settings on first use.

    Points and concurrency may change between invocations; nothing else may.
    """
    path = config.out / EXPERIMENT_JSON
    current = {
        **config.model_dump(mode="json", exclude={"points", "concurrency", "out"}),
        "fill_model": fill_model,
        "eval_model": eval_model,
    }
    changed = changed_settings(path, current)
    if changed:
        what = "; ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
        raise UserError(
            f"{config.out} holds a curve made with other settings ({what}); "
            "use another --out, or --fresh to start over"
        )
    save_settings(path, current)


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of the sqlite file ``source`` (WAL included) at ``target``, written
    under a temporary name first so a crash never leaves a half copy under the real one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    partial.replace(target)


def copy_memory(source: Path, target: Path) -> None:
    """:func:`copy_database` of a memory file, with its ledger of learned tasks."""
    copy_database(source, target)
    copy_ledger(source, target)


def _counts(path: Path) -> tuple[int, int]:
    from memory import MemoryStore

    if not path.exists():
        return 0, 0
    with MemoryStore(path) as store:
        stats = store.stats()
    return int(stats["guidelines"]["count"]), int(stats["expertise"]["count"])


async def run_curve(
    config: CurveConfig,
    fill_source: SourceFactory,
    eval_source: SourceFactory,
    *,
    on_stage: OnStage | None = None,
    on_start: OnStart | None = None,
    on_result: OnResult | None = None,
) -> Curve:
    """Fill memory in stages, evaluate every memory copy, write ``curve.json/.md/.png``."""
    started = time.monotonic()
    config.out.mkdir(parents=True, exist_ok=True)
    note = on_stage or (lambda _text: None)
    labels, scripted = [], []
    for factory in (fill_source, eval_source):
        probe = factory()
        labels.append(probe.label)
        scripted.append(probe.scripted)
        await probe.aclose()
    fill_model, eval_model = labels
    check_experiment(config, fill_model=fill_model, eval_model=eval_model)

    def bench(**fields: object) -> BenchConfig:
        return BenchConfig.model_validate(
            {
                "category": config.category,
                "mode": config.mode,
                "concurrency": config.concurrency,
                "settings": config.settings,
                "max_calls_per_turn": config.max_calls_per_turn,
                "memory_retrieval": config.memory_retrieval,
                # the curve measures what the fill taught, a scripted teacher's lessons included
                "include_scripted": True,
                **fields,
            }
        )

    previous = 0
    for seen in config.points[1:]:
        folder = config.stage_path(previous, seen)
        stage = bench(
            agent="steward",
            indices=config.fill_indices(previous, seen),
            out=folder,
            memory_db=folder / "memory.db",
        )
        snapshot = config.snapshot_path(seen)
        if snapshot.exists():  # finished earlier: the memory copy is final
            note(f"fill tasks {previous}-{seen}: done earlier ({snapshot.name})")
        else:
            # a stage starts from the memory of the point before it, so points added later
            # (e.g. --points 25 after a curve at 50) get a memory of exactly their tasks
            if not stage.memory_path().exists():
                _start_memory(config.snapshot_path(previous) if previous else None, folder)
            note(f"fill: learning from tasks {previous}-{seen} of the fill slice ({fill_model})")
            await run_benchmark(stage, fill_source(), on_start=on_start, on_result=on_result)
            copy_memory(stage.memory_path(), snapshot)
        previous = seen

    points: list[CurvePoint] = []
    for seen in config.points:
        use_memory = seen > 0
        folder = config.out / "eval" / f"after-{seen:04d}"
        memory_db = folder / "memory.db"
        if use_memory and not memory_db.exists():
            copy_memory(config.snapshot_path(seen), memory_db)  # retrieval counts its uses
        stage = bench(
            agent="steward" if use_memory else "no-memory",
            indices=config.eval_indices(),
            out=folder,
            memory_db=memory_db if use_memory else None,
            learn=False,
        )
        what = f"memory from {seen} task(s)" if use_memory else "memory off"
        note(f"evaluate: {config.eval} task(s) with {what} ({eval_model})")
        summary = await run_benchmark(stage, eval_source(), on_start=on_start, on_result=on_result)
        guidelines, expertise = _counts(config.snapshot_path(seen)) if use_memory else (0, 0)
        retrieved, share, match = _memory_use(summary)
        points.append(
            CurvePoint(
                tasks_seen=seen,
                memory=use_memory,
                guidelines=guidelines,
                expertise=expertise,
                retrieved_per_turn=retrieved,
                template_share=share,
                template_match=match,
                summary=summary,
            )
        )
    fill_results = _fill_results(config)
    curve = Curve(
        config=config,
        fill_model=fill_model,
        eval_model=eval_model,
        fill_tasks=len(fill_results),
        fill_passed=sum(fill_results.values()),
        learned_indices=sorted(task_index(t) for t, passed in fill_results.items() if passed),
        fill_scripted=scripted[0],
        points=points,
        elapsed_s=round(time.monotonic() - started, 1),
    )
    write_curve(curve)
    return curve


def _fill_results(config: CurveConfig) -> dict[str, bool]:
    """Task id -> passed, over every fill stage's results in the folder."""
    from benchmarks.bfcl.report import read_results

    passed: dict[str, bool] = {}
    for path in sorted((config.out / "fill").glob("tasks-*/*.jsonl")):
        for task_id, result in read_results(path).items():
            passed[task_id] = result.valid
    return passed


def _start_memory(previous: Path | None, folder: Path) -> None:
    """A stage's memory: a copy of the previous point's, or a new empty store."""
    from memory import MemoryStore

    if previous is not None:
        copy_memory(previous, folder / "memory.db")
    else:
        folder.mkdir(parents=True, exist_ok=True)
        MemoryStore(folder / "memory.db").close()


def _memory_use(summary: Summary) -> tuple[float, float, float | None]:
    """Per-turn memory use of a run: entries retrieved, templates offered and how well the
    templates' apps matched the ground truth's."""
    from benchmarks.bfcl.report import read_results

    results = read_results(Path(summary.files["results"]))
    turns = [t for r in results.values() for t in r.turns]
    if not turns:
        return 0.0, 0.0, None
    offered = [t for t in turns if t.template_apps is not None]
    judged = [t.template_apps == t.apps_expected for t in offered if t.apps_expected]
    return (
        round(sum(t.retrieved for t in turns) / len(turns), 2),
        round(len(offered) / len(turns), 3),
        round(sum(judged) / len(judged), 3) if judged else None,
    )
