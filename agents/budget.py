"""Run budgets: tokens, model calls and a wall-clock deadline, shared by every agent of a run."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict

from core.errors import BudgetExceededError
from core.usage import Usage


class BudgetLimits(BaseModel):
    """Per-run limits; ``None`` means unlimited."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = None
    """Prompt + completion tokens over the whole run."""
    max_calls: int | None = None
    """Model calls over the whole run (re-asks count)."""
    deadline_s: float | None = None
    """Wall-clock seconds from the run's start."""


class Budget:
    """Tracks spending; ``check`` raises ``BudgetExceededError`` once a limit is passed."""

    def __init__(self, limits: BudgetLimits | None = None, *, spent: Usage | None = None) -> None:
        self.limits = limits or BudgetLimits()
        self.spent = spent or Usage()
        self.started = time.monotonic()

    def charge(self, usage: Usage) -> None:
        self.spent = self.spent + usage

    def exceeded(self) -> str | None:
        """Why the budget is spent, or ``None``."""
        lim = self.limits
        if lim.max_tokens is not None and self.spent.total_tokens >= lim.max_tokens:
            return f"token budget of {lim.max_tokens} spent ({self.spent.total_tokens} used)"
        if lim.max_calls is not None and self.spent.calls >= lim.max_calls:
            return f"model-call budget of {lim.max_calls} spent"
        if lim.deadline_s is not None and time.monotonic() - self.started >= lim.deadline_s:
            return f"deadline of {lim.deadline_s:g} s passed"
        return None

    def check(self) -> None:
        reason = self.exceeded()
        if reason:
            raise BudgetExceededError(reason)
