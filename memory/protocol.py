"""The memory interface the agents depend on; :class:`memory.MemoryStore` implements it."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Protocol

from memory.models import ExpertiseEntry, GuidelineEntry, Kind


class Memory(Protocol):
    """Write after verified successes, search before planning / acting, count uses."""

    def add_guideline(self, entry: GuidelineEntry) -> int:
        """Remember (or merge) a task guideline; return its id."""
        ...

    def add_expertise(self, entry: ExpertiseEntry) -> int:
        """Remember (or merge) app expertise; return its id."""
        ...

    def search_guidelines(
        self,
        query: str,
        k: int = 3,
        *,
        task_tokens: Collection[str] | None = None,
        include_scripted: bool = True,
    ) -> list[tuple[GuidelineEntry, float]]:
        """The ``k`` most relevant guidelines with scores (higher is better);
        ``include_scripted=False`` leaves out entries made by scripted models."""
        ...

    def search_expertise(
        self, query: str, task_token: str | None, k: int = 3, *, include_scripted: bool = True
    ) -> list[tuple[ExpertiseEntry, float]]:
        """The ``k`` most relevant expertise entries of ``task_token`` with scores."""
        ...

    def mark_used(self, kind: Kind, ids: Iterable[int]) -> None:
        """Count one more use for each id."""
        ...
