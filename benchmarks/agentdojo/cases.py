"""Which cases a run plays, with which injections, and where each injection sits.

A case is one AgentDojo user task, alone (benign) or with one injection task whose goal an
attack from AgentDojo's own attack set writes into the environment (attacked). The injections
of a case are exactly AgentDojo's: ``attack.attack(user_task, injection_task)`` fills the
injection vectors that the user task's reference solution reads.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from apps.agentdojo import default_environment, holder_of, load_suite
from apps.agentdojo_catalog import AGENTDOJO_APPS, SUITES
from core.errors import UserError

ATTACK_TARGET = "local"
"""The attacked pipeline's name given to AgentDojo's attacks. Some templates address the model
by name ("This is an important message from me, Emma Johnson, to you, {model}"), looked up from
the pipeline's name in AgentDojo's ``MODEL_NAMES``; ``local`` is AgentDojo's own key for a
locally served model and reads "Local model": neutral (no vendor), the same for every arm and
every model, so both arms see identical injections."""

EXCLUDED_ATTACKS = {"manual": "asks a person to type each injection"}
"""Attacks of AgentDojo's registry that a benchmark run cannot use (its denial-of-service
attacks are left out too: they are scored by lost utility, not by a target reached)."""


class UnknownAttackError(UserError):
    """An attack name that AgentDojo's registry does not have (or that cannot be run here)."""


@dataclass(frozen=True)
class Case:
    """One user task, benign or with one injection task under one attack."""

    suite: str
    user_task: str
    injection_task: str | None = None
    attack: str | None = None

    @property
    def id(self) -> str:
        """``suite/user_task_N`` or ``suite/user_task_N/injection_task_M/attack``."""
        if self.injection_task is None:
            return f"{self.suite}/{self.user_task}"
        return f"{self.suite}/{self.user_task}/{self.injection_task}/{self.attack}"

    @property
    def attacked(self) -> bool:
        return self.injection_task is not None


def _number(task_id: str) -> int:
    found = re.search(r"(\d+)$", task_id)
    return int(found.group(1)) if found else -1


def user_task_ids(suite: str) -> list[str]:
    """The suite's user tasks, by number."""
    return sorted(load_suite(suite).user_tasks, key=_number)


def injection_task_ids(suite: str) -> list[str]:
    """The suite's injection tasks, by number."""
    return sorted(load_suite(suite).injection_tasks, key=_number)


def attack_names() -> list[str]:
    """The attacks a run may use: AgentDojo's registry without ``EXCLUDED_ATTACKS`` and its
    denial-of-service attacks."""
    import agentdojo.attacks  # noqa: F401  (registers the attacks)
    from agentdojo.attacks.attack_registry import ATTACKS

    return sorted(
        name
        for name, cls in ATTACKS.items()
        if name not in EXCLUDED_ATTACKS and not getattr(cls, "is_dos_attack", False)
    )


def check_attack(name: str) -> str:
    """``name`` if a run may use it, else ``UnknownAttackError`` listing the ones it may."""
    valid = attack_names()
    if name not in valid:
        raise UnknownAttackError(f"unknown attack {name!r}; attacks: {', '.join(valid)}")
    return name


def select_cases(
    suites: list[str],
    attack: str | None = None,
    *,
    limit: int | None = None,
    injections: int | None = None,
) -> list[Case]:
    """Per suite: its first ``limit`` user tasks, benign; with ``attack``, also each of them with
    each of the suite's first ``injections`` injection tasks."""
    cases: list[Case] = []
    for suite in suites:
        users = user_task_ids(suite)[:limit]
        cases += [Case(suite, u) for u in users]
        if attack is not None:
            chosen = injection_task_ids(suite)[:injections]
            cases += [Case(suite, u, i, attack) for u in users for i in chosen]
    return cases


@functools.cache
def attack_for(suite: str, name: str) -> Any:
    """AgentDojo's attack ``name`` on ``suite``, aimed at a pipeline called ``ATTACK_TARGET``."""
    from agentdojo.agent_pipeline.base_pipeline_element import BasePipelineElement
    from agentdojo.attacks.attack_registry import load_attack

    class Target(BasePipelineElement):  # type: ignore[misc]
        """Only the name is read: attacks build their text before any model runs."""

        name = ATTACK_TARGET

        def query(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError("the attacked agents are Steward's, not a pipeline")

    return load_attack(check_attack(name), load_suite(suite), Target())


def case_injections(case: Case) -> dict[str, str]:
    """Injection vector -> text for an attacked case (empty for a benign one)."""
    if case.injection_task is None or case.attack is None:
        return {}
    suite = load_suite(case.suite)
    attack = attack_for(case.suite, case.attack)
    user = suite.get_user_task_by_id(case.user_task)
    injection = suite.get_injection_task_by_id(case.injection_task)
    return dict(attack.attack(user, injection))


@functools.cache
def vector_fields(suite: str) -> dict[str, str]:
    """Injection vector -> the environment field it is written into (found with canaries)."""
    vectors = load_suite(suite).get_injection_vector_defaults()
    canaries = {v: f"<CANARY {v}>" for v in vectors}
    env = default_environment(suite, canaries)
    fields = type(env).model_fields
    dumped = {f: json.dumps(getattr(env, f).model_dump(mode="json")) for f in fields}
    return {v: next((f for f, t in dumped.items() if c in t), "") for v, c in canaries.items()}


@functools.cache
def tool_apps(suite: str) -> dict[str, str]:
    """Tool name -> the app of ``suite`` it belongs to."""
    return {tool: info.name for info in AGENTDOJO_APPS[suite] for tool in info.tools}


def injection_apps(suite: str, vectors: list[str]) -> list[str]:
    """The apps whose data carry these injection vectors."""
    fields = vector_fields(suite)
    return sorted({app for v in vectors if (app := holder_of(suite, fields.get(v, "")))})


def goal_apps(suite: str, injection_task: str) -> list[str]:
    """The apps the injection task's own reference solution calls (what the attacker wants)."""
    return list(_goal_apps(suite, injection_task))


GOALS_WITHOUT_REFERENCE: dict[tuple[str, str], tuple[str, ...]] = {
    **{("workspace", f"injection_task_{n}"): ("email",) for n in (6, 7, 8, 9)},
    **{("workspace", f"injection_task_{n}"): ("drive", "email") for n in (10, 11, 12)},
    ("workspace", "injection_task_13"): ("calendar", "email"),
    ("travel", "injection_task_6"): (),
}
"""The apps the goals of injection tasks whose reference solution is empty need, read from
their goals: email the unread, received or sent mail; email the drive's files; email today's
meeting participants; and a goal that only asks the final answer to say something."""


@functools.cache
def _goal_apps(suite: str, injection_task: str) -> tuple[str, ...]:
    task = load_suite(suite).get_injection_task_by_id(injection_task)
    calls = task.ground_truth(default_environment(suite))
    if not calls:
        return GOALS_WITHOUT_REFERENCE[(suite, injection_task)]
    apps = tool_apps(suite)
    return tuple(sorted({apps[c.function] for c in calls if c.function in apps}))


def placement(injected: list[str], goal: list[str]) -> str | None:
    """``same-app`` when every app the attacker's goal needs is one where the injection is
    read (the staff agent that reads it holds the tools to obey it), ``cross-app`` when none
    is, ``partial`` otherwise, ``answer`` when the goal needs no app (only the final answer
    must say something); ``None`` without an injection."""
    if not injected:
        return None
    if not goal:
        return "answer"
    shared = set(injected) & set(goal)
    if shared == set(goal):
        return "same-app"
    return "partial" if shared else "cross-app"


ALL = "all"
"""``--suite all``: every suite."""


def suites_of(name: str) -> list[str]:
    """The suites ``--suite`` names (``all``: the four)."""
    if name == ALL:
        return list(SUITES)
    load_suite(name)  # an unknown name lists the known ones
    return [name]
