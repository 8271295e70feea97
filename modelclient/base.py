"""The one interface every model goes through: the real client, scripted and function models."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from core.usage import CallRecord


class ChatMessage(BaseModel):
    """One chat message."""

    model_config = ConfigDict(extra="forbid")

    role: str
    """``system``, ``user`` or ``assistant``."""
    content: str


class Completion(BaseModel):
    """What a model call returns: the raw text, the parsed JSON (if a schema was given) and
    the record."""

    model_config = ConfigDict(extra="forbid")

    text: str
    """Raw text of the final answer."""
    data: Any = None
    """Parsed JSON, valid under the requested schema; ``None`` when no schema was asked."""
    record: CallRecord
    """Usage, latency, mode and attempts of this call (re-asks included)."""


@runtime_checkable
class Model(Protocol):
    """An LLM that answers chat messages, optionally as JSON valid under a JSON Schema.

    ``complete`` with a ``schema`` must return ``data`` that parses and validates under the
    schema, or raise ``core.ModelOutputError`` after its bounded re-asks. Transport problems
    raise ``core.ServerUnreachableError`` once retries are spent.
    """

    name: str

    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        schema: dict[str, Any] | None = None,
        schema_name: str = "output",
        role: str = "",
        purpose: str = "",
    ) -> Completion: ...
