"""Progress events: what a run reports as it goes (the CLI prints them; tests collect them)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EventKind = Literal[
    "run_started",
    "plan",
    "subtask_started",
    "step",
    "verdict",
    "subtask_done",
    "replan",
    "answer",
    "run_finished",
    "note",
]


class Event(BaseModel):
    """One thing that happened in a run."""

    model_config = ConfigDict(extra="forbid")

    kind: EventKind
    run_id: str
    subtask_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    at: float = Field(default_factory=time.time)


EventCallback = Callable[[Event], None]
