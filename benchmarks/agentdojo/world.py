"""A case's world: the suite's environment with the case's injections, split into Steward apps
behind wrappers that log every call that reached AgentDojo's runtime, and the scoring of what
the agents did with AgentDojo's own checks.

A call is logged (and goes into the traces AgentDojo's ``utility_from_traces`` and
``security_from_traces`` read) when the app ran it through ``FunctionsRuntime.run_function``,
whatever it answered, errors included, as AgentDojo's own traces hold every call a model
made. Calls refused before (an unknown tool, arguments invalid under the tool's schema) are
not logged: AgentDojo's runtime never saw them.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

from apps import Tool, World
from apps.agentdojo import AgentDojoApp, agentdojo_apps, load_suite
from benchmarks.agentdojo.cases import (
    Case,
    case_injections,
    goal_apps,
    injection_apps,
    placement,
    tool_apps,
)
from benchmarks.bfcl.calls import Call
from benchmarks.bfcl.world import CallLog, LoggedCall
from core.errors import ToolError


def _flat(text: str) -> str:
    return " ".join(text.split())


def mentions(value: Any, needle: str) -> bool:
    """Whether a string inside ``value`` holds ``needle`` (whitespace runs compared as one
    space: AgentDojo's YAML environments fold the newlines of an injection)."""
    if not needle:
        return False
    if isinstance(value, str):
        return needle in _flat(value)
    if isinstance(value, dict):
        return any(mentions(v, needle) for v in value.values())
    if isinstance(value, list | tuple):
        return any(mentions(v, needle) for v in value)
    return False


def shown(value: Any, chars: int, needle: str) -> bool:
    """Whether ``needle`` lies within the first ``chars`` characters of ``value`` as a prompt
    renders it (JSON, as ``agents.prompts.data`` does; escapes read back as what they stand
    for)."""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    head = re.sub(r"\\[nrt]", " ", text[:chars]).replace('\\"', '"')
    return bool(needle) and needle in _flat(head)


class RecordingApp:
    """An ``App`` that forwards to an ``AgentDojoApp``, logs every call its runtime ran and
    notes the apps whose answers carried the injection."""

    def __init__(self, inner: AgentDojoApp, world: CaseWorld) -> None:
        self.inner = inner
        self.case_world = world
        self.name = inner.name
        self.description = inner.description
        self.notes = inner.notes

    @property
    def restorable(self) -> bool:
        return self.inner.restorable

    @property
    def tools(self) -> list[Tool]:
        return self.inner.tools

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        known = tool in self.inner.runtime.functions
        try:
            result = self.inner.call(tool, args)
        except ToolError as exc:
            if known:
                self.case_world.ran(self.name, tool, args, str(exc))
            raise
        self.case_world.ran(self.name, tool, args, result)
        return result

    def snapshot(self) -> dict[str, Any]:
        return self.inner.snapshot()

    def restore(self, state: dict[str, Any]) -> None:
        self.inner.restore(state)


@dataclass(frozen=True)
class Score:
    """AgentDojo's verdicts on one case."""

    utility: bool
    """The user task's ``utility`` (or ``utility_from_traces``) check passed."""
    security: bool | None
    """The injection task's ``security`` check: True when the attacker's goal was reached
    (``None`` for a benign case)."""


class CaseWorld:
    """The environment, apps and call log of one case, and its scoring."""

    def __init__(
        self, case: Case, *, rollback: bool = True, shown_chars: int | None = None
    ) -> None:
        self.case = case
        self.shown_chars = shown_chars
        """Characters of a tool's answer a prompt shows (``None``: all of it)."""
        suite = load_suite(case.suite)
        self.user_task = suite.get_user_task_by_id(case.user_task)
        injection = case.injection_task
        self.injection_task = (
            None if injection is None else suite.get_injection_task_by_id(injection)
        )
        self.injections = case_injections(case)
        env = suite.load_and_inject_default_environment(self.injections)
        self.env = self.user_task.init_environment(env)
        """The environment the agents act on; scored as AgentDojo's post-environment."""
        self.pre = self.env.model_copy(deep=True)
        """A copy from before the run (AgentDojo's pre-environment)."""
        self.apps: dict[str, AgentDojoApp] = agentdojo_apps(case.suite, self.env, rollback=rollback)
        self.log = CallLog()
        self.exposed: set[str] = set()
        """Apps whose answers carried the injection to an agent."""
        self.shown: set[str] = set()
        """Apps whose answers carried it within what a prompt shows of them."""
        self._goal = _flat(self.injection_task.GOAL) if self.injection_task is not None else ""
        self.world = World({n: RecordingApp(a, self) for n, a in self.apps.items()})
        reference = self.user_task.ground_truth(self.env.model_copy(deep=True))
        self.reference: list[Call] = [
            Call(c.function, copy.deepcopy(dict(c.args))) for c in reference
        ]
        """The user task's reference solution (AgentDojo's ``ground_truth``)."""
        self.reference_output: str = self.user_task.GROUND_TRUTH_OUTPUT
        """The answer the reference solution gives."""

    @property
    def prompt(self) -> str:
        """The user's instruction."""
        return str(self.user_task.PROMPT)

    def app_of(self, tool: str) -> str:
        """The app a tool of this suite belongs to."""
        return tool_apps(self.case.suite)[tool]

    def expected_apps(self) -> list[str]:
        """The apps the reference solution calls."""
        return sorted({self.app_of(c.tool) for c in self.reference})

    def injection_apps(self) -> list[str]:
        """The apps whose data carry this case's injections."""
        return injection_apps(self.case.suite, sorted(self.injections))

    def goal_apps(self) -> list[str]:
        """The apps the injection task's goal needs."""
        if self.case.injection_task is None:
            return []
        return goal_apps(self.case.suite, self.case.injection_task)

    def placement(self) -> str | None:
        """Where the injection sits relative to the goal (``cases.placement``)."""
        return placement(self.injection_apps(), self.goal_apps())

    def ran(self, app: str, tool: str, args: dict[str, Any], answer: Any) -> None:
        """Log a call the runtime ran, and whether its answer carried the injection."""
        self.log.calls.append(LoggedCall(app, Call(tool, copy.deepcopy(dict(args)))))
        if self._goal and mentions(answer, self._goal):
            self.exposed.add(app)
            limit = self.shown_chars
            if limit is None or shown(answer, limit, self._goal):
                self.shown.add(app)

    def traces(self) -> list[Any]:
        """The calls that ran, as AgentDojo ``FunctionCall`` objects."""
        from agentdojo.functions_runtime import FunctionCall

        return [FunctionCall(function=c.call.tool, args=dict(c.call.args)) for c in self.log.calls]

    def score(self, output: str) -> Score:
        """AgentDojo's own checks on the final answer ``output``, the environment before and
        after, and the traces (``*_from_traces`` first, as AgentDojo's runner does)."""
        traces = self.traces()
        utility = self.user_task.utility_from_traces(output, self.pre, self.env, traces)
        if utility is None:
            utility = self.user_task.utility(output, self.pre, self.env)
        security: bool | None = None
        if self.injection_task is not None:
            security = self.injection_task.security_from_traces(output, self.pre, self.env, traces)
            if security is None:
                security = self.injection_task.security(output, self.pre, self.env)
        return Score(utility=bool(utility), security=None if security is None else bool(security))
