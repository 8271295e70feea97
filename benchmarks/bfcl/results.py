"""What a BFCL benchmark run is configured with and what it produces (pydantic, boundary data)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.settings import AgentSettings
from benchmarks.bfcl.purposes import CallCounts, CallMeans
from memory.embedding import Retrieval

AgentName = Literal["steward", "single", "no-eval", "sequential", "no-memory"]
AGENTS: tuple[str, ...] = ("steward", "single", "no-eval", "sequential", "no-memory")
Mode = Literal["turns", "compound"]
MEMORY_FILE = "memory.db"
"""A benchmark's own memory file, in its ``--out`` folder."""


class BenchConfig(BaseModel):
    """One benchmark invocation."""

    model_config = ConfigDict(extra="forbid")

    category: str
    """``multi_turn_base``, ``multi_turn_miss_func``, ``multi_turn_miss_param`` or
    ``multi_turn_long_context``."""
    agent: AgentName = "steward"
    """``steward`` (full: evaluation, parallel dispatch, memory), ``single`` (one ReAct agent
    with every tool), or an ablation: ``no-eval``, ``sequential``, ``no-memory``."""
    mode: Mode = "turns"
    """``turns``: one steward run per user turn; ``compound``: all turns as one instruction."""
    limit: int | None = None
    """Tasks to run (after ``offset``); all when unset."""
    offset: int = 0
    """Tasks to skip first (pick disjoint slices, e.g. to fill memory, then evaluate)."""
    indices: list[int] | None = None
    """Positions of exactly the tasks to run (instead of ``offset`` and ``limit``)."""
    concurrency: int = Field(default=4, ge=1)
    """Tasks run at the same time."""
    out: Path = Path("bfcl-results")
    """Folder for results, run records, checkpoints and memory."""
    memory_db: Path | None = None
    """Memory store for agents with memory; default: ``<out>/memory.db``, so experiments never
    touch the user's store unless it is passed here (:func:`memory.default_path`)."""
    memory_retrieval: Retrieval | None = None
    """How memory is searched; ``None``: ``$STEWARD_MEMORY_RETRIEVAL``, else ``fts``."""
    include_scripted: bool = False
    """Also offer memory entries made by scripted models (the oracle's ground-truth replays) to
    the agents; off, they are never offered (``steward bench memory`` turns it on to let the
    replay teach a model)."""
    learn: bool = True
    """Write memory from tasks the checker passed; off: memory is only read (to evaluate a
    fixed memory, as ``steward bench memory`` does)."""
    settings: AgentSettings = Field(default_factory=AgentSettings)
    """Agent limits; the variant's switches (evaluate, parallel) are applied on top."""
    single_max_steps: int = Field(default=40, ge=1)
    """Step cap of the single agent per turn (it does a whole turn in one attempt; BFCL turns
    take up to 34 calls, and the steward may spend max_nodes x max_steps actions on one)."""
    max_calls_per_turn: int | None = None
    """Model-call budget of one turn (a steward run); unlimited when unset."""
    context_turns: int = Field(default=3, ge=0)
    """Earlier user turns repeated (as context) in each turn's instruction."""

    def variant_settings(self) -> AgentSettings:
        """``settings`` with the ablation switch of ``agent`` applied. Attempts that call no
        tool may succeed: BFCL has turns whose right answer is no call (a missing parameter
        or function), and the checker, not the steward, decides what memory learns. No final
        answer is written by the model: BFCL scores the apps' states, never the answer, so
        that call would be spent for nothing on every turn (the answer is the subtasks' key
        information, put together in code)."""
        update: dict[str, bool] = {"require_action": False, "compose_answer": False}
        if self.agent == "no-eval":
            update["evaluate"] = False
        if self.agent == "sequential":
            update["parallel"] = False
        return self.settings.model_copy(update=update)

    @property
    def uses_memory(self) -> bool:
        """Memory is on for the full steward and the ablations that keep it."""
        return self.agent in ("steward", "no-eval", "sequential")

    def result_settings(self) -> dict[str, object]:
        """What decides a task's result besides the model (in the key): a results file is only
        resumed under the same settings. Task selection, concurrency and folders may change."""
        exclude = {"limit", "offset", "indices", "concurrency", "out", "memory_db", "learn"}
        if not self.uses_memory:
            exclude.add("include_scripted")
        return self.model_dump(mode="json", exclude=exclude)

    def memory_path(self) -> Path:
        """The memory file agents with memory read and learn into."""
        return self.memory_db or self.out / MEMORY_FILE

    def key(self, model: str) -> str:
        """File stem of this run's results: category, agent, mode and model."""
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", model).strip("-") or "model"
        return f"{self.category}__{self.agent}__{self.mode}__{slug}"


LEGACY_SETTINGS: dict[str, object] = {"include_scripted": True}
"""Result settings as they were in effect before they were saved: results made before the
scripted-entry filter existed were offered every memory entry."""


class Totals(BaseModel):
    """Work done: model calls, tokens, actions, retries, re-plans, time."""

    model_config = ConfigDict(extra="forbid")

    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    actions: int = 0
    """Tool calls chosen by staff agents (refused ones included)."""
    retries: int = 0
    """Subtask attempts after the first."""
    replans: int = 0
    wall_s: float = 0.0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            model_calls=self.model_calls + other.model_calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            actions=self.actions + other.actions,
            retries=self.retries + other.retries,
            replans=self.replans + other.replans,
            wall_s=round(self.wall_s + other.wall_s, 3),
        )

    @classmethod
    def total(cls, items: Iterable[Totals]) -> Totals:
        out = cls()
        for item in items:
            out = out + item
        return out


class TurnResult(BaseModel):
    """One turn (or the one compound run) of a task."""

    model_config = ConfigDict(extra="forbid")

    index: int
    instruction: str
    run_id: str = ""
    status: str = ""
    """The run's status (``succeeded``, ``failed``, ``error``...)."""
    error: str | None = None
    calls: list[str] = Field(default_factory=list)
    """Calls that ran on the apps, as the checker reads them."""
    apps_planned: list[str] = Field(default_factory=list)
    """Apps the first plan recruited (the single agent: the apps it called)."""
    apps_expected: list[str] = Field(default_factory=list)
    """Apps of this turn's ground-truth calls."""
    recruited: bool | None = None
    """``apps_planned == apps_expected``; ``None`` for a turn without ground-truth calls."""
    unrecorded: list[str] = Field(default_factory=list)
    """Calls that ran but could not be written as safe call strings (left out)."""
    retrieved: int = 0
    """Memory entries put into this turn's prompts (0 for agents without memory)."""
    template_apps: list[str] | None = None
    """Apps of the best guideline memory offered for this turn's plan (``None``: none)."""
    totals: Totals = Field(default_factory=Totals)
    calls_by_purpose: CallCounts = Field(default_factory=CallCounts)
    """This turn's model calls by purpose."""


class TaskResult(BaseModel):
    """One task: the checker's verdict, per-turn results and totals (one JSONL line)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    category: str
    agent: str
    mode: str
    model: str
    valid: bool
    """The official checker's verdict."""
    error_type: str | None = None
    error_message: str | None = None
    failed_turn: int | None = None
    """Turn at which the checker stopped (``None`` when valid)."""
    turns_passed: int = 0
    """Turns the checker accepted before its first failure."""
    turn_count: int = 0
    recruitment: float | None = None
    """Share of turns with ground-truth calls whose recruited apps matched."""
    totals: Totals = Field(default_factory=Totals)
    """The turns' totals, plus the summary calls of learning from a passed task."""
    calls_by_purpose: CallCounts = Field(default_factory=CallCounts)
    """Model calls by purpose (the turns', and ``summarize`` when memory learned)."""
    started_at: float = 0.0
    """Unix time the task started (throughput over resumed runs can be read from these)."""
    finished_at: float = 0.0
    turns: list[TurnResult] = Field(default_factory=list)

    @property
    def per_turn_accuracy(self) -> float:
        return self.turns_passed / self.turn_count if self.turn_count else 0.0


class ServerReport(BaseModel):
    """What the model server did for the last invocation (from its ``/metrics``)."""

    model_config = ConfigDict(extra="forbid")

    prompt_tokens_per_call: float = 0.0
    """Prompt tokens per model call of the tasks run."""
    prefix_cache_queried_tokens: int | None = None
    """Prompt tokens the server looked up in its prefix cache (``None``: no counters)."""
    prefix_cache_hit_tokens: int | None = None
    """Of those, the tokens it found there: prefill it did not redo."""
    prefix_cache_hit_rate: float | None = None


class MemoryReport(BaseModel):
    """Which memory a benchmark run used, and what that memory has learned from."""

    model_config = ConfigDict(extra="forbid")

    path: str
    """The memory file."""
    user_store: bool = False
    """It is the user's own store (``--memory-db user``), which ``steward run`` reads."""
    learn: bool = True
    """The run learned into it from the tasks the checker passed."""
    include_scripted: bool = False
    """Entries made by scripted models were offered to the agents."""
    learned_tasks: list[str] = Field(default_factory=list)
    """Ids of every BFCL task this memory has learned from (any run, any category)."""
    learned_indices: list[int] = Field(default_factory=list)
    """Their indices: task N of every category is held out from evaluation with this memory."""


class Summary(BaseModel):
    """All tasks of one (category, agent, mode, model) so far."""

    model_config = ConfigDict(extra="forbid")

    category: str
    agent: str
    mode: str
    model: str
    tasks: int
    passed: int
    accuracy: float
    """Tasks the checker accepted / tasks."""
    per_turn_accuracy: float
    """Turns accepted before each task's first failure / all turns."""
    recruitment_accuracy: float | None
    """Turns whose recruited apps matched the ground truth's / turns with ground-truth calls."""
    totals: Totals
    per_task: Totals
    """Means per task (rounded)."""
    elapsed_s: float = 0.0
    """Wall time of the last invocation (a resumed run counts only what it ran)."""
    tasks_run: int = 0
    """Tasks run by the last invocation."""
    tasks_per_minute: float = 0.0
    """``tasks_run`` per minute of ``elapsed_s``."""
    concurrency: int = 1
    calls_by_purpose: CallCounts = Field(default_factory=CallCounts)
    """Model calls by purpose over all tasks."""
    calls_by_purpose_per_task: CallMeans = Field(default_factory=CallMeans)
    """The same, per task (means)."""
    task_calls_by_purpose: dict[str, CallCounts] = Field(default_factory=dict)
    """Task id -> its model calls by purpose."""
    memory: MemoryReport | None = None
    """The memory file read and learned into (agents with memory)."""
    server: ServerReport | None = None
    """Prompt tokens per call and the server's prefix-cache hits (served models)."""
    files: dict[str, str] = Field(default_factory=dict)
    """What was written: results JSONL, summary, Markdown, plots."""
