"""StaffAgent: Assigned Execution on one app.

``attempt()`` -> ``step()`` -> ``query()`` / ``execute()``, each overridable. The tool name is
constrained to the app's tools by the action schema and checked again in code; arguments are
validated against the tool's JSON Schema before the app sees them. Nothing a model writes is
executed as code.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import ValidationError

from agents import prompts
from agents.budget import Budget
from agents.records import Action, Attempt, Step
from agents.registry import Specialist
from agents.settings import AgentSettings
from apps.base import App, Tool
from core.errors import ModelOutputError, StewardError, ToolError
from core.usage import CallRecord
from modelclient.base import ChatMessage, Model

log = logging.getLogger("steward.agents")

FINISH = "finish"
StepCallback = Callable[[Step], None]


def action_schema(tools: list[Tool], *, max_chars: int | None = None) -> dict[str, Any]:
    """JSON Schema of one action: one variant per tool (its name as a constant and its own
    argument schema) plus ``finish``. Under constrained decoding the model can only name a tool
    of this app, with arguments of the right shape; string lengths are capped so a weak model
    cannot ramble until the token limit."""
    thought = {"type": "string", "maxLength": 60}
    variants: list[dict[str, Any]] = [
        {
            "type": "object",
            "properties": {
                "thought": thought,
                "tool": {"const": t.name},
                "arguments": (
                    bounded(t.parameters or {"type": "object"}, max_chars)
                    if max_chars is not None
                    else t.parameters or {"type": "object"}
                ),
            },
            "required": ["thought", "tool", "arguments"],
            "additionalProperties": False,
        }
        for t in tools
    ]
    variants.append(
        {
            "type": "object",
            "properties": {
                "thought": thought,
                "tool": {"const": FINISH},
                "result": {"type": "string", "maxLength": 400},
            },
            "required": ["thought", "tool", "result"],
            "additionalProperties": False,
        }
    )
    return {"anyOf": variants}


MAX_ITEMS = 20


def bounded(schema: Any, max_chars: int = 160) -> Any:
    """A copy of a tool's argument schema with every string and array given a length cap, so
    constrained decoding cannot run to the token limit inside one value. Values that fit the
    caps validate exactly as before."""
    if isinstance(schema, list):
        return [bounded(item, max_chars) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: bounded(value, max_chars) for key, value in schema.items()}
    declared = out.get("type")  # may also be a property that happens to be named "type"
    kinds = (
        {declared}
        if isinstance(declared, str)
        else set(declared)
        if isinstance(declared, list) and all(isinstance(k, str) for k in declared)
        else set()
    )
    if "string" in kinds and "maxLength" not in out and "enum" not in out:
        out["maxLength"] = max_chars
    if "array" in kinds and "maxItems" not in out:
        out["maxItems"] = MAX_ITEMS
    return out


class StaffAgent:
    """An app-specialised agent: knows one app's tools, notes and expertise."""

    def __init__(
        self,
        specialist: Specialist,
        app: App,
        model: Model,
        settings: AgentSettings | None = None,
        *,
        budget: Budget | None = None,
        on_step: StepCallback | None = None,
    ) -> None:
        self.specialist = specialist
        self.app = app
        self.model = model
        self.settings = settings or AgentSettings()
        self.budget = budget or Budget()
        self.on_step = on_step
        self.tools = {t.name: t for t in app.tools}
        self.schema = action_schema(
            list(self.tools.values()), max_chars=self.settings.max_arg_chars
        )
        self._validators: dict[str, Draft202012Validator | None] = {}
        self.current: Attempt | None = None
        """The attempt in progress (kept by the caller if the attempt is interrupted)."""
        self.system = prompts.staff_system(
            specialist.name, specialist.description, specialist.notes, list(self.tools.values())
        )

    async def attempt(
        self,
        instruction: str,
        *,
        number: int = 1,
        inputs: Mapping[str, str] | None = None,
        tips: str = "",
        expertise: str = "",
    ) -> Attempt:
        """Work on the subtask until ``finish``, the step cap, a loop or invalid output."""
        attempt = Attempt(
            number=number, inputs=dict(inputs or {}), tips=tips, started_at=time.time()
        )
        self.current = attempt
        task = prompts.staff_task(
            instruction, attempt.inputs, tips, expertise, self.settings.observation_chars
        )
        try:
            for _ in range(self.settings.max_steps):
                done = await self.step(attempt, task)
                if done:
                    break
            else:
                attempt.status = "step_cap"
        finally:
            attempt.ended_at = time.time()
        return attempt

    async def step(self, attempt: Attempt, task: str) -> bool:
        """One action; returns True when the attempt is over."""
        action = await self.query(attempt, task)
        if action is None:
            attempt.status = "model_error"
            return True
        previous = [s.action for s in attempt.steps if s.action.tool != FINISH]
        if action.tool == FINISH:
            attempt.result = action.result or action.thought
            step = Step(action=action)
            attempt.steps.append(step)
            self._notify(step)
            attempt.status = "finished"
            return True
        repeats = 0
        for prior in reversed(previous):
            if (prior.tool, prior.arguments) != (action.tool, action.arguments):
                break
            repeats += 1
        step = self.execute(action)
        step.repeated = repeats > 0
        attempt.steps.append(step)
        self._notify(step)
        if repeats >= self.settings.max_repeats:
            attempt.status = "loop"
            attempt.result = "stopped: the same action was repeated"
            return True
        return False

    async def query(self, attempt: Attempt, task: str) -> Action | None:
        """Ask the model for the next action; ``None`` if its output never validated."""
        messages = prompts.fit(
            [
                ChatMessage(role="system", content=self.system),
                ChatMessage(role="user", content=task),
                *prompts.step_messages(
                    attempt.steps[-self.settings.history_steps :],
                    self.settings.observation_chars,
                ),
            ],
            self.settings.prompt_chars,
        )
        self.budget.check()
        try:
            completion = await self.model.complete(
                messages,
                schema=self.schema,
                schema_name="action",
                role=self.specialist.token,
                purpose="act",
            )
        except StewardError as exc:
            if isinstance(exc.record, CallRecord):  # the failed call stays in the record
                attempt.calls.append(exc.record)
                self.budget.charge(exc.record.usage)
            if not isinstance(exc, ModelOutputError):
                raise  # the server is unreachable or misconfigured: the run stops
            log.info("%s: model output never validated: %s", self.specialist.token, exc)
            return None
        attempt.calls.append(completion.record)
        self.budget.charge(completion.record.usage)
        try:
            return Action.model_validate(completion.data)
        except ValidationError:
            return None

    def execute(self, action: Action) -> Step:
        """Validate the arguments and call the app; errors become the step's ``error``."""
        tool = self.tools.get(action.tool)
        if tool is None:
            return Step(action=action, error=f"unknown tool {action.tool!r}")
        problems = self._validate(tool, action.arguments)
        if problems:
            return Step(
                action=action,
                error=f"invalid arguments for {tool.name}: {problems}. "
                f"Schema: {json.dumps(tool.parameters.get('properties', {}))[:400]}",
            )
        start = time.perf_counter()
        try:
            observation = self.app.call(tool.name, action.arguments)
            return Step(
                action=action, observation=observation, latency_s=time.perf_counter() - start
            )
        except ToolError as exc:
            return Step(action=action, error=str(exc), latency_s=time.perf_counter() - start)
        except Exception as exc:  # an app bug must not end the run; the model sees it
            log.warning("%s.%s raised %r", self.app.name, tool.name, exc)
            return Step(
                action=action,
                error=f"{type(exc).__name__}: {exc}",
                latency_s=time.perf_counter() - start,
            )

    def _validate(self, tool: Tool, arguments: dict[str, Any]) -> str:
        if tool.name not in self._validators:
            try:
                self._validators[tool.name] = Draft202012Validator(tool.parameters)
            except SchemaError:
                self._validators[tool.name] = None
        validator = self._validators[tool.name]
        if validator is None:
            return ""
        errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))
        return "; ".join(
            f"{'/'.join(map(str, e.path)) or 'arguments'}: {e.message}" for e in errors[:3]
        )

    def _notify(self, step: Step) -> None:
        if self.on_step is not None:
            self.on_step(step)
