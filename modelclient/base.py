"""The one interface every model goes through: the real client, scripted and function models."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

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
    """Parsed JSON, valid under the requested schema unless ``schema_errors`` says otherwise;
    ``None`` when no schema was asked."""
    record: CallRecord
    """Usage, latency, mode and attempts of this call (re-asks included)."""
    schema_errors: list[str] = Field(default_factory=list)
    """Why ``data`` breaks the schema (the messages of ``modelclient.validate``); only ever
    filled by a call with ``validate=False``."""


@runtime_checkable
class Model(Protocol):
    """An LLM that answers chat messages, optionally as JSON valid under a JSON Schema.

    ``complete`` with a ``schema`` must return ``data`` that parses and validates under the
    schema, or raise ``core.ModelOutputError`` after its bounded re-asks. With
    ``validate=False`` an answer that parses as JSON but breaks the schema is returned as it
    is, its problems in ``Completion.schema_errors`` (the schema is still used to constrain
    decoding); text that is not JSON is still asked again. Transport problems raise
    ``core.ServerUnreachableError`` (no connection) or ``core.ServerError`` (the server kept
    failing) once retries are spent.

    A model may also offer ``async prompt_overhead(schema, schema_name) -> int``: see
    :func:`prompt_overhead`.
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
        validate: bool = True,
    ) -> Completion: ...


async def prompt_overhead(
    model: Model, schema: dict[str, Any] | None, schema_name: str = "output"
) -> int:
    """Characters ``model`` will add to a prompt for ``schema`` (say, the schema text in the
    system prompt when the server cannot constrain decoding), so a caller can leave room for
    them. 0 without a schema, and for a model that has no ``prompt_overhead`` method."""
    if schema is None:
        return 0
    method = getattr(model, "prompt_overhead", None)
    if method is None:
        return 0
    return int(await method(schema, schema_name))
