"""Long texts of a view (prompts, outputs, observations), kept within a size budget.

A staff agent's prompt repeats the whole conversation so far, so the prompts of a long
subtask share most of their messages: each distinct text is kept once, in a table the view
refers to by position. When the distinct texts are still over the budget, every text is cut
to the same length, the longest that fits (short texts stay whole), so a run of any size
makes a page that opens fast, and ``steward show RUN_ID --json`` has everything.
"""

from __future__ import annotations

from viewer.text import clip

PROMPT_BUDGET = 1_500_000
"""Characters of distinct prompt and output texts kept in one page."""
OBSERVATION_BUDGET = 1_000_000
"""Characters of step observations kept in one page."""


def fair_cap(lengths: list[int], budget: int, limit: int) -> int:
    """The largest cap (at most ``limit``) such that ``sum(min(n, cap)) <= budget``."""
    if sum(min(n, limit) for n in lengths) <= budget:
        return limit
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if sum(min(n, middle) for n in lengths) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


class TextTable:
    """Distinct texts, each kept once; :meth:`add` gives a text's position."""

    def __init__(self, budget: int = PROMPT_BUDGET, limit: int = 4000) -> None:
        self.budget = budget
        self.limit = limit
        self._index: dict[str, int] = {}
        self._texts: list[str] = []

    def add(self, text: str | None) -> int:
        text = text or ""
        found = self._index.get(text)
        if found is None:
            found = self._index[text] = len(self._texts)
            self._texts.append(text)
        return found

    def texts(self) -> list[str]:
        """The table, each text cut to the cap that keeps the table within the budget."""
        cap = fair_cap([len(t) for t in self._texts], self.budget, self.limit)
        return [clip(t, max(cap, 80)) for t in self._texts]
