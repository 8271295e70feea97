"""StewardAgent: Dynamic Recruitment (plan), Adjusted Evaluation (verdicts), re-plan, answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from agents import prompts
from agents.budget import Budget
from agents.plan import SchedulingGraph, parse_plan, plan_schema, validate_graph, work_key
from agents.records import VERDICT_SCHEMA, Attempt, SubtaskRecord, Verdict
from agents.repair import repair_graph
from agents.settings import AgentSettings
from core.errors import ModelOutputError, PlanInvalidError, ServerError, StewardError
from core.usage import CallRecord
from memory.journal import JournalEntry
from modelclient import prompt_overhead
from modelclient.base import ChatMessage, Completion, Model

log = logging.getLogger("steward.agents")

ModelFor = Callable[[str], Model]
"""Role (``steward`` or a task token) -> the model that plays it."""

STEWARD = "steward"


class PlanResult:
    """A validated plan with the calls it took and how it was repaired.

    ``fallback`` says how the plan was made when no model answer could be made valid:
    ``template:<memory id>`` or ``apps`` (see ``RunRecord.fallbacks``); ``None`` otherwise.
    """

    def __init__(
        self,
        graph: SchedulingGraph,
        calls: list[CallRecord],
        notes: list[str],
        fallback: str | None = None,
    ) -> None:
        self.graph = graph
        self.calls = calls
        self.notes = notes
        self.fallback = fallback


class StewardAgent:
    """The coordinator: plans, evaluates, re-plans and answers. Knows nothing of langgraph."""

    def __init__(
        self,
        models: ModelFor,
        agents: Mapping[str, str],
        settings: AgentSettings | None = None,
        *,
        budget: Budget | None = None,
    ) -> None:
        """``agents`` maps each task token the plan may use to its description."""
        self.models = models
        self.agents = dict(agents)
        self.settings = settings or AgentSettings()
        self.budget = budget or Budget()

    @property
    def tokens(self) -> list[str]:
        return sorted(self.agents)

    async def _call(
        self,
        messages: list[ChatMessage],
        purpose: str,
        schema: dict | None = None,  # type: ignore[type-arg]
        *,
        validate: bool = True,
    ) -> Completion:
        self.budget.check()
        model = self.models(STEWARD)
        room = self.settings.prompt_chars - await prompt_overhead(model, schema, purpose)
        try:
            completion = await model.complete(
                prompts.fit(messages, max(room, prompts.MIN_PROMPT_CHARS)),
                schema=schema,
                schema_name=purpose,
                role=STEWARD,
                purpose=purpose,
                validate=validate,
            )
        except StewardError as exc:  # a failed call still spent tokens
            if isinstance(exc.record, CallRecord):
                self.budget.charge(exc.record.usage)
            raise
        self.budget.charge(completion.record.usage)
        return completion

    async def plan(self, instruction: str, *, guidelines: str = "") -> PlanResult:
        messages = prompts.plan_messages(
            instruction, self.agents, guidelines=guidelines, max_nodes=self.settings.max_nodes
        )
        return await self._plan_loop(messages, instruction, done=())

    async def replan(
        self,
        instruction: str,
        done: Sequence[SubtaskRecord],
        failed: Sequence[SubtaskRecord],
        waiting: Sequence[SubtaskRecord] = (),
    ) -> PlanResult:
        """Plan the part of the graph that has not succeeded: the ``failed`` subtasks and the
        ``waiting`` ones that never started (they needed failed work)."""
        # the new part replaces what is unfinished; it may not grow much bigger than that
        unfinished = len(failed) + len(waiting)
        max_nodes = min(self.settings.max_nodes, 2 * unfinished + 1)
        messages = prompts.replan_messages(
            instruction,
            self.agents,
            done,
            failed,
            waiting,
            max_nodes=max_nodes,
            limit=self.settings.observation_chars,
        )
        return await self._plan_loop(
            messages,
            instruction,
            done=[r.id for r in done],
            finished={work_key(r.task_token, r.instruction): r.id for r in done},
            purpose="replan",
            max_nodes=max_nodes,
        )

    async def _plan_loop(
        self,
        messages: list[ChatMessage],
        instruction: str,
        *,
        done: Collection[str],
        finished: Mapping[tuple[str, str], str] | None = None,
        purpose: str = "plan",
        max_nodes: int | None = None,
    ) -> PlanResult:
        max_nodes = max_nodes or self.settings.max_nodes
        schema = plan_schema(self.tokens, max_nodes=max_nodes)
        calls: list[CallRecord] = []
        notes: list[str] = []
        errors: list[str] = []
        graph: SchedulingGraph | None = None
        for round_ in range(self.settings.plan_repairs + 1):
            try:
                # decoded under the strict schema; an answer that still breaks it (a server
                # without constrained decoding) comes back to be checked and repaired here
                completion = await self._call(messages, purpose, schema, validate=False)
            except StewardError as exc:
                exc.calls = list(calls)
                raise
            calls.append(completion.record)
            parsed, errors = parse_plan(completion.data)
            if parsed is not None:
                graph = parsed
                errors += validate_graph(
                    graph, self.tokens, done=done, finished=finished, max_nodes=max_nodes
                )
            if not errors and graph is not None:
                if round_:
                    notes.append(f"plan repaired by the model after {round_} round(s)")
                return PlanResult(graph, calls, notes)
            notes.append("invalid plan: " + "; ".join(errors[:5]))
            log.info("plan invalid (%s): %s", round_, errors)
            messages = prompts.repair_messages(messages, completion.text, errors)
        if graph is not None and self.settings.auto_repair:
            fixed, fixes = repair_graph(
                graph, self.tokens, instruction, done=done, finished=finished
            )
            if not validate_graph(
                fixed, self.tokens, done=done, finished=finished, max_nodes=max_nodes
            ):
                notes.append("plan repaired in code: " + "; ".join(fixes))
                return PlanResult(fixed, calls, notes)
        error = PlanInvalidError(
            f"the steward's plan was still invalid after {self.settings.plan_repairs} "
            f"repair round(s): {'; '.join(errors[:3])}"
        )
        error.calls = list(calls)
        raise error

    async def evaluate(
        self,
        record: SubtaskRecord,
        attempt: Attempt,
        *,
        earlier: Sequence[JournalEntry] = (),
    ) -> Verdict:
        """Adjusted Evaluation of one attempt; code signals can override a too-kind model.

        ``earlier`` are calls made for this work before the attempt (see ``agents.effects``):
        those still in effect count as work done."""
        signals = attempt_signals(attempt)
        hard_failure = {
            "loop": "loop",
            "step_cap": "step_cap",
            "model_error": "other",
            "budget": "other",
        }.get(attempt.status)
        idle = self.settings.require_action and attempt.status == "finished" and not _acted(attempt)
        if idle:
            hard_failure = "other"
        if not self.settings.evaluate:
            ok = hard_failure is None
            return Verdict(
                success=ok,
                failure_kind="none" if ok else hard_failure,  # type: ignore[arg-type]
                key_info=attempt.result if ok else "",
            )
        messages = prompts.evaluate_messages(
            record, attempt, signals, self.settings.observation_chars, earlier=earlier
        )
        try:
            completion = await self._call(messages, "evaluate", VERDICT_SCHEMA)
        except ModelOutputError as exc:
            # no verdict is not a success: count it as a failure the retry can still fix
            return Verdict(
                success=False,
                failure_kind="other",
                tips=_default_tip("idle" if idle else attempt.status) if hard_failure else "",
                overridden=f"the evaluation never validated: {exc}",
                call=exc.record if isinstance(exc.record, CallRecord) else None,
            )
        raw = completion.data if isinstance(completion.data, dict) else {}
        verdict = Verdict(
            success=bool(raw.get("success")),
            failure_kind=raw.get("failure_kind", "other")
            if raw.get("failure_kind") in _KINDS
            else "other",
            tips=str(raw.get("tips", "")),
            key_info=str(raw.get("key_info", "")),
            call=completion.record,
        )
        if verdict.success:
            verdict.failure_kind = "none"
            if hard_failure is not None:
                verdict.success = False
                verdict.failure_kind = hard_failure  # type: ignore[assignment]
                verdict.overridden = (
                    "no tool was called" if idle else f"attempt ended with {attempt.status}"
                )
                verdict.tips = verdict.tips or _default_tip("idle" if idle else attempt.status)
            elif not verdict.key_info:
                verdict.key_info = attempt.result
        elif verdict.failure_kind == "none":
            verdict.failure_kind = "other"
        return verdict

    async def answer(
        self, instruction: str, graph: SchedulingGraph, records: Sequence[SubtaskRecord]
    ) -> tuple[str, CallRecord | None]:
        fallback = "; ".join(f"{r.id}: {r.key_info or r.result or r.status}" for r in records)
        if not self.settings.compose_answer:
            return fallback, None
        messages = prompts.answer_messages(
            instruction, graph, records, self.settings.observation_chars
        )
        try:
            completion = await self._call(messages, "answer", ANSWER_SCHEMA)
        except (ModelOutputError, ServerError) as exc:
            # the work is done: a summary in code beats ending the run on its last call
            record = exc.record if isinstance(exc.record, CallRecord) else None
            return fallback, record
        data = completion.data if isinstance(completion.data, dict) else {}
        text = str(data.get("answer", "")).strip()
        return (text or fallback), completion.record


ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string", "maxLength": 600}},
    "required": ["answer"],
    "additionalProperties": False,
}

_KINDS = {"none", "wrong_result", "incomplete", "tool_error", "loop", "other"}


def _acted(attempt: Attempt) -> bool:
    """Whether the attempt called at least one of the app's tools, or found the work's calls
    already made (carried over from an attempt that was judged failed, or from before a
    resume)."""
    return bool(attempt.carried) or any(
        s.action.tool != "finish" and not s.refused for s in attempt.steps
    )


def _default_tip(status: str) -> str:
    if status == "idle":
        return "You called no tool; do the subtask with the app's tools before you finish."
    if status == "loop":
        return "You repeated the same action; read the last observation and change course."
    if status == "step_cap":
        return "You ran out of steps; go straight to the tools the subtask needs, then finish."
    return "Your replies were not valid; reply with one JSON action per turn."


def attempt_signals(attempt: Attempt) -> list[str]:
    """Facts about an attempt that the evaluation must see."""
    signals = []
    errors = attempt.tool_errors
    if errors:
        signals.append(f"{errors} tool error(s)")
        last_call = next((s for s in reversed(attempt.steps) if s.action.tool != "finish"), None)
        if last_call is not None and last_call.error:
            signals.append("the last tool call failed")
    if any(s.repeated for s in attempt.steps):
        signals.append("an action was repeated")
    if attempt.status == "loop":
        signals.append("stopped for repeating itself")
    if attempt.status == "step_cap":
        signals.append("ran out of steps before finishing")
    if attempt.status == "model_error":
        signals.append("the agent's replies never validated")
    if not _acted(attempt):
        signals.append("no tool was called")
    return signals
