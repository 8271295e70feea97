"""What ``steward bench perf`` measures (``PerfConfig``) and reports (``PerfReport``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PerfConfig(BaseModel):
    """Sizes of the perf bench; the defaults are the reported ones (about 90 s)."""

    model_config = ConfigDict(extra="forbid")

    repeats: int = Field(default=7, ge=1)
    """Runs per overhead figure (the median is reported), after one warm-up run."""
    overhead_subtasks: int = Field(default=8, ge=1)
    """Subtasks of the chain whose overhead per call is measured."""
    overhead_latencies_ms: list[float] = Field(default_factory=lambda: [0.0, 50.0])
    """Model latencies at which overhead is measured."""
    parallel_subtasks: int = Field(default=8, ge=1)
    """Subtasks of the fan-out and of the chain timed against their critical path."""
    parallel_latency_ms: float = 200.0
    """Model latency of the parallel-dispatch runs."""
    parallel_repeats: int = Field(default=3, ge=1)
    """Fan-out runs per figure (median), after a warm-up; the chain runs once."""
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
            parallel_repeats=1,
            wide_fanout=4,
            scale_sizes=[1, 2, 4],
            throughput_concurrency=[1, 2],
            throughput_tasks=2,
            throughput_latency_ms=5.0,
        )


class ScaleRow(BaseModel):
    """One plan size of the scale table."""

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
    """Runs finished per minute with ``concurrency`` runs at once."""

    concurrency: int
    tasks: int
    tasks_per_minute: float


class PerfReport(BaseModel):
    """What ``steward bench perf --json`` prints."""

    overhead_ms_per_call: dict[str, float]
    """Steward wall time not spent in the model or the apps, per model call, by model latency."""
    bare_overhead_ms_per_call: dict[str, float]
    """The same for a bare LangGraph loop sending the steward's requests with the same client."""
    overhead_ratio_vs_langgraph: float
    """Steward / bare loop overhead per call at 0 ms latency (goal: at most 1.25)."""
    overhead_ratio_by_latency: dict[str, float]
    overhead_ratio_of_best_runs: dict[str, float]
    """Steward / bare of the fastest of the repeats (the least disturbed by other processes)."""
    cpu_ms_per_call: dict[str, float]
    """CPU time of this process per model call at 0 ms: ``steward`` and ``bare`` (a check on
    the wall-time figures when the machine is busy)."""
    overhead_share_at_50ms: float | None
    """Share of the steward's wall time that is overhead at 50 ms per call."""
    calls_per_run: int
    parallel_ratio: dict[str, float]
    """Wall time / critical-path time of the steward: ``fanout``, ``chain`` and ``uneven`` (a
    two-subtask chain beside one subtask four times as long)."""
    bare_parallel_ratio: dict[str, float]
    wide_fanout: dict[str, float]
    scale: list[ScaleRow]
    scale_slope_ms_per_subtask: float
    """Change of the overhead per subtask for each subtask added to the plan."""
    checkpoint_growth_exponent: float
    """Exponent b in checkpoint bytes ~ subtasks^b (1: linear, 2: quadratic). Each finished
    step is one checkpointed task result, so a run has one checkpoint and its writes."""
    throughput: list[ThroughputRow]
    goals: dict[str, bool]
    environment: dict[str, Any]
    config: PerfConfig
