"""Performance benchmarks: orchestration overhead, parallel dispatch, scale and throughput,
measured against a local OpenAI-compatible stub beside bare LangGraph baselines."""

from benchmarks.perf.config import PerfConfig, PerfReport
from benchmarks.perf.report import render, run_perf

__all__ = ["PerfConfig", "PerfReport", "render", "run_perf"]
