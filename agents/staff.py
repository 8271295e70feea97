"""StaffAgent: Assigned Execution on one app.

``attempt()`` -> ``step()`` -> ``query()`` / ``execute()``, each overridable. The tool name is
constrained to the app's tools by the action schema and checked again in code; arguments are
validated against the tool's JSON Schema before the app sees them (``execute`` and the rest of
carrying out an action: ``agents.execution``). Nothing a model writes is executed as code.

A call that needs a person's approval (``agents.settings.ApprovalSettings``) is journaled as a
proposal and the attempt stops before it (:class:`agents.effects.ApprovalPending`, with the
step marked ``pending``); :meth:`StaffAgent.resume` later goes on from that very step with the
decision, without asking the model again for what it already proposed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from jsonschema import Draft202012Validator
from pydantic import ValidationError

from agents import compact, prompts
from agents.budget import Budget
from agents.effects import ApprovalPending, SubtaskEffects
from agents.execution import ActionExecution
from agents.records import Action, Attempt, Step
from agents.registry import Specialist
from agents.schemas import FINISH, MAX_ITEMS, action_schema, bounded
from agents.settings import AgentSettings, ApprovalSettings
from apps.base import App
from core.errors import ModelOutputError, StewardError
from core.usage import CallRecord
from memory.journal import JournalEntry
from modelclient import prompt_overhead
from modelclient.base import ChatMessage, Model

log = logging.getLogger("steward.agents")

StepCallback = Callable[[Step], None]
__all__ = ["FINISH", "MAX_ITEMS", "StaffAgent", "StepCallback", "action_schema", "bounded"]


class StaffAgent(ActionExecution):
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
        approval: ApprovalSettings | None = None,
    ) -> None:
        """``effects`` journals every call and keeps failed work's effects from happening
        twice (see ``agents.effects``); without it calls are not journaled. ``approval`` says
        which calls need a person's approval (default: none); asking or denying needs
        ``effects``, where proposals and decisions are kept."""
        if approval is not None and approval.policy != "auto" and effects is None:
            raise ValueError("approval policies other than 'auto' need effects (the journal)")
        self.specialist = specialist
        self.app = app
        self.model = model
        self.settings = settings or AgentSettings()
        self.budget = budget or Budget()
        self.on_step = on_step
        self.effects = effects
        self.approval = approval
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
        task = self._task(instruction, attempt, tips, expertise, earlier)
        return await self._steps(attempt, task)

    def _task(
        self,
        instruction: str,
        attempt: Attempt,
        tips: str,
        expertise: str,
        earlier: list[JournalEntry],
    ) -> str:
        """The subtask's opening prompt for ``attempt`` (what earlier attempts left in effect
        included)."""
        return prompts.staff_task(
            instruction,
            attempt.inputs,
            tips,
            expertise,
            self.settings.observation_chars,
            earlier=earlier,
        )

    async def resume(
        self, attempt: Attempt, instruction: str, *, tips: str = "", expertise: str = ""
    ) -> Attempt:
        """Go on with ``attempt``, which stopped at a call waiting for approval (its last step,
        marked ``pending``): the call runs if approved (with the approved arguments), the
        agent is told ``denied by the user: REASON`` if denied, and the attempt continues
        with the steps it has left. Still undecided: :class:`ApprovalPending` again, and no
        model call. Needs ``effects`` (the journal holds the decision)."""
        if self.effects is None:
            raise ValueError("resuming an attempt needs effects (the journal)")
        self.effects.resume(attempt.number)
        earlier = [e for e in self.effects.earlier() if e.attempt < attempt.number]
        self.current = attempt
        attempt.status = "finished"
        attempt.ended_at = 0.0
        task = self._task(instruction, attempt, tips, expertise, earlier)
        waiting = attempt.steps[-1]  # stays ``pending`` in the record until its call ended
        try:
            step = await self._decided(waiting)
        except ApprovalPending:
            attempt.status = "waiting"
            attempt.ended_at = time.time()
            raise
        attempt.steps[-1] = step
        self._notify(step)
        return await self._steps(attempt, task, done=len(attempt.steps))

    async def _steps(self, attempt: Attempt, task: str, done: int = 0) -> Attempt:
        """Steps until ``finish``, the step cap (``done`` steps already taken), a loop or
        invalid output."""
        try:
            for _ in range(self.settings.max_steps - done):
                if await self.step(attempt, task):
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
        try:
            step = await self.aexecute(action)
        except ApprovalPending as wait:  # stop here; ``resume`` goes on from this step
            waiting = Step(action=action, action_id=wait.entry.id, approval="pending")
            attempt.steps.append(waiting)
            attempt.status = "waiting"
            self._notify(waiting)
            raise
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

    def _notify(self, step: Step) -> None:
        if self.on_step is not None:
            self.on_step(step)


def _refusal(repeats: int) -> str:
    return (
        f"refused: this is the same call as your previous {repeats}, so it was not run again. "
        "Read the last observation: if the subtask is done, finish; otherwise call something else."
    )
