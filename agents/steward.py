"""StewardAgent: Dynamic Recruitment (plan), Adjusted Evaluation (verdicts), re-plan, answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from agents import prompts
from agents.budget import Budget
from agents.fallback import Fallback, PlanTemplate, plan_fallback, replan_apps
from agents.plan import SchedulingGraph, parse_plan, plan_schema, validate_graph, work_key
from agents.records import VERDICT_SCHEMA, Attempt, SubtaskRecord, Verdict
from agents.repair import repair_graph
from agents.settings import AgentSettings
from agents.verdicts import attempt_signals, read_verdict, settled_verdict
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
        tools: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """``agents`` maps each task token the plan may use to its description; ``tools``
        maps a token to its tools as ``name: description`` lines (``agents.fallback.tool_lines``),
        read only when a plan falls back to recruiting apps by similarity."""
        self.models = models
        self.agents = dict(agents)
        self.settings = settings or AgentSettings()
        self.budget = budget or Budget()
        self.tools = {token: list(lines) for token, lines in (tools or {}).items()}

    @property
    def compact(self) -> bool:
        """Whether the steward's model is a trained expert (compact prompts)."""
        return getattr(self.models(STEWARD), "prompt_style", "full") == "compact"

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

    async def plan(
        self,
        instruction: str,
        *,
        guidelines: str = "",
        templates: Sequence[PlanTemplate] = (),
    ) -> PlanResult:
        """Dynamic Recruitment: a valid scheduling graph for ``instruction``.

        ``guidelines`` is memory's prompt text; ``templates`` are the verified plans memory
        found for it, best first. When no model answer can be made valid (after the repair
        rounds and the repair in code, or when the plan call's output never parses), the plan
        falls back to the first usable template, else to one subtask per app recruited by
        similarity (:mod:`agents.fallback`); ``PlanResult.fallback`` says which. With
        ``AgentSettings.auto_repair`` off there is no fallback: the run ends.
        """
        messages = prompts.plan_messages(
            instruction,
            self.agents,
            guidelines=guidelines,
            max_nodes=self.settings.max_nodes,
            compact=self.compact,
        )
        return await self._plan_loop(
            messages,
            instruction,
            done=(),
            fall_back=lambda: plan_fallback(
                instruction, templates, self.agents, self.tools, max_nodes=self.settings.max_nodes
            ),
        )

    async def replan(
        self,
        instruction: str,
        done: Sequence[SubtaskRecord],
        failed: Sequence[SubtaskRecord],
        waiting: Sequence[SubtaskRecord] = (),
    ) -> PlanResult:
        """Plan the part of the graph that has not succeeded: the ``failed`` subtasks and the
        ``waiting`` ones that never started (they needed failed work).

        When no model answer can be made valid it falls back to one subtask per app of the
        unfinished subtasks (``fallback="apps"``), unless ``AgentSettings.auto_repair`` is off.
        """
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
            compact=self.compact,
        )
        return await self._plan_loop(
            messages,
            instruction,
            done=[r.id for r in done],
            finished={work_key(r.task_token, r.instruction): r.id for r in done},
            purpose="replan",
            max_nodes=max_nodes,
            fall_back=lambda: replan_apps(
                instruction, self.tokens, done, [*failed, *waiting], max_nodes=max_nodes
            ),
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
        fall_back: Callable[[], Fallback],
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
            except ModelOutputError as exc:
                if not self.settings.auto_repair:  # no repair, no fallback: the run ends
                    exc.calls = list(calls)
                    raise
                if isinstance(exc.record, CallRecord):  # its tokens were spent too
                    calls.append(exc.record)
                errors = [f"the {purpose} call gave no usable output: {exc}"]
                notes.append(errors[0][:300])
                break
            except StewardError as exc:  # a dead server or a spent budget is no plan problem
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
        if not self.settings.auto_repair:
            error = PlanInvalidError(
                f"the steward's plan was still invalid after {self.settings.plan_repairs} "
                f"repair round(s): {'; '.join(errors[:3])}"
            )
            error.calls = list(calls)
            raise error
        if graph is not None:
            fixed, fixes = repair_graph(
                graph, self.tokens, instruction, done=done, finished=finished
            )
            if not validate_graph(
                fixed, self.tokens, done=done, finished=finished, max_nodes=max_nodes
            ):
                notes.append("plan repaired in code: " + "; ".join(fixes))
                return PlanResult(fixed, calls, notes)
        fallback, how, why = fall_back()
        problems = validate_graph(
            fallback, self.tokens, done=done, finished=finished, max_nodes=max_nodes
        )
        if problems:  # only when the world has no app to recruit
            error = PlanInvalidError(
                f"no valid {purpose} came from the model and none could be made in code: "
                + "; ".join(problems[:3])
            )
            error.calls = list(calls)
            raise error
        log.info("%s fell back (%s)", purpose, how)
        return PlanResult(fallback, calls, [*notes, *why], fallback=how)

    async def evaluate(
        self,
        record: SubtaskRecord,
        attempt: Attempt,
        *,
        earlier: Sequence[JournalEntry] = (),
    ) -> Verdict:
        """Adjusted Evaluation of one attempt.

        When code signals already settle it as a failure (a loop, the step cap, replies that
        never validated, a spent budget, an attempt that called no tool under
        ``require_action``) no model is asked: the verdict is that failure with the default
        tip, ``overridden`` says it was settled in code, and it has no call record. Otherwise
        the model judges; a verdict that never validates counts as a failure.

        ``earlier`` are calls made for this work before the attempt (see ``agents.effects``):
        those still in effect count as work done."""
        settled = settled_verdict(attempt, require_action=self.settings.require_action)
        if not self.settings.evaluate:  # the ablation: code signals only, no tips
            if settled is not None:
                return Verdict(success=False, failure_kind=settled.failure_kind)
            return Verdict(success=True, key_info=attempt.result)
        if settled is not None:  # no judgement needed: do not spend a call on it
            return settled
        messages = prompts.evaluate_messages(
            record,
            attempt,
            attempt_signals(attempt),
            self.settings.observation_chars,
            earlier=earlier,
            compact=self.compact,
        )
        try:
            completion = await self._call(messages, "evaluate", VERDICT_SCHEMA)
        except ModelOutputError as exc:
            # no verdict is not a success: count it as a failure the retry can still fix
            return Verdict(
                success=False,
                failure_kind="other",
                overridden=f"the evaluation never validated: {exc}",
                call=exc.record if isinstance(exc.record, CallRecord) else None,
            )
        return read_verdict(completion.data, attempt, completion.record)

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
