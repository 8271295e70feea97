"""Verdicts code can settle, and reading the ones a model writes (Adjusted Evaluation)."""

from __future__ import annotations

from typing import Any

from agents.records import Attempt, Verdict
from core.usage import CallRecord

_KINDS = {"none", "wrong_result", "incomplete", "tool_error", "loop", "other"}
_SETTLED = {"loop": "loop", "step_cap": "step_cap", "model_error": "other", "budget": "other"}
"""Attempt statuses that are failures whatever a judge would say, and their failure kind."""


def settled_verdict(attempt: Attempt, *, require_action: bool) -> Verdict | None:
    """The failed verdict when code signals already settle the attempt, else ``None``.

    Settled: a loop, the step cap, replies that never validated, a spent budget, and (with
    ``require_action``) an attempt that finished without calling a tool. The verdict carries
    the default tip for that status; ``overridden`` says it was settled in code; no call."""
    idle = require_action and attempt.status == "finished" and not acted(attempt)
    kind = "other" if idle else _SETTLED.get(attempt.status)
    if kind is None:
        return None
    reason = "no tool was called" if idle else f"attempt ended with {attempt.status}"
    return Verdict(
        success=False,
        failure_kind=kind,  # type: ignore[arg-type]
        tips=default_tip("idle" if idle else attempt.status),
        overridden=f"settled in code, no model call: {reason}",
    )


def read_verdict(data: Any, attempt: Attempt, call: CallRecord) -> Verdict:
    """The verdict a model wrote (``data`` valid under ``VERDICT_SCHEMA``), made consistent:
    a success has failure kind ``none`` and key information (the attempt's result if the
    model gave none); a failure never has kind ``none``."""
    raw = data if isinstance(data, dict) else {}
    kind = raw.get("failure_kind")
    verdict = Verdict(
        success=bool(raw.get("success")),
        failure_kind=kind if kind in _KINDS else "other",
        tips=str(raw.get("tips", "")),
        key_info=str(raw.get("key_info", "")),
        call=call,
    )
    if verdict.success:
        verdict.failure_kind = "none"
        verdict.key_info = verdict.key_info or attempt.result
    elif verdict.failure_kind == "none":
        verdict.failure_kind = "other"
    return verdict


def acted(attempt: Attempt) -> bool:
    """Whether the attempt called at least one of the app's tools, or found the work's calls
    already made (carried over from an attempt that was judged failed, or from before a
    resume)."""
    return bool(attempt.carried) or any(
        s.action.tool != "finish" and not s.refused for s in attempt.steps
    )


def default_tip(status: str) -> str:
    """The reflection tip for an attempt that ended with ``status`` (``idle``: no tool)."""
    if status == "idle":
        return "You called no tool; do the subtask with the app's tools before you finish."
    if status == "loop":
        return "You repeated the same action; read the last observation and change course."
    if status == "step_cap":
        return "You ran out of steps; go straight to the tools the subtask needs, then finish."
    return "Your replies were not valid; reply with one JSON action per turn."


def attempt_signals(attempt: Attempt) -> list[str]:
    """Facts about an attempt that the evaluation must see."""
    signals = []
    errors = attempt.tool_errors
    if errors:
        signals.append(f"{errors} tool error(s)")
        last_call = next((s for s in reversed(attempt.steps) if s.action.tool != "finish"), None)
        if last_call is not None and last_call.error:
            signals.append("the last tool call failed")
    if any(s.repeated for s in attempt.steps):
        signals.append("an action was repeated")
    if attempt.status == "loop":
        signals.append("stopped for repeating itself")
    if attempt.status == "step_cap":
        signals.append("ran out of steps before finishing")
    if attempt.status == "model_error":
        signals.append("the agent's replies never validated")
    if not acted(attempt):
        signals.append("no tool was called")
    return signals
