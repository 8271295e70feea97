"""The values the memory keeps: task guidelines, staff expertise, their provenance, lookups."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Kind = Literal["guideline", "expertise"]
"""The two kinds of memory entry."""

KINDS: tuple[Kind, ...] = ("guideline", "expertise")


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def normalise_time(value: str) -> str:
    """Parse an ISO 8601 time and return it in the canonical UTC form of :func:`now_iso`.

    Canonical strings sort in time order, so the store can compare them as text. A time
    without a zone is taken as UTC.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="microseconds")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Provenance(_Model):
    """Where an entry came from."""

    run_id: str = ""
    """The run that produced the entry (empty when unknown)."""
    model: str = ""
    """The served model name that produced the successful run."""
    created_at: str = Field(default_factory=now_iso)
    """When the entry was first written (ISO 8601, UTC)."""
    source: Literal["run", "bench", "import", "scripted"] = "run"
    """``run`` for a user run, ``bench`` for a benchmark task, ``import`` for an imported file,
    ``scripted`` for a run of a scripted or replay model (a benchmark's ground-truth oracle):
    such entries are offered to a model only when asked (``include_scripted``)."""

    @field_validator("created_at")
    @classmethod
    def _canonical_time(cls, value: str) -> str:
        return normalise_time(value)


class Action(_Model):
    """One tool call of a reusable action sequence."""

    tool: str = Field(min_length=1)
    """The app tool's name."""
    arguments: dict[str, Any] = Field(default_factory=dict)
    """The arguments it was called with."""


class GuidelineEntry(_Model):
    """The steward's task-guideline memory: an instruction and the scheduling graph that worked."""

    id: int | None = None
    """Row id in the store; ``None`` before the entry is stored."""
    instruction: str = Field(min_length=1)
    """The user instruction the graph solved."""
    graph: dict[str, Any]
    """The scheduling graph that succeeded:
    ``{"nodes": [{"id", "task_token", "instruction", "needs"}]}``."""
    guideline: str = ""
    """Short text: why this decomposition, what information flowed between subtasks."""
    task_tokens: list[str] = Field(default_factory=list)
    """The task tokens the graph uses, sorted; derived from the graph when left empty."""
    outcome: Literal["success"] = "success"
    """Only verified successes are remembered."""
    provenance: Provenance = Field(default_factory=Provenance)
    """Where the entry came from."""
    uses: int = Field(default=0, ge=0)
    """How many times the entry was retrieved into a prompt."""
    successes: int = Field(default=1, ge=0)
    """How many verified successful runs produced (or re-confirmed) this entry."""
    updated_at: str = Field(default_factory=now_iso)
    """When the entry last changed (ISO 8601, UTC)."""

    @field_validator("graph")
    @classmethod
    def _graph_has_nodes(cls, graph: dict[str, Any]) -> dict[str, Any]:
        nodes = graph.get("nodes")
        if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
            raise ValueError('graph must be {"nodes": [{...}, ...]}')
        return graph

    @field_validator("updated_at")
    @classmethod
    def _canonical_time(cls, value: str) -> str:
        return normalise_time(value)

    @model_validator(mode="after")
    def _tokens_from_graph(self) -> GuidelineEntry:
        tokens = self.task_tokens or [
            str(node["task_token"]) for node in self.graph["nodes"] if node.get("task_token")
        ]
        self.task_tokens = sorted(set(tokens))
        return self


class ExpertiseEntry(_Model):
    """A staff agent's app expertise: tips and an action sequence that solved a subtask."""

    id: int | None = None
    """Row id in the store; ``None`` before the entry is stored."""
    task_token: str = Field(min_length=1)
    """The staff agent's task token, e.g. ``<app:twitter>``: the scope of this entry."""
    subtask: str = Field(min_length=1)
    """The subtask instruction that was solved."""
    tips: list[str] = Field(default_factory=list)
    """Short lessons worth knowing next time."""
    actions: list[Action] = Field(default_factory=list)
    """A reusable action sequence that worked."""
    provenance: Provenance = Field(default_factory=Provenance)
    """Where the entry came from."""
    uses: int = Field(default=0, ge=0)
    """How many times the entry was retrieved into a prompt."""
    successes: int = Field(default=1, ge=0)
    """How many verified successful subtasks produced (or re-confirmed) this entry."""
    updated_at: str = Field(default_factory=now_iso)
    """When the entry last changed (ISO 8601, UTC)."""

    @field_validator("updated_at")
    @classmethod
    def _canonical_time(cls, value: str) -> str:
        return normalise_time(value)


Entry = GuidelineEntry | ExpertiseEntry
"""Either kind of entry."""


def kind_of(entry: Entry) -> Kind:
    """``guideline`` or ``expertise``."""
    return "guideline" if isinstance(entry, GuidelineEntry) else "expertise"


class Retrieved(_Model):
    """What one memory lookup returned, in rank order; kept in run records."""

    kind: Kind
    """Which memory was searched."""
    query: str
    """The text searched for."""
    task_token: str | None = None
    """The token the expertise lookup was scoped to (``None`` for guidelines)."""
    entries: list[GuidelineEntry | ExpertiseEntry] = Field(default_factory=list)
    """The entries found, best first."""
    scores: list[float] = Field(default_factory=list)
    """Relevance of each entry (higher is better), parallel to ``entries``."""

    @model_validator(mode="after")
    def _parallel(self) -> Retrieved:
        if len(self.entries) != len(self.scores):
            raise ValueError("entries and scores must have the same length")
        return self

    @property
    def ids(self) -> list[int]:
        """Row ids of the entries found."""
        return [e.id for e in self.entries if e.id is not None]


class MemoryDocument(_Model):
    """The versioned JSON document of ``export`` / ``import``."""

    format: Literal["steward-memory"] = "steward-memory"
    """Marks the file as a Steward memory export."""
    version: Literal[1] = 1
    """Document format version."""
    guidelines: list[GuidelineEntry] = Field(default_factory=list)
    """Task guidelines."""
    expertise: list[ExpertiseEntry] = Field(default_factory=list)
    """Staff expertise."""
