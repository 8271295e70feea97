"""Carrying out a staff agent's action on its app (``StaffAgent`` inherits it).

The tool name is checked against the app's tools and the arguments are validated against the
tool's JSON Schema before the app sees them. With ``effects`` every call is journaled (intent,
then what the app answered) and a call that failed work already made is not made again (see
``agents.effects``). A call that needs a person's approval is journaled as a proposal and
raises :class:`agents.effects.ApprovalPending`, or is refused at once under the ``deny``
policy; once decided, :meth:`ActionExecution._decided` makes the step of the approved (or
edited) call, or of the denied one.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from jsonschema import Draft202012Validator

from agents.effects import ApprovalPending, SubtaskEffects, denial
from agents.records import Action, ApprovalMark, Step
from agents.registry import Specialist
from agents.schemas import argument_problems, validator_for
from agents.settings import ApprovalSettings
from apps.base import App, Tool
from core.errors import ToolError
from memory.journal import JournalEntry

log = logging.getLogger("steward.agents")


class ActionExecution:
    """``execute`` / ``aexecute`` and the approval steps; the attributes are set by
    ``StaffAgent``."""

    specialist: Specialist
    app: App
    tools: dict[str, Tool]
    effects: SubtaskEffects | None
    approval: ApprovalSettings | None
    _validators: dict[str, Draft202012Validator | None]

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
        if getattr(self.app, "acall", None) is None:
            return self.execute(action)
        ready = self._begin(action)
        if isinstance(ready, Step):
            return ready
        return await self._call(action, *ready)

    async def _call(self, action: Action, tool: Tool, entry: JournalEntry | None) -> Step:
        """Call the app (awaiting its ``acall`` if it has one) and journal what it answered."""
        acall = getattr(self.app, "acall", None)
        start = time.perf_counter()
        try:
            if acall is not None:
                observation = await acall(tool.name, action.arguments)
            else:
                observation = self.app.call(tool.name, action.arguments)
            step = Step(action=action, observation=observation)
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
        approval = self.approval
        if (
            approval is not None
            and approval.policy != "auto"
            and approval.covers(self.specialist.token, self.specialist.name, tool)
        ):
            entry = effects.gate(tool, action.arguments, deny=approval.policy == "deny")
            if entry.status == "proposed":
                raise ApprovalPending(entry)
            return _denied(action, entry)
        return tool, effects.intent(tool, action.arguments)

    async def _decided(self, waiting: Step) -> Step:
        """The step of a call that waited for approval, now that it is decided (see
        :meth:`agents.staff.StaffAgent.resume`)."""
        assert self.effects is not None and waiting.action_id is not None
        entry = self.effects.journal.entries[waiting.action_id]
        approval = entry.approval
        policy = self.approval.policy if self.approval is not None else "auto"
        if entry.status == "proposed" and policy != "ask":  # the policy changed since
            entry = self.effects.decide_by_policy(entry, approve=policy == "auto")
        if entry.status == "proposed":
            raise ApprovalPending(entry)
        if entry.status == "denied":
            return _denied(waiting.action, entry)
        edited = approval is not None and entry.arguments != approval.proposed
        action = waiting.action.model_copy(update={"arguments": dict(entry.arguments)})
        mark: ApprovalMark = "edited" if edited else "approved"
        if entry.status == "done":  # it ran before a crash, and its result is kept
            return Step(action=action, observation=entry.observation, error=entry.error,
                        action_id=entry.id, approval=mark)  # fmt: skip
        step = await self._call(action, self.tools[entry.tool], self.effects.run_approved(entry))
        step.approval = mark
        return step

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
            self._validators[tool.name] = validator_for(tool)
        return argument_problems(self._validators[tool.name], arguments)


def _denied(action: Action, entry: JournalEntry) -> Step:
    """The step of a call that was denied: not run; the agent is told why."""
    return Step(action=action, error=denial(entry), action_id=entry.id, approval="denied")
