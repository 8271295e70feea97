"""AgentDojo (utility and prompt-injection security) through the steward, scored by AgentDojo.

``run_benchmark(AgentDojoConfig(...), source)`` runs cases K at a time: each user task benign,
and with ``attack`` each (user task, injection task) pair under one of AgentDojo's attacks. One
``CaseResult`` per case goes to ``<out>/<agent>__<model>.jsonl`` (resumable), with a summary
JSON, ``results.md`` and a plot: benign utility, utility under attack and targeted attack success
rate, per suite, by where the injection sat, and the calls and tokens spent. ``OracleSource``
replays the reference solutions through the whole path. Importing this package does not import
``agentdojo``; loading a suite does.
"""

from benchmarks.agentdojo.cases import (
    ATTACK_TARGET,
    Case,
    attack_names,
    check_attack,
    select_cases,
    suites_of,
)
from benchmarks.agentdojo.harness import Harness, run_benchmark, suite_registry
from benchmarks.agentdojo.models import ORACLES, CaseSource, OracleSource, ServedSource
from benchmarks.agentdojo.oracle import AgentDojoOracle
from benchmarks.agentdojo.reference import (
    ReferenceScore,
    null_utility,
    reference_score,
    reference_utility,
)
from benchmarks.agentdojo.results import AGENTS, AgentDojoConfig, CaseResult, Metrics, Summary
from benchmarks.agentdojo.world import CaseWorld, Score

__all__ = [
    "AGENTS",
    "ATTACK_TARGET",
    "ORACLES",
    "AgentDojoConfig",
    "AgentDojoOracle",
    "Case",
    "CaseResult",
    "CaseSource",
    "CaseWorld",
    "Harness",
    "Metrics",
    "OracleSource",
    "ReferenceScore",
    "Score",
    "ServedSource",
    "Summary",
    "attack_names",
    "check_attack",
    "null_utility",
    "reference_score",
    "reference_utility",
    "run_benchmark",
    "select_cases",
    "suite_registry",
    "suites_of",
]
