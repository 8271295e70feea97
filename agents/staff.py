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

from agents import compact, prompts
from agents.budget import Budget
from agents.effects import SubtaskEffects
from agents.records import Action, Attempt, Step
from agents.registry import Specialist
from agents.settings import AgentSettings
from apps.base import App, Tool
from core.errors import ModelOutputError, StewardError, ToolError
from core.usage import CallRecord
from memory.journal import JournalEntry
from modelclient import prompt_overhead
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
        effects: SubtaskEffects | None = None,
    ) -> None:
        """``effects`` journals every call and keeps failed work's effects from happening
        twice (see ``agents.effects``); without it calls are not journaled."""
        self.specialist = specialist
        self.app = app
        self.model = model
        self.settings = settings or AgentSettings()
        self.budget = budget or Budget()
        self.on_step = on_step
        self.effects = effects
        self.tools = {t.name: t for t in app.tools}
        self.schema = action_schema(
            list(self.tools.values()), max_chars=self.settings.max_arg_chars
        )
        self._validators: dict[str, Draft202012Validator | None] = {}
        self._room: int | None = None
        self.current: Attempt | None = None
        """The attempt in progress (kept by the caller if the attempt is interrupted)."""
        if getattr(model, "prompt_style", "full") == "compact":  # a trained expert
            self.system = compact.staff_system(specialist.name, list(self.tools.values()))
        else:
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
        """Work on the subtask until ``finish``, the step cap, a loop or invalid output.

        With ``effects``, the attempt's number is the journal's (it continues after a resume)
        and the prompt lists what earlier attempts and failed work already did on the app.
        """
        earlier: list[JournalEntry] = []
        if self.effects is not None:
            number = self.effects.begin()
            earlier = self.effects.earlier()
        attempt = Attempt(
            number=number,
            inputs=dict(inputs or {}),
            tips=tips,
            started_at=time.time(),
            carried=[e.id for e in earlier if e.in_effect or e.status == "reused"],
        )
        self.current = attempt
        task = prompts.staff_task(
            instruction,
            attempt.inputs,
            tips,
            expertise,
            self.settings.observation_chars,
            earlier=earlier,
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
        if repeats >= self.settings.max_repeats:
            # refused, never run: the model sees why and may change course; a second refusal
            # in a row ends the attempt
            again = bool(attempt.steps) and attempt.steps[-1].refused
            step = Step(action=action, repeated=True, refused=True, error=_refusal(repeats))
            attempt.steps.append(step)
            self._notify(step)
            if again:
                attempt.status = "loop"
                attempt.result = "stopped: the same action was repeated"
                return True
            return False
        step = await self.aexecute(action)
        step.repeated = repeats > 0
        attempt.steps.append(step)
        self._notify(step)
        return False

    async def query(self, attempt: Attempt, task: str) -> Action | None:
        """Ask the model for the next action; ``None`` if its output never validated."""
        if self._room is None:  # the prompt budget minus what the output format adds
            overhead = await prompt_overhead(self.model, self.schema, "action")
            self._room = max(self.settings.prompt_chars - overhead, prompts.MIN_PROMPT_CHARS)
        messages = prompts.fit(
            [
                ChatMessage(role="system", content=self.system),
                ChatMessage(role="user", content=task),
                *prompts.step_messages(
                    attempt.steps[-self.settings.history_steps :],
                    self.settings.observation_chars,
                ),
            ],
            self._room,
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
        ready = self._begin(action)
        if isinstance(ready, Step):
            return ready
        tool, entry = ready
        start = time.perf_counter()
        try:
            step = Step(action=action, observation=self.app.call(tool.name, action.arguments))
        except Exception as exc:
            step = self._failed(action, tool, exc)
        return self._end(step, entry, start)

    async def aexecute(self, action: Action) -> Step:
        """:meth:`execute` for an app with an ``acall(tool, args)`` coroutine (an MCP server):
        the call is awaited, so a slow one does not hold up the run's other subtasks. Other
        apps go through :meth:`execute`."""
        acall = getattr(self.app, "acall", None)
        if acall is None:
            return self.execute(action)
        ready = self._begin(action)
        if isinstance(ready, Step):
            return ready
        tool, entry = ready
        start = time.perf_counter()
        try:
            step = Step(action=action, observation=await acall(tool.name, action.arguments))
        except Exception as exc:
            step = self._failed(action, tool, exc)
        return self._end(step, entry, start)

    def _begin(self, action: Action) -> Step | tuple[Tool, JournalEntry | None]:
        """A step that ends here (unknown tool, invalid arguments, a call failed work already
        made), or the tool to call and its journaled intent."""
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
        effects = self.effects
        if effects is None:
            return tool, None
        earlier = effects.claim(tool, action.arguments)
        if earlier is not None:  # failed work already did exactly this: not again
            return Step(action=action, observation=earlier.observation, reused=earlier.id)
        return tool, effects.intent(tool, action.arguments)

    def _failed(self, action: Action, tool: Tool, exc: Exception) -> Step:
        if isinstance(exc, ToolError):
            return Step(action=action, error=str(exc))
        # an app bug must not end the run; the model sees it
        log.warning("%s.%s raised %r", self.app.name, tool.name, exc)
        return Step(action=action, error=f"{type(exc).__name__}: {exc}")

    def _end(self, step: Step, entry: JournalEntry | None, start: float) -> Step:
        """Time the call and journal what the app answered."""
        step.latency_s = time.perf_counter() - start
        if self.effects is not None and entry is not None:
            self.effects.done(entry, step.observation, step.error)
            step.action_id = entry.id
        return step

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


def _refusal(repeats: int) -> str:
    return (
        f"refused: this is the same call as your previous {repeats}, so it was not run again. "
        "Read the last observation: if the subtask is done, finish; otherwise call something else."
    )
