"""The measurements of the perf bench, one function per section of the report."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from benchmarks.perf import world
from benchmarks.perf.config import PerfConfig, ScaleRow, ThroughputRow
from benchmarks.perf.measure import Bench, Sample

CALLS_PER_SUBTASK = 3
"""A staff action, its ``finish`` and the steward's verdict."""


def key(latency_ms: float) -> str:
    return f"{latency_ms:g}ms"


def median(samples: list[Sample], value: Callable[[Sample], float]) -> float:
    return float(statistics.median(value(s) for s in samples))


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ``ys`` over ``xs``."""
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


async def repeat(n: int, make: Callable[[], Awaitable[Sample]]) -> list[Sample]:
    """One warm-up run (connections, caches), then ``n`` measured ones."""
    await make()
    return [await make() for _ in range(n)]


async def _cpu(make: Callable[[], Awaitable[Sample]]) -> tuple[Sample, float]:
    start = time.process_time()
    sample = await make()
    return sample, 1000 * (time.process_time() - start) / max(1, sample.calls)


async def overhead(cfg: PerfConfig, bench: Bench) -> dict[str, Any]:
    """Overhead per call of a chain, beside the bare loop replaying its requests."""
    n = cfg.overhead_subtasks
    steward: dict[str, float] = {}
    bare: dict[str, float] = {}
    best: dict[str, float] = {}
    cpu: dict[str, list[float]] = {"steward": [], "bare": []}
    share: float | None = None
    calls = 0
    for latency in cfg.overhead_latencies_ms:
        make_run = partial(bench.steward, "chain", n, latency, apps=8)
        await make_run()  # warm-up
        runs: list[Sample] = []
        loops: list[Sample] = []
        for _ in range(cfg.repeats):  # interleaved, so both see the same machine
            run, run_cpu = await _cpu(make_run)
            sent = bench.stub.requests()  # replayed byte for byte by the bare loop
            loop, loop_cpu = await _cpu(partial(bench.bare_loop, run.calls, latency, sent))
            runs.append(run)
            loops.append(loop)
            if latency == 0:
                cpu["steward"].append(run_cpu)
                cpu["bare"].append(loop_cpu)
        calls = runs[0].calls
        steward[key(latency)] = median(runs, lambda s: s.overhead_ms_per_call)
        bare[key(latency)] = median(loops, lambda s: s.overhead_ms_per_call)
        best[key(latency)] = min(s.overhead_ms_per_call for s in runs) / max(
            min(s.overhead_ms_per_call for s in loops), 1e-9
        )
        if latency == 50.0:
            share = median(runs, lambda s: s.overhead_s / s.wall_s)
    ratios = {k: steward[k] / bare[k] if bare[k] else math.inf for k in steward}
    return {
        "overhead_ms_per_call": steward,
        "bare_overhead_ms_per_call": bare,
        "overhead_ratio_vs_langgraph": ratios.get(key(0.0), next(iter(ratios.values()))),
        "overhead_ratio_by_latency": ratios,
        "overhead_ratio_of_best_runs": best,
        "cpu_ms_per_call": {k: statistics.median(v) for k, v in cpu.items() if v},
        "overhead_share_at_50ms": share,
        "calls_per_run": calls,
    }


def critical_path_s(shape: str, n: int, latency_ms: float) -> float:
    """Model time on the critical path: plan, the subtasks' calls, answer. In ``uneven`` the
    long branch (its app served ``world.SLOW`` times slower) is the longer one."""
    if shape == "uneven":
        short_branch = 2 * CALLS_PER_SUBTASK
        long_branch = (CALLS_PER_SUBTASK - 1) * world.SLOW + 1
        return (2 + max(short_branch, long_branch)) * latency_ms / 1000
    subtasks_in_a_row = 1 if shape == "fanout" else n
    return (2 + CALLS_PER_SUBTASK * subtasks_in_a_row) * latency_ms / 1000


async def parallel(cfg: PerfConfig, bench: Bench) -> dict[str, Any]:
    """Wall time over critical path of a fan-out, a chain and an uneven graph (a short chain
    beside one long subtask), steward and bare LangGraph."""
    k, lat = cfg.parallel_subtasks, cfg.parallel_latency_ms
    ratio: dict[str, float] = {}
    bare: dict[str, float] = {}
    for shape in ("fanout", "chain", "uneven"):
        n = 3 if shape == "uneven" else k
        times = 1 if shape == "chain" else cfg.parallel_repeats
        runs = await repeat(times, partial(bench.steward, shape, n, lat, apps=n))
        dags = await repeat(times, partial(bench.bare_dag, shape, n, lat))
        critical = critical_path_s(shape, n, lat)
        ratio[shape] = median(runs, lambda s: s.wall_s) / critical
        bare[shape] = median(dags, lambda s: s.wall_s) / critical
    return {"parallel_ratio": ratio, "bare_parallel_ratio": bare}


async def wide(cfg: PerfConfig, bench: Bench) -> dict[str, float]:
    """A fan-out of ``wide_fanout`` subtasks beside an ``asyncio.gather`` of as many calls."""
    n, lat = cfg.wide_fanout, cfg.parallel_latency_ms
    (run,) = await repeat(1, partial(bench.steward, "fanout", n, lat, apps=n))
    (gathered,) = await repeat(1, partial(bench.gather, n, lat))
    return {
        "subtasks": float(n),
        "steward_wall_s": run.wall_s,
        "steward_ratio": run.wall_s / critical_path_s("fanout", n, lat),
        "gather_wall_s": gathered.wall_s,
        "gather_ratio": gathered.wall_s / (lat / 1000),
    }


async def scale(cfg: PerfConfig, bench: Bench) -> dict[str, Any]:
    """Overhead per subtask and checkpoint size for chains of growing size, at 0 ms."""
    rows = []
    for size in cfg.scale_sizes:
        times = 3 if size <= 32 else 1  # the median of three for the quick ones
        runs = [await bench.steward("chain", size, 0.0, apps=8) for _ in range(times)]
        s = sorted(runs, key=lambda r: r.overhead_s)[len(runs) // 2]
        rows.append(
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
    return {
        "scale": rows,
        "scale_slope_ms_per_subtask": slope(
            [r.subtasks for r in rows], [r.overhead_ms_per_subtask for r in rows]
        ),
        "checkpoint_growth_exponent": slope(
            [math.log(r.subtasks) for r in rows], [math.log(r.checkpoint_bytes) for r in rows]
        ),
    }


async def throughput(cfg: PerfConfig, bench: Bench) -> list[ThroughputRow]:
    """Runs per minute at each concurrency."""
    rows = []
    for conc in cfg.throughput_concurrency:
        tasks = max(cfg.throughput_tasks, 2 * conc)
        rate = await bench.throughput(conc, tasks, cfg.throughput_latency_ms)
        rows.append(ThroughputRow(concurrency=conc, tasks=tasks, tasks_per_minute=rate))
    return rows
