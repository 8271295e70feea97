"""``steward bench perf``: every figure in one run, against one stub, with its baselines."""

from __future__ import annotations

import asyncio
import math
import os
import platform
import statistics
import tempfile
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from benchmarks.perf.measure import Bench, Sample
from benchmarks.perf.stub import PerfStub

Progress = Callable[[str], None]

CALLS_PER_SUBTASK = 3
"""A staff action, its ``finish`` and the steward's verdict."""


class PerfConfig(BaseModel):
    """Sizes of the perf bench; the defaults are the reported ones (about a minute)."""

    model_config = ConfigDict(extra="forbid")

    repeats: int = Field(default=5, ge=1)
    """Runs per overhead figure (the median is reported) after one warm-up run."""
    overhead_subtasks: int = Field(default=8, ge=1)
    """Subtasks of the chain whose overhead per call is measured."""
    overhead_latencies_ms: list[float] = Field(default_factory=lambda: [0.0, 50.0])
    """Model latencies at which overhead is measured."""
    parallel_subtasks: int = Field(default=8, ge=1)
    """Subtasks of the fan-out and of the chain timed against their critical path."""
    parallel_latency_ms: float = 200.0
    """Model latency of the parallel-dispatch runs."""
    wide_fanout: int = Field(default=64, ge=1)
    """Subtasks of the wide fan-out, measured beside an ``asyncio.gather`` of as many calls."""
    scale_sizes: list[int] = Field(default_factory=lambda: [2, 8, 32, 128])
    """Plan sizes (chains, 0 ms latency) of the scale table."""
    throughput_concurrency: list[int] = Field(default_factory=lambda: [1, 4, 16])
    """Runs at once in the throughput figures."""
    throughput_tasks: int = Field(default=8, ge=1)
    """Runs per throughput figure (at least two per concurrent run)."""
    throughput_latency_ms: float = 50.0
    """Model latency of the throughput runs (2-subtask chains)."""

    @classmethod
    def quick(cls) -> PerfConfig:
        """Tiny sizes: seconds, for smoke tests."""
        return cls(
            repeats=1,
            overhead_subtasks=2,
            overhead_latencies_ms=[0.0, 5.0],
            parallel_subtasks=2,
            parallel_latency_ms=20.0,
            wide_fanout=4,
            scale_sizes=[1, 2, 4],
            throughput_concurrency=[1, 2],
            throughput_tasks=2,
            throughput_latency_ms=5.0,
        )


class ScaleRow(BaseModel):
    subtasks: int
    calls: int
    wall_s: float
    overhead_ms_per_subtask: float
    overhead_ms_per_call: float
    checkpoints: int
    """Checkpoints the run wrote (one per super-step)."""
    checkpoint_bytes: int
    """Bytes of the run's checkpoints and their pending writes."""


class ThroughputRow(BaseModel):
    concurrency: int
    tasks: int
    tasks_per_minute: float


class PerfReport(BaseModel):
    """What ``steward bench perf --json`` prints."""

    overhead_ms_per_call: dict[str, float]
    """Steward wall time not spent in the model or the apps, per model call, by model latency."""
    bare_overhead_ms_per_call: dict[str, float]
    """The same for a bare LangGraph loop making as many calls with the same client."""
    overhead_ratio_vs_langgraph: float
    """Steward / bare loop overhead per call at 0 ms latency (goal: at most 1.25)."""
    overhead_ratio_by_latency: dict[str, float]
    overhead_share_at_50ms: float | None
    """Share of the steward's wall time that is overhead at 50 ms per call."""
    calls_per_run: int
    parallel_ratio: dict[str, float]
    """Wall time / critical-path time of the steward: ``fanout`` and ``chain``."""
    bare_parallel_ratio: dict[str, float]
    wide_fanout: dict[str, float]
    scale: list[ScaleRow]
    scale_slope_ms_per_subtask: float
    """Change of the overhead per subtask for each subtask added to the plan."""
    checkpoint_growth_exponent: float
    """Exponent b in checkpoint bytes ~ checkpoints^b (1: linear, 2: quadratic)."""
    throughput: list[ThroughputRow]
    goals: dict[str, bool]
    environment: dict[str, Any]
    config: PerfConfig


def _key(latency_ms: float) -> str:
    return f"{latency_ms:g}ms"


def _median(samples: list[Sample], value: Callable[[Sample], float]) -> float:
    return float(statistics.median(value(s) for s in samples))


def _slope(xs: list[float], ys: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


async def _repeat(n: int, make: Callable[[], Awaitable[Sample]]) -> list[Sample]:
    await make()  # warm-up: connections, imports, caches
    return [await make() for _ in range(n)]


async def _measure(cfg: PerfConfig, bench: Bench, progress: Progress) -> PerfReport:
    n = cfg.overhead_subtasks
    steward: dict[str, float] = {}
    bare_: dict[str, float] = {}
    share: float | None = None
    calls = 0
    for latency in cfg.overhead_latencies_ms:
        progress(f"overhead at {latency:g} ms per call")
        runs = await _repeat(cfg.repeats, partial(bench.steward, "chain", n, latency, apps=8))
        calls = runs[0].calls
        loops = await _repeat(cfg.repeats, partial(bench.bare_loop, calls, latency))
        steward[_key(latency)] = _median(runs, lambda s: s.overhead_ms_per_call)
        bare_[_key(latency)] = _median(loops, lambda s: s.overhead_ms_per_call)
        if latency == 50.0:
            share = _median(runs, lambda s: s.overhead_s / s.wall_s)
    ratios = {k: steward[k] / bare_[k] if bare_[k] else math.inf for k in steward}

    progress(f"parallel dispatch at {cfg.parallel_latency_ms:g} ms per call")
    k, lat = cfg.parallel_subtasks, cfg.parallel_latency_ms
    critical = {
        "fanout": (2 + CALLS_PER_SUBTASK) * lat / 1000,
        "chain": (2 + CALLS_PER_SUBTASK * k) * lat / 1000,
    }
    parallel, bare_parallel = {}, {}
    for shape in ("fanout", "chain"):
        run = await bench.steward(shape, k, lat, apps=k)
        dag = await bench.bare_dag(shape, k, lat)
        parallel[shape] = run.wall_s / critical[shape]
        bare_parallel[shape] = dag.wall_s / critical[shape]

    progress(f"fan-out of {cfg.wide_fanout} beside asyncio.gather")
    wide = await bench.steward("fanout", cfg.wide_fanout, lat, apps=cfg.wide_fanout)
    gathered = await bench.gather(cfg.wide_fanout, lat)
    wide_fanout = {
        "subtasks": float(cfg.wide_fanout),
        "steward_wall_s": wide.wall_s,
        "steward_ratio": wide.wall_s / critical["fanout"],
        "gather_wall_s": gathered.wall_s,
        "gather_ratio": gathered.wall_s / (lat / 1000),
    }

    progress("scale: " + ", ".join(map(str, cfg.scale_sizes)) + " subtasks")
    scale = []
    for size in cfg.scale_sizes:
        s = await bench.steward("chain", size, 0.0, apps=8)
        scale.append(
            ScaleRow(
                subtasks=size,
                calls=s.calls,
                wall_s=s.wall_s,
                overhead_ms_per_subtask=1000 * s.overhead_s / size,
                overhead_ms_per_call=s.overhead_ms_per_call,
                checkpoints=s.checkpoints,
                checkpoint_bytes=s.checkpoint_bytes,
            )
        )
    slope = _slope([r.subtasks for r in scale], [r.overhead_ms_per_subtask for r in scale])
    growth = _slope(
        [math.log(r.checkpoints) for r in scale], [math.log(r.checkpoint_bytes) for r in scale]
    )

    progress("throughput: " + ", ".join(map(str, cfg.throughput_concurrency)) + " at once")
    throughput = []
    for conc in cfg.throughput_concurrency:
        tasks = max(cfg.throughput_tasks, 2 * conc)
        rate = await bench.throughput(conc, tasks, cfg.throughput_latency_ms)
        throughput.append(ThroughputRow(concurrency=conc, tasks=tasks, tasks_per_minute=rate))

    head = ratios.get(_key(0.0), next(iter(ratios.values())))
    return PerfReport(
        overhead_ms_per_call=steward,
        bare_overhead_ms_per_call=bare_,
        overhead_ratio_vs_langgraph=head,
        overhead_ratio_by_latency=ratios,
        overhead_share_at_50ms=share,
        calls_per_run=calls,
        parallel_ratio=parallel,
        bare_parallel_ratio=bare_parallel,
        wide_fanout=wide_fanout,
        scale=scale,
        scale_slope_ms_per_subtask=slope,
        checkpoint_growth_exponent=growth,
        throughput=throughput,
        goals={
            "overhead_ratio_at_most_1.25": head <= 1.25,
            "fanout_ratio_at_most_1.10": parallel["fanout"] <= 1.10,
            "chain_ratio_at_most_1.03": parallel["chain"] <= 1.03,
        },
        environment=_environment(),
        config=cfg,
    )


def _environment() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else ()
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in load],
    }


def run_perf(config: PerfConfig | None = None, progress: Progress | None = None) -> PerfReport:
    """Start the stub, measure everything, stop the stub. Runs and checkpoints go to a
    temporary folder, not the data folder."""
    cfg = config or PerfConfig()
    say = progress or (lambda line: None)

    async def main(stub: PerfStub, folder: Path) -> PerfReport:
        bench = Bench(stub, folder)
        try:
            return await _measure(cfg, bench, say)
        finally:
            await bench.aclose()

    with tempfile.TemporaryDirectory(prefix="steward-perf-") as tmp, PerfStub() as stub:
        return asyncio.run(main(stub, Path(tmp)))


def render(report: PerfReport) -> str:
    """The report as text for the terminal."""
    lines = ["Orchestration overhead (wall time outside the model and the apps), per model call:"]
    for key, value in report.overhead_ms_per_call.items():
        bare_value = report.bare_overhead_ms_per_call[key]
        lines.append(
            f"  at {key:>5}: steward {value:6.2f} ms, bare LangGraph loop {bare_value:6.2f} ms, "
            f"ratio {report.overhead_ratio_by_latency[key]:.2f}"
        )
    if report.overhead_share_at_50ms is not None:
        lines.append(f"  overhead share of wall time at 50 ms: {report.overhead_share_at_50ms:.1%}")
    lines.append("Parallel dispatch (wall / critical path):")
    for shape, value in report.parallel_ratio.items():
        lines.append(
            f"  {shape:<7} steward {value:.3f}, bare {report.bare_parallel_ratio[shape]:.3f}"
        )
    w = report.wide_fanout
    lines.append(
        f"  fan-out of {int(w['subtasks'])}: steward {w['steward_ratio']:.3f} "
        f"({w['steward_wall_s']:.2f} s), asyncio.gather {w['gather_ratio']:.3f} "
        f"({w['gather_wall_s']:.2f} s)"
    )
    lines.append("Scale (chains at 0 ms):")
    lines.append("  subtasks  calls  overhead ms/subtask  ms/call  checkpoints  checkpoint bytes")
    for r in report.scale:
        lines.append(
            f"  {r.subtasks:>8}  {r.calls:>5}  {r.overhead_ms_per_subtask:>19.2f}  "
            f"{r.overhead_ms_per_call:>7.2f}  {r.checkpoints:>11}  {r.checkpoint_bytes:>16}"
        )
    lines.append(
        f"  slope {report.scale_slope_ms_per_subtask:+.4f} ms per subtask per subtask; "
        f"checkpoint bytes ~ checkpoints^{report.checkpoint_growth_exponent:.2f}"
    )
    lines.append("Throughput (2-subtask runs):")
    for t in report.throughput:
        lines.append(f"  {t.concurrency:>3} at once: {t.tasks_per_minute:8.1f} tasks/min")
    lines.append(
        "Goals: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in report.goals.items())
    )
    return "\n".join(lines)
