"""Limits and prompt sizes for the steward and its staff agents."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


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
