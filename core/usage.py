"""Token usage and per-call records, rolled up per subtask, per agent and per run."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

OutputMode = Literal["json_schema", "json_object", "repair", "text", "scripted"]


class Usage(BaseModel):
    """Tokens and calls; add two with ``+``."""

    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = 0
    """Prompt tokens reported by the server."""
    completion_tokens: int = 0
    """Completion tokens reported by the server."""
    calls: int = 0
    """Number of model calls (re-asks count)."""
    latency_s: float = 0.0
    """Seconds spent waiting for the model."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            calls=self.calls + other.calls,
            latency_s=self.latency_s + other.latency_s,
        )

    @classmethod
    def total(cls, items: Iterable[Usage]) -> Usage:
        out = cls()
        for item in items:
            out = out + item
        return out


class CallRecord(BaseModel):
    """One model call (including its re-asks), as kept in the run record."""

    model_config = ConfigDict(extra="forbid")

    role: str = ""
    """Who called: ``steward`` or a task token."""
    purpose: str = ""
    """What for: ``plan``, ``evaluate``, ``act``, ``answer``..."""
    model: str = ""
    """Served model name."""
    mode: OutputMode = "text"
    """How structured output was obtained."""
    usage: Usage = Field(default_factory=Usage)
    """Tokens, calls (1 + re-asks) and latency of this call."""
    started_at: float = 0.0
    """Unix time the call started."""
    attempts: int = 1
    """Requests sent, counting transport retries and re-asks."""
    error: str | None = None
    """Why the call failed, if it did."""
    prompt: list[dict[str, str]] | None = None
    """The messages sent (kept when prompt recording is on)."""
    output: str | None = None
    """The raw text returned."""
