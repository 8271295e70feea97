"""The interface between a run and Memory-based Self-evolution.

The orchestrator asks it for task guidelines before planning and for app expertise before each
subtask, and hands it the run record after a verified success. ``NoExperience`` turns it off.
"""

from __future__ import annotations

from typing import Any, Protocol

from agents.records import RunRecord
from core.usage import CallRecord


class Experience(Protocol):
    """Retrieval for prompts and learning from verified successes.

    An implementation may also offer ``templates_for(instruction) -> list[PlanTemplate]``:
    verified plans the steward falls back to when the model cannot write one (optional; the
    orchestrator looks for it).
    """

    def guidelines_for(self, instruction: str) -> tuple[str, list[dict[str, Any]]]:
        """Prompt text of similar past plans, and what was retrieved (for the run record)."""
        ...

    def expertise_for(self, task_token: str, subtask: str) -> tuple[str, list[dict[str, Any]]]:
        """Prompt text of app expertise for a subtask, and what was retrieved."""
        ...

    async def learn(self, record: RunRecord) -> list[CallRecord]:
        """Summarise a verified successful run into memory; returns the model calls made."""
        ...


class NoExperience:
    """Retrieves nothing and learns nothing (``--no-memory``)."""

    def guidelines_for(self, instruction: str) -> tuple[str, list[dict[str, Any]]]:
        return "", []

    def expertise_for(self, task_token: str, subtask: str) -> tuple[str, list[dict[str, Any]]]:
        return "", []

    def templates_for(self, instruction: str) -> list[Any]:
        return []

    async def learn(self, record: RunRecord) -> list[CallRecord]:
        return []
