"""Memory-based Self-evolution backed by ``memory.MemoryStore``.

Before planning, similar task guidelines (instruction -> graph that worked, and why) go into the
steward's prompt; before each subtask, the app's expertise (tips, action sequences that worked)
goes into the staff agent's prompt. After a verified success the steward summarises the run into
one guideline and one expertise entry per subtask. Nothing is written from a failed or unverified
run.
"""

from __future__ import annotations

import logging
from typing import Any

from agents.fallback import PlanTemplate, plan_templates
from agents.records import RunRecord, SubtaskRecord
from agents.steward import STEWARD, ModelFor
from core.errors import StewardError
from core.usage import CallRecord
from memory import (
    Action,
    ExpertiseEntry,
    GuidelineEntry,
    Memory,
    MemoryStore,
    Provenance,
    Retrieved,
    format_expertise,
    format_guidelines,
    retrieve_expertise,
    retrieve_guidelines,
)
from modelclient.base import ChatMessage

log = logging.getLogger("steward.agents")

_RECENT = 32

SUMMARY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "guideline": {"type": "string"},
        "tips": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["guideline", "tips"],
    "additionalProperties": False,
}


class MemoryExperience:
    """Retrieval for prompts and learning from verified successes, in a ``Memory`` store.

    ``learn_in_run=False`` leaves writing to the caller (a benchmark writes only after its
    checker has verified the run, by calling ``learn(record, verified=True)``). ``source`` goes
    into the provenance of what is learned: ``run``, ``bench``, or ``scripted`` for runs of a
    scripted or replay model. Entries made by scripted models are offered to prompts only with
    ``include_scripted=True`` (a benchmark that lets a replay teach a model on purpose).
    """

    def __init__(
        self,
        store: Memory,
        *,
        summarizer: ModelFor | None = None,
        model_name: str = "",
        source: str = "run",
        k: int = 3,
        learn_in_run: bool = True,
        include_scripted: bool = False,
    ) -> None:
        self.store = store
        self.summarizer = summarizer
        self.model_name = model_name
        self.source = source
        self.k = k
        self.learn_in_run = learn_in_run
        self.include_scripted = include_scripted
        self._recent: dict[str, Retrieved] = {}
        """Guideline lookups not yet turned into templates, by instruction (see
        ``templates_for``); emptied when memory is written."""

    @classmethod
    def default(cls) -> MemoryExperience:
        return cls(MemoryStore())

    def guidelines_for(self, instruction: str) -> tuple[str, list[dict[str, Any]]]:
        found = self._guidelines(instruction)
        entries = [e for e in found.entries if isinstance(e, GuidelineEntry)]
        return format_guidelines(entries), [_brief(found)]

    def templates_for(self, instruction: str) -> list[PlanTemplate]:
        """The verified graphs of the guidelines found for ``instruction``, best first (the
        steward falls back to one when the model cannot write a plan). The lookup that
        ``guidelines_for`` just made is reused, not repeated."""
        found = self._recent.pop(instruction, None) or self._guidelines(instruction)
        return plan_templates(found)

    def _guidelines(self, instruction: str) -> Retrieved:
        found = retrieve_guidelines(
            self.store, instruction, self.k, include_scripted=self.include_scripted
        )
        if len(self._recent) >= _RECENT:  # lookups whose templates were never asked for
            self._recent.pop(next(iter(self._recent)))
        self._recent[instruction] = found
        return found

    def expertise_for(self, task_token: str, subtask: str) -> tuple[str, list[dict[str, Any]]]:
        found = retrieve_expertise(
            self.store, subtask, task_token, self.k, include_scripted=self.include_scripted
        )
        entries = [e for e in found.entries if isinstance(e, ExpertiseEntry)]
        return format_expertise(entries), [_brief(found)]

    async def learn(self, record: RunRecord, *, verified: bool = False) -> list[CallRecord]:
        """Write memory from ``record`` if it is a success (and, if deferred, verified)."""
        self._recent.clear()  # what is looked up next must see what is written now
        if record.status != "succeeded" or record.graph is None:
            return []
        if not self.learn_in_run and not verified:
            return []
        calls: list[CallRecord] = []
        guideline, tips = _plain_summary(record), []
        if self.summarizer is not None:
            try:
                completion = await self.summarizer(STEWARD).complete(
                    _summary_messages(record),
                    schema=SUMMARY_SCHEMA,
                    schema_name="summary",
                    role=STEWARD,
                    purpose="summarize",
                )
                calls.append(completion.record)
                data = completion.data if isinstance(completion.data, dict) else {}
                guideline = str(data.get("guideline") or guideline)
                tips = [str(t) for t in data.get("tips", []) if str(t).strip()][:5]
            except StewardError as exc:
                log.info("summary call failed, writing the plain summary: %s", exc)
        provenance = Provenance(
            run_id=record.run_id,
            model=self.model_name or str(record.settings.get("model", "")),
            source=self.source,  # type: ignore[arg-type]
        )
        self.store.add_guideline(
            GuidelineEntry(
                instruction=record.instruction,
                graph=record.graph.model_dump(),
                guideline=guideline,
                provenance=provenance,
            )
        )
        current = set(record.graph.ids)
        for sub in record.subtasks:
            if sub.id in current and sub.status == "succeeded":
                self.store.add_expertise(_expertise(sub, tips, provenance))
        return calls


def _brief(found: Any) -> dict[str, Any]:
    brief = {
        "kind": found.kind,
        "query": found.query[:200],
        "task_token": found.task_token,
        "ids": found.ids,
        "scores": [round(s, 3) for s in found.scores],
    }
    if found.kind == "guideline":  # which agents each offered template recruits
        brief["task_tokens"] = [
            e.task_tokens for e in found.entries if isinstance(e, GuidelineEntry)
        ]
    return brief


def _plain_summary(record: RunRecord) -> str:
    assert record.graph is not None
    flows = [f"{n.id} used {', '.join(n.needs)}" for n in record.graph.nodes if n.needs]
    tokens = ", ".join(sorted({n.task_token for n in record.graph.nodes}))
    text = f"{len(record.graph.nodes)} subtask(s) on {tokens}"
    return text + (
        f"; information flowed: {'; '.join(flows)}" if flows else "; independent subtasks"
    )


def _summary_messages(record: RunRecord) -> list[ChatMessage]:
    assert record.graph is not None
    lines = [f"Instruction: {record.instruction}", "Plan that succeeded:", record.graph.to_tree()]
    for sub in record.subtasks:
        lines.append(f"- {sub.id}: {sub.key_info or sub.result}"[:300])
    return [
        ChatMessage(
            role="system",
            content="Summarise why this plan worked, for reuse on similar instructions. Reply with "
            "JSON: guideline (one or two sentences: the decomposition and what information "
            "flowed), tips (up to three short lessons).",
        ),
        ChatMessage(role="user", content="\n".join(lines)),
    ]


def _expertise(sub: SubtaskRecord, tips: list[str], provenance: Provenance) -> ExpertiseEntry:
    final = sub.history[-1]
    actions = [
        Action(tool=s.action.tool, arguments=s.action.arguments)
        for s in final.steps
        if s.action.tool != "finish" and not s.error
    ]
    lessons = [a.verdict.tips for a in sub.history[:-1] if a.verdict is not None and a.verdict.tips]
    return ExpertiseEntry(
        task_token=sub.task_token,
        subtask=sub.instruction,
        tips=(lessons + tips)[:6],
        actions=actions[:12],
        provenance=provenance,
    )
