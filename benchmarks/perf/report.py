"""``steward bench perf``: every figure in one run, against one stub, with its baselines."""

from __future__ import annotations

import asyncio
import os
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.perf import sections
from benchmarks.perf.config import PerfConfig, PerfReport
from benchmarks.perf.measure import Bench
from benchmarks.perf.stub import PerfStub

Progress = Callable[[str], None]


async def _measure(cfg: PerfConfig, bench: Bench, progress: Progress) -> PerfReport:
    latencies = ", ".join(f"{x:g}" for x in cfg.overhead_latencies_ms)
    progress(f"overhead at {latencies} ms per call")
    overhead = await sections.overhead(cfg, bench)
    progress(f"parallel dispatch at {cfg.parallel_latency_ms:g} ms per call")
    parallel = await sections.parallel(cfg, bench)
    progress(f"fan-out of {cfg.wide_fanout} beside asyncio.gather")
    wide = await sections.wide(cfg, bench)
    progress("scale: " + ", ".join(map(str, cfg.scale_sizes)) + " subtasks")
    scale = await sections.scale(cfg, bench)
    progress("throughput: " + ", ".join(map(str, cfg.throughput_concurrency)) + " at once")
    throughput = await sections.throughput(cfg, bench)
    ratio = parallel["parallel_ratio"]
    return PerfReport(
        **overhead,
        **parallel,
        wide_fanout=wide,
        **scale,
        throughput=throughput,
        goals={
            "overhead_ratio_at_most_1.25": overhead["overhead_ratio_vs_langgraph"] <= 1.25,
            "fanout_ratio_at_most_1.10": ratio["fanout"] <= 1.10,
            "chain_ratio_at_most_1.03": ratio["chain"] <= 1.03,
            "uneven_ratio_at_most_1.10": ratio["uneven"] <= 1.10,
            "fanout_no_worse_than_bare": ratio["fanout"]
            <= parallel["bare_parallel_ratio"]["fanout"],
            "chain_no_worse_than_bare": ratio["chain"] <= parallel["bare_parallel_ratio"]["chain"],
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
    for k, value in report.overhead_ms_per_call.items():
        lines.append(
            f"  at {k:>5}: steward {value:6.2f} ms, bare LangGraph loop "
            f"{report.bare_overhead_ms_per_call[k]:6.2f} ms, "
            f"ratio {report.overhead_ratio_by_latency[k]:.2f}"
        )
    best = ", ".join(f"{k} {v:.2f}" for k, v in report.overhead_ratio_of_best_runs.items())
    lines.append(f"  ratio of the fastest runs: {best}")
    cpu = report.cpu_ms_per_call
    if cpu:
        lines.append(
            f"  CPU per call at 0 ms: steward {cpu['steward']:.2f} ms, bare {cpu['bare']:.2f} ms"
        )
    if report.overhead_share_at_50ms is not None:
        lines.append(f"  overhead share of wall time at 50 ms: {report.overhead_share_at_50ms:.1%}")
    lines.append("Parallel dispatch (wall / critical path):")
    for shape, value in report.parallel_ratio.items():
        bare = report.bare_parallel_ratio[shape]
        lines.append(f"  {shape:<7} steward {value:.3f}, bare LangGraph {bare:.3f}")
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
        f"  slope {report.scale_slope_ms_per_subtask:+.4f} ms per subtask per added subtask; "
        f"checkpoint bytes ~ checkpoints^{report.checkpoint_growth_exponent:.2f}"
    )
    lines.append("Throughput (2-subtask runs):")
    for t in report.throughput:
        lines.append(f"  {t.concurrency:>3} at once: {t.tasks_per_minute:8.1f} tasks/min")
    goals = ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in report.goals.items())
    lines.append(f"Goals: {goals}")
    lines.append(f"Machine load average at the end: {report.environment.get('load_average')}")
    return "\n".join(lines)
