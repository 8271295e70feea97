"""Play a recorded run's model calls back: the model behind ``steward replay RUN_ID``.

**Matching a request to a recorded call.** Subtasks run at the same time, so requests do not
come in one global order (two subtasks' verdicts may arrive either way round), and a replay
cannot hand out answers by position. Each request takes an unused recorded call of its own
role and purpose:

1. the earliest one whose original messages (the recorded prompt without its re-ask turns)
   equal the request's messages: the same prompt, so the same question;
2. failing that, the most similar one: most messages equal position by position (less the
   difference in length), then the closest differing text (``difflib``), then the earliest.
   The run has then diverged from the recording (an app started in another state, memory
   changed since): the match is kept in :attr:`ReplayModel.diverged`, and the answer is the
   one the recorded run got at that point, so the replay goes on and shows where it leads.

With no recorded call of that role and purpose left, the request fails with
:class:`ReplayExhaustedError` (a ``RunError``: the run stops).

**Re-asks.** A ``CallRecord`` is one call with all its re-asks: ``prompt`` is the last request's
conversation (the original messages, then one assistant answer + user re-ask pair per re-ask),
``output`` the last answer, ``usage.calls`` the number of answers. The answers, in order, are
the assistant messages of those pairs and then ``output``. When the call failed while waiting
for an answer (a dead server, a cancelled call: ``error`` set, not an invalid output), the
prompt holds one pair per answer (``output`` is the last of them) and the request after the last
answer raises the recorded error again: as a ``ServerError`` (the record keeps the error's text,
not its class), or a ``ScriptRanOutError`` for a script that ran out. A call whose answers never
validated is re-asked exactly as often as it was, so it fails the same way. Each call reports
its recorded usage and output mode, so token budgets run out where they did.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.errors import RunError, ServerError
from core.usage import CallRecord
from modelclient.base import ChatMessage, Completion
from modelclient.config import StructuredMode
from modelclient.engine import CallTally, ModelBase, Reply, Tracer
from modelclient.script import ScriptRanOutError

Message = dict[str, str]
_COMPARED_CHARS = 4000  # of the differing text, when ranking similar prompts
_STRUCTURED: tuple[StructuredMode, ...] = ("json_object", "repair")  # schema in the prompt


class ReplayExhaustedError(RunError):
    """A replay made a request the recording has no (more) answers for."""


@dataclass
class RecordedCall:
    """A recorded call to play back, with where it sits in its run record."""

    record: CallRecord
    where: str
    """E.g. ``steward plan`` or ``s2 attempt 1 act 3``, for reports."""
    used: bool = False

    @property
    def reasks(self) -> int:
        """Re-ask turns in the recorded prompt."""
        calls = self.record.usage.calls
        return calls if self.waited_in_vain else max(calls - 1, 0)

    @property
    def waited_in_vain(self) -> bool:
        """Whether the call failed while waiting for an answer (not on an invalid answer)."""
        error = self.record.error
        return error is not None and "gave no valid" not in error  # see ModelBase.complete

    @property
    def messages(self) -> list[Message]:
        """The messages of the original request."""
        prompt = self.record.prompt or []
        return prompt[: len(prompt) - 2 * self.reasks]

    @property
    def answers(self) -> list[str]:
        """The recorded answers, first to last."""
        prompt = self.record.prompt or []
        turns = prompt[len(self.messages) :]
        answers = [m["content"] for m in turns[0::2]]
        if not self.waited_in_vain and self.record.usage.calls > len(answers):
            answers.append(self.record.output or "")
        return answers


@dataclass
class Divergence:
    """A request whose prompt was not one the recording had."""

    role: str
    purpose: str
    matched: str
    """``where`` of the recorded call whose answers it got."""


class _Playback(ModelBase):
    """One recorded call replayed through the shared call loop (parse, validate, re-ask)."""

    def __init__(self, call: RecordedCall, tracer: Tracer | None) -> None:
        self.call = call
        self.queue = call.answers
        invalid = call.record.error is not None and not call.waited_in_vain
        # a call that ended on invalid output is re-asked as often as it was, no more
        reasks = len(self.queue) - 1 if invalid else len(self.queue)
        super().__init__(call.record.model, max_reasks=max(reasks, 0), tracer=tracer)
        self._given = 0

    async def _answer(
        self,
        messages: list[ChatMessage],
        schema: dict[str, Any] | None,
        schema_name: str,
        tally: CallTally,
    ) -> Reply:
        record = self.call.record
        if self._given == 0:  # the recorded call's usage and mode, once
            tally.mode = record.mode
            tally.attempts = record.attempts
            tally.prompt_tokens += record.usage.prompt_tokens
            tally.completion_tokens += record.usage.completion_tokens
        if self._given >= len(self.queue):
            if self.call.waited_in_vain:
                error = record.error or ""
                if ScriptRanOutError.said(error):  # what stopped a scripted run stops it again
                    raise ScriptRanOutError(error)
                raise ServerError(f"as recorded: {error}")
            raise ReplayExhaustedError(
                f"{self.call.where}: the replay asked again after the recording's "
                f"{len(self.queue)} answer(s) (an answer that was valid no longer is)"
            )
        text = self.queue[self._given]
        self._given += 1
        last = self._given == len(self.queue)
        cut = last and "cut off at the token limit" in (record.error or "")
        return Reply(text=text, truncated=cut)


@dataclass
class ReplayModel:
    """A model that answers every request with the answers of a matching recorded call (see
    the module docstring). Stands in for a ``ModelPool``: ``for_role`` gives itself."""

    calls: list[RecordedCall]
    name: str = "replay"
    tracer: Tracer | None = None
    diverged: list[Divergence] = field(default_factory=list)
    """Requests matched by similarity, not by an identical prompt."""

    @classmethod
    def of(cls, calls: Iterable[tuple[str, CallRecord]], name: str = "replay") -> ReplayModel:
        """A replay of ``(where, record)`` pairs, earliest first."""
        ordered = sorted(calls, key=lambda pair: pair[1].started_at)
        return cls([RecordedCall(record, where) for where, record in ordered], name)

    @property
    def unused(self) -> list[RecordedCall]:
        """Recorded calls no request took."""
        return [c for c in self.calls if not c.used]

    def for_role(self, role: str) -> ReplayModel:
        return self

    async def aclose(self) -> None:
        """Nothing to close."""

    async def prompt_overhead(
        self, schema: dict[str, Any] | None, schema_name: str = "output"
    ) -> int:
        """What the recorded run's client added to prompts for ``schema``, judged by the output
        mode its calls of that kind used (so prompts are cut to the same size)."""
        if schema is None:
            return 0
        purpose = "act" if schema_name == "action" else schema_name  # the staff's schema name
        modes = {c.record.mode for c in self.calls if c.record.purpose == purpose}
        mode = next((m for m in _STRUCTURED if m in modes), None)
        if mode is None:
            return 0
        from modelclient.openai_model import _overhead  # the client's own measure

        return _overhead(schema, mode)

    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        schema: dict[str, Any] | None = None,
        schema_name: str = "output",
        role: str = "",
        purpose: str = "",
        validate: bool = True,
    ) -> Completion:
        call = self._take(role, purpose, [m.model_dump() for m in messages])
        return await _Playback(call, self.tracer).complete(
            messages,
            schema=schema,
            schema_name=schema_name,
            role=role,
            purpose=purpose,
            validate=validate,
        )

    def _take(self, role: str, purpose: str, request: list[Message]) -> RecordedCall:
        candidates = [
            c
            for c in self.calls
            if not c.used and c.record.role == role and c.record.purpose == purpose
        ]
        if not candidates:
            raise ReplayExhaustedError(
                f"the replay made a {role} {purpose} request that the recording has no "
                "answer for (it went past the recorded run)"
            )
        call = next((c for c in candidates if c.messages == request), None)
        if call is None:
            call = max(candidates, key=lambda c: _likeness(request, c.messages))
            self.diverged.append(Divergence(role, purpose, call.where))
        call.used = True
        return call


def _likeness(request: list[Message], recorded: list[Message]) -> tuple[int, float]:
    """How alike two conversations are: messages equal position by position (less the
    difference in length), then how close the differing text is. ``max`` keeps the first of
    equals, so the earliest recorded call wins a tie."""
    same = [a == b for a, b in zip(request, recorded, strict=False)]
    rest_a = "\n".join(m["content"] for i, m in enumerate(request) if i >= len(same) or not same[i])
    rest_b = "\n".join(
        m["content"] for i, m in enumerate(recorded) if i >= len(same) or not same[i]
    )
    ratio = difflib.SequenceMatcher(
        None, rest_a[:_COMPARED_CHARS], rest_b[:_COMPARED_CHARS], autojunk=False
    ).ratio()
    return sum(same) - abs(len(request) - len(recorded)), ratio
