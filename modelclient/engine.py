"""The call loop every model shares: ask, parse, validate, re-ask, record.

Subclasses (the real client, the scripted and function models) implement only ``_answer``:
send the conversation once and return the text, adding tokens, attempts and mode to the tally.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.errors import ModelOutputError, StewardError
from core.usage import CallRecord, OutputMode, Usage
from modelclient.base import ChatMessage, Completion
from modelclient.config import PromptStyle
from modelclient.structured import JSONExtractError, extract_json, reask_prompt
from modelclient.structured import validate as schema_errors

Tracer = Callable[[CallRecord], None]
"""Called with the record of every finished call, successful or not."""


@dataclass
class CallTally:
    """What one ``complete`` call has used so far (all re-asks and retries)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    attempts: int = 0
    mode: OutputMode = "text"


@dataclass
class Reply:
    """One answer from the model: its text and whether it hit the token limit."""

    text: str
    truncated: bool = False


class ModelBase(ABC):
    """Implements ``Model.complete`` on top of ``_answer``; see ``modelclient.base.Model``."""

    name: str
    prompt_style: PromptStyle = "full"
    """How much the agents' prompts explain to this model (``compact`` for a trained expert);
    see ``modelclient.config.EndpointConfig.prompt_style``."""

    def __init__(
        self,
        name: str,
        *,
        max_reasks: int = 2,
        record_prompts: bool = True,
        tracer: Tracer | None = None,
        prompt_style: PromptStyle = "full",
    ) -> None:
        self.name = name
        self.max_reasks = max_reasks
        self.record_prompts = record_prompts
        self.tracer = tracer
        self.prompt_style = prompt_style

    @abstractmethod
    async def _answer(
        self,
        messages: list[ChatMessage],
        schema: dict[str, Any] | None,
        schema_name: str,
        tally: CallTally,
    ) -> Reply:
        """Send ``messages`` once (transport retries allowed) and return the reply."""

    async def prompt_overhead(
        self, schema: dict[str, Any] | None, schema_name: str = "output"
    ) -> int:
        """Characters this model adds to the prompt for ``schema`` (here none); see
        ``modelclient.base.prompt_overhead``."""
        return 0

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
        """Answer ``messages``; with ``schema``, return data valid under it or raise
        ``core.ModelOutputError`` after ``max_reasks`` re-asks.

        With ``validate=False``, JSON that breaks the schema is returned at once with the
        complaints in ``Completion.schema_errors``; only text that is not JSON is asked again.
        """
        started_at = time.time()
        t0 = time.perf_counter()
        tally = CallTally()
        convo = list(messages)
        output: str | None = None
        error: str | None = None
        failure: StewardError | None = None
        data: Any = None
        schema_errors: list[str] = []
        try:
            for ask in range(self.max_reasks + 1):
                reply = await self._answer(convo, schema, schema_name, tally)
                tally.calls += 1
                output = reply.text
                if schema is None:
                    break
                problem = _check(schema, reply.text)
                if isinstance(problem, _Parsed) and (not problem.errors or not validate):
                    data, schema_errors = problem.data, problem.errors
                    break
                if isinstance(problem, _Parsed):
                    problem = "the JSON does not match the schema: " + "; ".join(problem.errors)
                # under constrained decoding a cut-off answer is the only way to be invalid,
                # and a second cut-off says the model will not fit: stop paying for re-asks
                hopeless = reply.truncated and tally.mode == "json_schema" and ask >= 1
                if ask == self.max_reasks or hopeless:
                    cut = " (cut off at the token limit)" if reply.truncated else ""
                    raise ModelOutputError(
                        f"model {self.name!r} gave no valid {schema_name!r} after "
                        f"{ask + 1} answer(s): {problem}{cut}"
                    )
                convo = [
                    *convo,
                    ChatMessage(role="assistant", content=reply.text),
                    ChatMessage(
                        role="user", content=reask_prompt(problem, truncated=reply.truncated)
                    ),
                ]
        except BaseException as exc:
            error = str(exc) or type(exc).__name__
            if isinstance(exc, StewardError):
                failure = exc
            raise
        finally:
            record = CallRecord(
                role=role,
                purpose=purpose,
                model=self.name,
                mode=tally.mode,
                usage=Usage(
                    prompt_tokens=tally.prompt_tokens,
                    completion_tokens=tally.completion_tokens,
                    calls=tally.calls,
                    latency_s=time.perf_counter() - t0,
                ),
                started_at=started_at,
                attempts=tally.attempts,
                error=error,
                prompt=[m.model_dump() for m in convo] if self.record_prompts else None,
                output=output,
            )
            if self.tracer is not None:
                self.tracer(record)
            if failure is not None:
                failure.record = record  # so a run record can keep failed calls too
        return Completion(text=output or "", data=data, record=record, schema_errors=schema_errors)


@dataclass
class _Parsed:
    data: Any
    errors: list[str]
    """Why ``data`` breaks the schema; empty if valid."""


def _check(schema: dict[str, Any], text: str) -> _Parsed | str:
    """The JSON in ``text`` and its schema errors, or why no JSON could be read."""
    try:
        data = extract_json(text)
    except JSONExtractError as exc:
        return str(exc)
    return _Parsed(data, schema_errors(schema, data))
