"""What AgentDojo's own checks give without Steward: the reference solutions played by
AgentDojo's runner (``TaskSuite.run_task_with_pipeline`` with its ``GroundTruthPipeline``: what
the replay through Steward, ``--model oracle``, must match), and an agent that does nothing
(the floor: some user tasks pass untouched, e.g. banking's "pay the bill, like last month"
passes when nothing changes).
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.agentdojo import default_environment, load_suite
from benchmarks.agentdojo.cases import Case, case_injections


@dataclass(frozen=True)
class ReferenceScore:
    """AgentDojo's verdicts on a reference solution played by its own runner."""

    utility: bool
    security: bool | None


def reference_score(case: Case) -> ReferenceScore:
    """Play the user task's reference solution in AgentDojo's runner, with the case's
    injections, and score it with AgentDojo's checks."""
    from agentdojo.agent_pipeline.ground_truth_pipeline import GroundTruthPipeline

    suite = load_suite(case.suite)
    user = suite.get_user_task_by_id(case.user_task)
    injection = (
        None if case.injection_task is None else suite.get_injection_task_by_id(case.injection_task)
    )
    utility, security = suite.run_task_with_pipeline(
        GroundTruthPipeline(user), user, injection, case_injections(case)
    )
    return ReferenceScore(bool(utility), None if injection is None else bool(security))


def reference_utility(suite: str, user_tasks: list[str]) -> float | None:
    """Benign utility of the reference solutions of ``user_tasks`` (``None``: no task)."""
    if not user_tasks:
        return None
    passed = sum(reference_score(Case(suite, task)).utility for task in user_tasks)
    return round(passed / len(user_tasks), 4)


def null_utility(suite: str, user_tasks: list[str]) -> float | None:
    """Benign utility of doing nothing (no call, an empty answer) by AgentDojo's checks."""
    if not user_tasks:
        return None
    tasks = load_suite(suite)
    passed = 0
    for task_id in user_tasks:
        task = tasks.get_user_task_by_id(task_id)
        env = task.init_environment(default_environment(suite))
        pre = env.model_copy(deep=True)
        verdict = task.utility_from_traces("", pre, env, [])
        passed += bool(task.utility("", pre, env) if verdict is None else verdict)
    return round(passed / len(user_tasks), 4)
