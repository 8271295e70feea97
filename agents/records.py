"""What agents produce: staff steps and attempts, steward verdicts, subtask and run records."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.plan import SchedulingGraph
from core.usage import CallRecord, Usage

FailureKind = Literal[
    "none", "wrong_result", "incomplete", "tool_error", "loop", "step_cap", "other"
]
AttemptStatus = Literal[
    "finished", "step_cap", "loop", "model_error", "budget", "interrupted", "waiting"
]
"""``interrupted``: an error (a dead server, a crash) stopped the attempt midway; ``waiting``:
it stopped before a call that waits for a person's approval, and goes on from there."""
SubtaskStatus = Literal["pending", "running", "succeeded", "failed", "skipped", "waiting"]
RunStatus = Literal[
    "planning", "running", "succeeded", "failed", "budget_exceeded", "error", "waiting"
]
"""``waiting``: stopped until a person decides (see ``orchestrator.interrupted``)."""


ApprovalMark = Literal["pending", "approved", "edited", "denied"]


class Action(BaseModel):
    """One action chosen by a staff agent: a tool call, or ``finish``."""

    model_config = ConfigDict(extra="forbid")

    thought: str = ""
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: str = ""
    """The staff agent's result, when ``tool`` is ``finish``."""


class Step(BaseModel):
    """An action and what the app answered."""

    model_config = ConfigDict(extra="forbid")

    action: Action
    observation: Any = None
    """What the app returned (full value; prompts get a truncated copy)."""
    error: str | None = None
    """Tool error or validation error shown to the model instead of an observation."""
    repeated: bool = False
    """The action was identical to the previous one."""
    refused: bool = False
    """The action was not run: it repeated the previous one too often (a loop)."""
    action_id: str | None = None
    """Its entry in the run's action journal, when the app was called."""
    reused: str | None = None
    """Not run because earlier work already made this exact call: the journal id of that
    call, whose result ``observation`` repeats."""
    latency_s: float = 0.0
    """Time the app took."""
    approval: ApprovalMark | None = None
    """For a call that needed approval: ``pending`` (the attempt waits here), ``approved``,
    ``edited`` (approved with other arguments: ``action`` holds them) or ``denied`` (not
    run; ``error`` says why). Its journal id is ``action_id``."""


class Attempt(BaseModel):
    """One try of a staff agent at a subtask."""

    model_config = ConfigDict(extra="forbid")

    number: int
    """1 for the first try, 2 for the first retry..."""
    inputs: dict[str, str] = Field(default_factory=dict)
    """Key information received from the subtasks this one needs, by their id."""
    tips: str = ""
    """Reflection tips from the previous attempt's verdict."""
    steps: list[Step] = Field(default_factory=list)
    status: AttemptStatus = "finished"
    result: str = ""
    calls: list[CallRecord] = Field(default_factory=list)
    """Every model call of the staff agent in this attempt."""
    started_at: float = 0.0
    ended_at: float = 0.0
    verdict: Verdict | None = None
    changes: list[str] = Field(default_factory=list)
    """How the app's state differed from the subtask's start when the attempt ended."""
    carried: list[str] = Field(default_factory=list)
    """Journal ids of earlier calls for this work whose effects were still there when the
    attempt started (shown to it, and part of what it is judged on)."""
    rolled_back: bool = False
    """The attempt failed and the app was put back as it was before the subtask."""

    @property
    def tool_errors(self) -> int:
        return sum(1 for s in self.steps if s.error)

    @property
    def usage(self) -> Usage:
        own = Usage.total(c.usage for c in self.calls)
        if self.verdict is not None and self.verdict.call is not None:
            own = own + self.verdict.call.usage
        return own


class Verdict(BaseModel):
    """The steward's evaluation of an attempt."""

    model_config = ConfigDict(extra="forbid")

    success: bool
    failure_kind: FailureKind = "none"
    tips: str = ""
    """Reflection tips for a retry."""
    key_info: str = ""
    """What the dependent subtasks need from this one (ids, values, names)."""
    overridden: str | None = None
    """Why code overrode the model's verdict (loop, step cap, tool errors at the end)."""
    call: CallRecord | None = None


VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "success": {"type": "boolean"},
        "failure_kind": {
            "type": "string",
            "enum": ["none", "wrong_result", "incomplete", "tool_error", "loop", "other"],
        },
        "tips": {"type": "string", "maxLength": 200},
        "key_info": {"type": "string", "maxLength": 200},
    },
    "required": ["success", "failure_kind", "tips", "key_info"],
    "additionalProperties": False,
}


class SubtaskRecord(BaseModel):
    """A subtask's whole story in a run."""

    model_config = ConfigDict(extra="forbid")

    id: str
    task_token: str
    instruction: str
    needs: list[str] = Field(default_factory=list)
    status: SubtaskStatus = "pending"
    attempts: int = 0
    key_info: str = ""
    result: str = ""
    history: list[Attempt] = Field(default_factory=list)
    started_at: float = 0.0
    ended_at: float = 0.0
    usage: Usage = Field(default_factory=Usage)


class RunRecord(BaseModel):
    """Everything about a run: plan, subtasks, verdicts, calls, usage, answer."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    instruction: str
    status: RunStatus = "planning"
    graph: SchedulingGraph | None = None
    subtasks: list[SubtaskRecord] = Field(default_factory=list)
    answer: str = ""
    error: str | None = None
    replans: int = 0
    notes: list[str] = Field(default_factory=list)
    """Plan repairs and other things worth knowing about the run."""
    steward_calls: list[CallRecord] = Field(default_factory=list)
    """Planning, re-planning and answer calls (evaluations live with their attempts)."""
    plans: list[SchedulingGraph] = Field(default_factory=list)
    """Every plan of the run, the first one and each re-plan."""
    retrieved: dict[str, Any] = Field(default_factory=dict)
    """What memory returned for this run's prompts."""
    usage: Usage = Field(default_factory=Usage)
    usage_by_agent: dict[str, Usage] = Field(default_factory=dict)
    started_at: float = 0.0
    ended_at: float = 0.0
    wall_s: float = 0.0
    settings: dict[str, Any] = Field(default_factory=dict)
    """How the run was made (model, base URL, scenario name, limits), for resume and display."""
    fallbacks: list[str] = Field(default_factory=list)
    """One entry per plan or re-plan that no model answer made valid and a fallback made
    instead: ``template:<memory id>`` (a verified memory template's graph) or ``apps`` (one
    subtask per app, recruited by similarity)."""
    apps: dict[str, AppStates] = Field(default_factory=dict)
    """Each app of the world: its state before and after the run (filled when the run ends)."""
    approvals: list[ApprovalRecord] = Field(default_factory=list)
    """Every call that needed a person's approval, in the order proposed, with its decision
    (``pending`` ones are why a run is ``waiting``)."""


class ApprovalRecord(BaseModel):
    """One call that needed approval: as proposed, as approved, the decision, why and when."""

    model_config = ConfigDict(extra="forbid")

    id: str
    """Its id in the action journal (``<subtask>.<attempt>.<seq>``)."""
    subtask_id: str
    instruction: str = ""
    """The subtask's instruction."""
    app: str
    tool: str
    proposed: dict[str, Any] = Field(default_factory=dict)
    """The arguments as the agent proposed them."""
    approved: dict[str, Any] | None = None
    """The arguments approved (edited, or as proposed); ``None`` unless approved."""
    decision: Literal["pending", "approved", "denied", "withdrawn"] = "pending"
    """``withdrawn``: the attempt that proposed it was interrupted before anyone decided."""
    reason: str = ""
    by: str = ""
    """``user`` or ``policy``."""
    proposed_at: float = 0.0
    decided_at: float = 0.0
    status: str = ""
    """The call's status in the journal: ``proposed``, ``approved`` (not run yet), ``done``,
    ``denied``..."""


class AppStates(BaseModel):
    """One app's state before and after a run (``App.snapshot()`` data)."""

    model_config = ConfigDict(extra="forbid")

    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


Attempt.model_rebuild()
RunRecord.model_rebuild()
