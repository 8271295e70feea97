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

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.settings import AgentSettings
from benchmarks.bfcl.harness import OnResult, OnStart, run_benchmark
from benchmarks.bfcl.models import ModelSource
from benchmarks.bfcl.results import BenchConfig, Mode, Summary
from benchmarks.bfcl.settings_file import changed_settings, save_settings
from core.errors import UserError
from memory.embedding import Retrieval

log = logging.getLogger("steward.benchmarks")

SourceFactory = Callable[[], ModelSource]
"""A fresh model source (a benchmark run closes the one it was given)."""
OnStage = Callable[[str], None]
"""Called with a one-line description before each stage starts."""

CURVE_JSON = "curve.json"
CURVE_MD = "curve.md"
CURVE_PNG = "curve.png"
EXPERIMENT_JSON = "experiment.json"


class CurveConfig(BaseModel):
    """A memory learning-curve experiment."""

    model_config = ConfigDict(extra="forbid")

    category: str = "multi_turn_base"
    split: Literal["interleaved", "blocks"] = "interleaved"
    """``interleaved``: fill tasks are ``fill_offset``, +2, +4...; evaluation tasks the ones in
    between (BFCL orders tasks by app, so both slices then cover the same apps).
    ``blocks``: two contiguous slices, ``fill_offset`` and ``eval_offset`` on."""
    fill_offset: int = Field(default=0, ge=0)
    """First task of the fill slice."""
    fill: int = Field(default=50, ge=1)
    """Tasks in the fill slice (memory learns from those the checker passes)."""
    eval_offset: int | None = Field(default=None, ge=0)
    """``blocks``: first task of the evaluation slice; default: right after the fill slice."""
    eval: int = Field(default=20, ge=1)
    """Tasks in the evaluation slice (run once per point)."""
    points: list[int] = Field(default_factory=list)
    """Tasks seen at which memory is evaluated; default ``0, fill/2, fill``. 0 is always
    included (memory off)."""
    mode: Mode = "turns"
    concurrency: int = Field(default=4, ge=1)
    out: Path = Path("memory-curve")
    settings: AgentSettings = Field(default_factory=AgentSettings)
    max_calls_per_turn: int | None = None
    memory_retrieval: Retrieval | None = None
    """How the evaluated steward searches memory (see ``BenchConfig.memory_retrieval``)."""

    @model_validator(mode="after")
    def _check(self) -> CurveConfig:
        if self.split == "interleaved" and self.eval_offset is not None:
            raise ValueError(
                "an evaluation offset needs split 'blocks' (interleaved slices "
                "both start at the fill offset)"
            )
        fill_end, eval_end = self.fill_offset + self.fill, self.eval_start + self.eval
        if self.split == "blocks" and self.eval_start < fill_end and self.fill_offset < eval_end:
            raise ValueError(
                f"the fill slice [{self.fill_offset}, {fill_end}) and the evaluation slice "
                f"[{self.eval_start}, {eval_end}) overlap; memory must be judged on unseen tasks"
            )
        points = sorted({0, *(self.points or [self.fill // 2, self.fill])})
        if points[-1] > self.fill:
            raise ValueError(f"point {points[-1]} is beyond the {self.fill} fill tasks")
        self.points = points
        return self

    @property
    def eval_start(self) -> int:
        """Position of the first evaluation task."""
        if self.eval_offset is not None:
            return self.eval_offset
        return self.fill_offset + (1 if self.split == "interleaved" else self.fill)

    def fill_indices(self, start: int = 0, end: int | None = None) -> list[int]:
        """Positions of fill tasks ``start`` to ``end`` (default: all) in the category."""
        step = 2 if self.split == "interleaved" else 1
        every = [self.fill_offset + step * i for i in range(self.fill)]
        return every[start:end]

    def eval_indices(self) -> list[int]:
        """Positions of the evaluation tasks in the category."""
        step = 2 if self.split == "interleaved" else 1
        return [self.eval_start + step * i for i in range(self.eval)]

    def stage_path(self, start: int, end: int) -> Path:
        """Folder of the fill stage over fill tasks ``start`` to ``end`` (results, memory)."""
        return self.out / "fill" / f"tasks-{start:04d}-{end:04d}"

    def snapshot_path(self, seen: int) -> Path:
        return self.out / "memory" / f"after-{seen:04d}.db"


class CurvePoint(BaseModel):
    """The evaluation slice, run with the memory learned from ``tasks_seen`` fill tasks."""

    model_config = ConfigDict(extra="forbid")

    tasks_seen: int
    memory: bool
    """False at point 0 (the steward with memory off)."""
    guidelines: int = 0
    expertise: int = 0
    """Entries in the memory this point read."""
    retrieved_per_turn: float = 0.0
    """Memory entries put into prompts, per turn."""
    template_share: float = 0.0
    """Turns whose plan was offered a past graph as a template."""
    template_match: float | None = None
    """Of those turns (with ground-truth calls), the share whose template recruits exactly
    the apps the ground truth uses: retrieval quality, independent of the model."""
    summary: Summary


class Curve(BaseModel):
    """The whole experiment: the fill runs' summaries and one point per memory copy."""

    model_config = ConfigDict(extra="forbid")

    config: CurveConfig
    fill_model: str
    eval_model: str
    fill_tasks: int = 0
    """Fill tasks run (by any stage, this invocation or an earlier one)."""
    fill_passed: int = 0
    """Of those, the ones the checker passed: memory learned only from these."""
    points: list[CurvePoint] = Field(default_factory=list)
    elapsed_s: float = 0.0
    files: dict[str, str] = Field(default_factory=dict)


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
    labels = []
    for factory in (fill_source, eval_source):
        probe = factory()
        labels.append(probe.label)
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
            copy_database(stage.memory_path(), snapshot)
        previous = seen

    points: list[CurvePoint] = []
    for seen in config.points:
        use_memory = seen > 0
        folder = config.out / "eval" / f"after-{seen:04d}"
        memory_db = folder / "memory.db"
        if use_memory and not memory_db.exists():
            copy_database(config.snapshot_path(seen), memory_db)  # retrieval counts its uses
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
        copy_database(previous, folder / "memory.db")
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


def write_curve(curve: Curve) -> None:
    """``curve.json``, ``curve.md`` and (with matplotlib) ``curve.png`` in the curve's folder."""
    out = curve.config.out
    curve.files = {"json": str(out / CURVE_JSON), "markdown": str(out / CURVE_MD)}
    png = _plot(curve, out / CURVE_PNG)
    if png is not None:
        curve.files["plot"] = str(png)
    (out / CURVE_MD).write_text(markdown(curve), encoding="utf-8")
    (out / CURVE_JSON).write_text(
        json.dumps(curve.model_dump(mode="json"), indent=2), encoding="utf-8"
    )


def _span(indices: Sequence[int]) -> str:
    """``tasks 0, 2, ..., 98`` or ``tasks 50-69``."""
    if len(indices) > 1 and indices[-1] - indices[0] == len(indices) - 1:
        return f"tasks {indices[0]}-{indices[-1]}"
    if len(indices) > 3:
        return f"tasks {indices[0]}, {indices[1]}, ..., {indices[-1]}"
    return "tasks " + ", ".join(map(str, indices))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def markdown(curve: Curve) -> str:
    """The learning curve as a table, one row per point (the first row is memory off)."""
    cfg = curve.config
    lines = [
        f"# Memory learning curve: {cfg.category}",
        "",
        f"Fill: {_span(cfg.fill_indices())} with `{curve.fill_model}`; evaluation: "
        f"{_span(cfg.eval_indices())} with `{curve.eval_model}`, memory read-only; "
        f"{cfg.mode} mode; memory retrieval {cfg.memory_retrieval or 'default'}.",
        "",
        "| tasks seen | memory | guidelines | expertise | retrieved/turn | template apps right % "
        "| accuracy % | per-turn % | recruitment % | calls/task | prompt tok/task "
        "| completion tok/task | actions/task | s/task |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for point in curve.points:
        s, p = point.summary, point.summary.per_task
        lines.append(
            f"| {point.tasks_seen} | {'on' if point.memory else 'off'} | {point.guidelines} "
            f"| {point.expertise} | {point.retrieved_per_turn:.2f} | {_pct(point.template_match)} "
            f"| {_pct(s.accuracy)} "
            f"| {_pct(s.per_turn_accuracy)} | {_pct(s.recruitment_accuracy)} | {p.model_calls} "
            f"| {p.prompt_tokens} | {p.completion_tokens} | {p.actions} | {p.wall_s:.1f} |"
        )
    lines += [
        "",
        f"The fill runs passed {curve.fill_passed} of {curve.fill_tasks} task(s); memory learned "
        "only from those.",
    ]
    return "\n".join(lines) + "\n"


def _plot(curve: Curve, path: Path) -> Path | None:
    try:
        import matplotlib
    except ImportError:
        log.warning("matplotlib is not installed; no curve plot (pip install 'steward[plots]')")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    points: Sequence[CurvePoint] = curve.points
    xs = [p.tasks_seen for p in points]
    fig, ax = pyplot.subplots(figsize=(7, 4.5))
    ax.plot(xs, [100 * p.summary.accuracy for p in points], "o-", label="task accuracy")
    ax.plot(xs, [100 * p.summary.per_turn_accuracy for p in points], "s--", label="per-turn")
    ax.set_xlabel(f"fill tasks seen (memory from `{curve.fill_model}`)")
    ax.set_ylabel(f"accuracy on {curve.config.eval} unseen tasks (%)")
    ax.set_ylim(-2, 102)
    ax.set_title(f"Memory learning curve: {curve.config.category}, {curve.eval_model}")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot.close(fig)
    return path
