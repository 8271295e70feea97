"""Scoring through the package's own multi-turn checker (never a re-implementation).

``multi_turn_checker`` replays our recorded call strings and the ground truth on fresh
instances of its own, keyed by model name and task id in a module global of
``multi_turn_utils``. Each benchmark run uses a fresh model name, and the instances of a task
are dropped once it is scored so a 200-task run does not keep 400 app sets alive.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict

from benchmarks.bfcl.data import BfclTask

log = logging.getLogger("steward.benchmarks")

Decoded = list[list[list[str]]]
"""Per turn, per step, the call strings of that step (the checker's input)."""


class Score(BaseModel):
    """The checker's verdict on one task."""

    model_config = ConfigDict(extra="forbid")

    valid: bool
    error_type: str | None = None
    error_message: str | None = None
    failed_turn: int | None = None
    turns_passed: int = 0
    turn_count: int = 0


def checker_model_name() -> str:
    """A model name no earlier run in this process used (the checker caches by name)."""
    return f"steward_bench_{uuid.uuid4().hex[:10]}"


def _sanitize(name: str) -> str:
    return re.sub(r"[-./:]", "_", name)


def forget_instances(model_name: str, task_id: str) -> int:
    """Drop the checker's cached instances of ``task_id`` under ``model_name``; returns how many."""
    from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_utils

    cache = vars(multi_turn_utils)
    prefix, middle = _sanitize(model_name), f"_{_sanitize(task_id)}_"
    keys = [k for k in cache if k.startswith(prefix) and middle in k and k.endswith("_instance")]
    for key in keys:
        del cache[key]
    return len(keys)


def _failed_turn(result: dict[str, Any]) -> int | None:
    executed = result.get("execution_result") or (result.get("details") or {}).get(
        "execution_result"
    )
    if isinstance(executed, list) and executed:
        return len(executed) - 1
    match = re.search(r"turn (\d+)", str(result.get("error_message", "")))
    return int(match.group(1)) if match else None


def score_task(
    task: BfclTask, decoded: Decoded, *, model_name: str, compound: bool = False
) -> Score:
    """Run the official checker on ``decoded``; a compound run is checked as one turn whose
    ground truth is every turn's calls in order."""
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import multi_turn_checker

    ground_truth = (
        [[c for turn in task.ground_truth for c in turn]] if compound else task.ground_truth
    )
    turns = len(ground_truth)
    if len(decoded) != turns:
        return Score(
            valid=False,
            error_type="multi_turn:force_terminated",
            error_message=f"{len(decoded)} turn(s) of results for {turns} turn(s)",
            failed_turn=min(len(decoded), turns),
            turns_passed=0,
            turn_count=turns,
        )
    try:
        result = multi_turn_checker(
            decoded, ground_truth, task.checker_entry(), task.category, model_name
        )
    except Exception as exc:  # the checker asserts on mismatched instances
        log.warning("checker raised on %s: %r", task.id, exc)
        result = {
            "valid": False,
            "error_type": "checker_exception",
            "error_message": f"{type(exc).__name__}: {exc}",
        }
    finally:
        forget_instances(model_name, task.id)
    if result.get("valid"):
        return Score(valid=True, turns_passed=turns, turn_count=turns)
    failed = _failed_turn(result)
    return Score(
        valid=False,
        error_type=str(result.get("error_type", "")) or None,
        error_message=str(result.get("error_message", ""))[:500] or None,
        failed_turn=failed,
        turns_passed=failed if failed is not None else 0,
        turn_count=turns,
    )
