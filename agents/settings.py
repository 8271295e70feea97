"""Limits and prompt sizes for the steward and its staff agents, and which calls need approval."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from apps.base import Tool


class AgentSettings(BaseModel):
    """How hard agents try and how much they show the model."""

    model_config = ConfigDict(extra="forbid")

    max_steps: int = 6
    """Actions a staff agent may take in one attempt."""
    max_retries: int = 1
    """Retries of a failed subtask (with the verdict's tips) before a re-plan."""
    max_replans: int = 1
    """Re-plans of the part of the graph that has not succeeded."""
    max_nodes: int = 8
    """Largest plan the steward may produce."""
    plan_repairs: int = 2
    """Times an invalid plan is sent back to the model with its errors."""
    max_repeats: int = 2
    """Identical consecutive actions allowed; one more stops the staff agent (loop)."""
    prompt_chars: int = 8000
    """Largest prompt in characters (about 3-4 per token). The default suits the embedded
    server's 4096-token window; raise it for models with larger windows."""
    max_arg_chars: int | None = None
    """Longest string a staff agent may write in one tool argument, as a cap inside the action
    schema, so constrained decoding cannot run to the token limit inside one value. ``None``
    (the default) sets no cap: real arguments can be long (BFCL writes up to 6,690 characters
    at once). `steward run` sets 160 on the embedded server, whose small model otherwise fills
    every string to the limit."""
    observation_chars: int = 600
    """Characters of an observation shown in a prompt (the record keeps it whole)."""
    history_steps: int = 8
    """Most recent steps a staff prompt shows."""
    auto_repair: bool = True
    """After the model's repair rounds, fix what is left in code (drop bad edges, rename
    duplicate ids), and when that cannot make a valid plan (or the plan call's output never
    parses), fall back to a plan made in code: a verified memory template, else one subtask
    per app (``RunRecord.fallbacks``). Off turns both off: an invalid plan or re-plan ends the
    run (``PlanInvalidError``, or the ``ModelOutputError`` of a plan call that never parsed)."""
    compose_answer: bool = True
    """Ask the steward to write the final answer (else: the subtasks' key information)."""
    parallel: bool = True
    """Run ready subtasks at the same time; off runs one subtask at a time (an ablation)."""
    evaluate: bool = True
    """Adjusted Evaluation on; off accepts every finished attempt (an ablation)."""
    require_action: bool = True
    """A subtask is work on an app: an attempt that called no tool cannot succeed, whatever
    the evaluation says (it is retried with that tip). Off for specialists that may answer
    without their tools."""


ApprovalPolicy = Literal["ask", "auto", "deny"]
"""What happens to a call that needs approval: ``ask`` stops the run there until a person
decides, ``auto`` runs it, ``deny`` refuses it at once."""


class ApprovalSettings(BaseModel):
    """Which tool calls need a person's approval before they run, and what happens to them.

    Kept apart from :class:`AgentSettings` (and saved in the run's settings under ``approval``)
    so a resume, or ``steward approve`` from another process, applies the same rules."""

    model_config = ConfigDict(extra="forbid")

    policy: ApprovalPolicy = "deny"
    """``deny`` by default: a run made through the library, ``steward mcp-serve`` or
    ``steward replay`` has no one to ask, so sensitive calls are refused (the agent is told).
    ``steward run`` asks (``ask``: on a terminal, or later with ``steward approve``); the
    benchmarks run everything (``auto``)."""
    tools: list[str] = Field(default_factory=list)
    """Patterns of more tools that need approval, ``APP.TOOL`` with shell wildcards, the app
    given by its task token or its name: ``"<app:trading>.*"``, ``"*.rm"``, ``"mail.send"``.
    Tools declared ``sensitive`` (or MCP ``destructive``) need approval anyway."""

    def covers(self, token: str, app: str, tool: Tool) -> bool:
        """Whether a call of ``tool`` on ``app`` (task token ``token``) needs approval."""
        if tool.sensitive or tool.destructive:
            return True
        names = (f"{token}.{tool.name}", f"{app}.{tool.name}")
        return any(fnmatchcase(name, pattern) for pattern in self.tools for name in names)
