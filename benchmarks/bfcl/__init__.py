"""BFCL v4 multi-turn through the steward, scored by the package's own checker.

``run_benchmark(BenchConfig(...), model_source(...))`` runs tasks K at a time, appends one
``TaskResult`` per task to ``<out>/<key>.jsonl`` (resumable) and writes a summary JSON, a
Markdown table and plots. ``--model oracle`` replays the ground truth through the whole path.
"""

from benchmarks.bfcl.calls import Call, CallFormatError, CallParseError, format_call, parse_call
from benchmarks.bfcl.data import CATEGORIES, KNOWN_GT_DEFECTS, BfclTask, load_tasks
from benchmarks.bfcl.harness import Harness, run_benchmark
from benchmarks.bfcl.models import (
    ORACLE,
    ORACLE_BROKEN,
    TEACHER,
    OracleSource,
    PoolSource,
    model_source,
)
from benchmarks.bfcl.oracle import OracleModels
from benchmarks.bfcl.results import AGENTS, BenchConfig, Summary, TaskResult, Totals, TurnResult
from benchmarks.bfcl.score import Score, score_task

__all__ = [
    "AGENTS",
    "CATEGORIES",
    "KNOWN_GT_DEFECTS",
    "ORACLE",
    "ORACLE_BROKEN",
    "TEACHER",
    "BenchConfig",
    "BfclTask",
    "Call",
    "CallFormatError",
    "CallParseError",
    "Harness",
    "OracleModels",
    "OracleSource",
    "PoolSource",
    "Score",
    "Summary",
    "TaskResult",
    "Totals",
    "TurnResult",
    "format_call",
    "load_tasks",
    "model_source",
    "parse_call",
    "run_benchmark",
    "score_task",
]
