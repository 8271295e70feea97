"""The memory learning-curve experiment's settings and results (pydantic, boundary data)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.settings import AgentSettings
from benchmarks.bfcl.results import Mode, Summary
from benchmarks.bfcl.split import leaked, span
from memory.embedding import Retrieval

CURVE_JSON = "curve.json"
CURVE_MD = "curve.md"
CURVE_PNG = "curve.png"
EXPERIMENT_JSON = "experiment.json"


class CurveConfig(BaseModel):
    """A memory learning-curve experiment."""

    model_config = ConfigDict(extra="forbid")

    category: str = "multi_turn_base"
    split: Literal["interleaved", "blocks"] = "interleaved"
    """``interleaved``: fill tasks are ``fill_offset``, +2, +4...; evaluation tasks the ones in
    between (BFCL orders tasks by app, so both slices then cover the same apps).
    ``blocks``: two contiguous slices, ``fill_offset`` and ``eval_offset`` on."""
    fill_offset: int = Field(default=0, ge=0)
    """First task of the fill slice."""
    fill: int = Field(default=50, ge=1)
    """Tasks in the fill slice (memory learns from those the checker passes)."""
    eval_offset: int | None = Field(default=None, ge=0)
    """``blocks``: first task of the evaluation slice; default: right after the fill slice."""
    eval: int = Field(default=20, ge=1)
    """Tasks in the evaluation slice (run once per point)."""
    points: list[int] = Field(default_factory=list)
    """Tasks seen at which memory is evaluated; default ``0, fill/2, fill``. 0 is always
    included (memory off)."""
    mode: Mode = "turns"
    concurrency: int = Field(default=4, ge=1)
    out: Path = Path("memory-curve")
    settings: AgentSettings = Field(default_factory=AgentSettings)
    max_calls_per_turn: int | None = None
    memory_retrieval: Retrieval | None = None
    """How the evaluated steward searches memory (see ``BenchConfig.memory_retrieval``)."""

    @model_validator(mode="after")
    def _check(self) -> CurveConfig:
        if self.split == "interleaved" and self.eval_offset is not None:
            raise ValueError(
                "an evaluation offset needs split 'blocks' (interleaved slices "
                "both start at the fill offset)"
            )
        shared = leaked(self.fill_indices(), self.eval_indices())
        if shared:  # by index: task N of every category is a version of base task N
            fill_end, eval_end = self.fill_offset + self.fill, self.eval_start + self.eval
            raise ValueError(
                f"the fill slice [{self.fill_offset}, {fill_end}) and the evaluation slice "
                f"[{self.eval_start}, {eval_end}) overlap (task indices {span(shared)}); "
                "memory must be judged on unseen tasks"
            )
        points = sorted({0, *(self.points or [self.fill // 2, self.fill])})
        if points[-1] > self.fill:
            raise ValueError(f"point {points[-1]} is beyond the {self.fill} fill tasks")
        self.points = points
        return self

    @property
    def eval_start(self) -> int:
        """Position of the first evaluation task."""
        if self.eval_offset is not None:
            return self.eval_offset
        return self.fill_offset + (1 if self.split == "interleaved" else self.fill)

    def fill_indices(self, start: int = 0, end: int | None = None) -> list[int]:
        """Positions of fill tasks ``start`` to ``end`` (default: all) in the category."""
        step = 2 if self.split == "interleaved" else 1
        every = [self.fill_offset + step * i for i in range(self.fill)]
        return every[start:end]

    def eval_indices(self) -> list[int]:
        """Positions of the evaluation tasks in the category."""
        step = 2 if self.split == "interleaved" else 1
        return [self.eval_start + step * i for i in range(self.eval)]

    def stage_path(self, start: int, end: int) -> Path:
        """Folder of the fill stage over fill tasks ``start`` to ``end`` (results, memory)."""
        return self.out / "fill" / f"tasks-{start:04d}-{end:04d}"

    def snapshot_path(self, seen: int) -> Path:
        return self.out / "memory" / f"after-{seen:04d}.db"


class CurvePoint(BaseModel):
    """The evaluation slice, run with the memory learned from ``tasks_seen`` fill tasks."""

    model_config = ConfigDict(extra="forbid")

    tasks_seen: int
    memory: bool
    """False at point 0 (the steward with memory off)."""
    guidelines: int = 0
    expertise: int = 0
    """Entries in the memory this point read."""
    retrieved_per_turn: float = 0.0
    """Memory entries put into prompts, per turn."""
    template_share: float = 0.0
    """Turns whose plan was offered a past graph as a template."""
    template_match: float | None = None
    """Of those turns (with ground-truth calls), the share whose template recruits exactly
    the apps the ground truth uses: retrieval quality, independent of the model."""
    summary: Summary


class Curve(BaseModel):
    """The whole experiment: the fill runs' summaries and one point per memory copy."""

    model_config = ConfigDict(extra="forbid")

    config: CurveConfig
    fill_model: str
    eval_model: str
    fill_tasks: int = 0
    """Fill tasks run (by any stage, this invocation or an earlier one)."""
    fill_passed: int = 0
    """Of those, the ones the checker passed: memory learned only from these."""
    learned_indices: list[int] = Field(default_factory=list)
    """Indices of the fill tasks memory learned from; no evaluated task has one of them, in
    any category."""
    fill_scripted: bool = False
    """The fill model is scripted (the oracle's replay): its entries are offered to the
    evaluated model on purpose, as a teacher's."""
    points: list[CurvePoint] = Field(default_factory=list)
    elapsed_s: float = 0.0
    files: dict[str, str] = Field(default_factory=dict)
