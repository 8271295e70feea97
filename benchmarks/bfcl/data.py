"""BFCL v4 multi-turn data from the installed ``bfcl-eval`` package: tasks, ground truth, tools.

A task's ``question`` holds one list of messages per user turn (an empty list on the turn where
a miss_func task gets its held-out functions back); its ground truth holds one list of call
strings per turn (empty where the model should do nothing, e.g. miss_param's clarification
turns). ``tool_index()`` maps every tool of the eight apps to its app and its parameter names in
signature order, which is what positional ground-truth arguments need.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Sequence
from importlib.resources import files
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from apps import BFCL_APPS, BFCL_CLASS_TO_APP, make_bfcl_app
from benchmarks.bfcl.calls import Call, parse_call
from core.errors import UserError

CATEGORIES = (
    "multi_turn_base",
    "multi_turn_miss_func",
    "multi_turn_miss_param",
    "multi_turn_long_context",
)
"""The four multi-turn categories of BFCL v4."""

KNOWN_GT_DEFECTS: dict[str, str] = {
    "multi_turn_miss_func_49": "its ground truth calls tail at turn 1, but the task holds tail "
    "back until turn 3; with the functions shown as the task says (as BFCL does), no agent, "
    "the ground-truth replay included, can make that call",
}
"""Tasks whose shipped ground truth contradicts the task's own rules, and why."""


class ToolInfo(BaseModel):
    """Where a BFCL tool lives and what its parameters are called."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    app: str
    """Steward's app name (``file_system``...)."""
    params: tuple[str, ...]
    """Parameter names in signature order."""


@functools.cache
def tool_index() -> dict[str, ToolInfo]:
    """Tool name -> app and parameter names, for all eight apps (names are unique across them)."""
    index: dict[str, ToolInfo] = {}
    for name in BFCL_APPS:
        app = make_bfcl_app(name, {})
        for tool in app.all_tools:
            signature = inspect.signature(getattr(app.instance, tool.name))
            params = tuple(
                p.name
                for p in signature.parameters.values()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY, p.POSITIONAL_ONLY)
            )
            index[tool.name] = ToolInfo(app=name, params=params)
    return index


def parse_ground_truth(text: str) -> Call:
    """One ground-truth call string as a ``Call`` (positional arguments named)."""
    index = tool_index()
    return parse_call(text, {tool: info.params for tool, info in index.items()})


class BfclTask(BaseModel):
    """One multi-turn task with its ground truth."""

    model_config = ConfigDict(extra="forbid")

    id: str
    category: str
    turns: list[str]
    """The user's text per turn; empty on a turn that only brings held-out functions back."""
    initial_config: dict[str, Any]
    """BFCL class name -> initial state."""
    involved_classes: list[str]
    excluded_function: list[str] = Field(default_factory=list)
    """Functions never shown to the model in this task."""
    missed_function: dict[int, list[str]] = Field(default_factory=dict)
    """Turn index -> functions held out until that turn (miss_func)."""
    ground_truth: list[list[str]]
    """Call strings per turn, exactly as the package ships them (the checker's input)."""

    @property
    def apps(self) -> list[str]:
        """Steward app names of the involved classes, in the task's order."""
        return [BFCL_CLASS_TO_APP[c] for c in self.involved_classes]

    @property
    def long_context(self) -> bool:
        return "long_context" in self.category

    def gt_calls(self) -> list[list[Call]]:
        """The ground truth parsed into tool + keyword arguments, per turn."""
        return [[parse_ground_truth(c) for c in turn] for turn in self.ground_truth]

    def checker_entry(self) -> dict[str, Any]:
        """The fields of the test entry that the multi-turn checker reads."""
        return {
            "id": self.id,
            "initial_config": self.initial_config,
            "involved_classes": list(self.involved_classes),
        }


def _read_jsonl(*parts: str) -> list[dict[str, Any]]:
    try:
        root = files("bfcl_eval")
    except ModuleNotFoundError:
        raise UserError(
            "the BFCL data is missing: pip install --no-deps bfcl-eval==2026.3.23 mpmath==1.3.0"
        ) from None
    text = root.joinpath("data", *parts).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _turn_text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")


@functools.cache
def _load_all(category: str) -> tuple[BfclTask, ...]:
    questions = _read_jsonl(f"BFCL_v4_{category}.json")
    answers = {
        a["id"]: a["ground_truth"]
        for a in _read_jsonl("possible_answer", f"BFCL_v4_{category}.json")
    }
    tasks = []
    for entry in questions:
        tasks.append(
            BfclTask(
                id=entry["id"],
                category=category,
                turns=[_turn_text(turn) for turn in entry["question"]],
                initial_config=entry.get("initial_config", {}),
                involved_classes=list(entry["involved_classes"]),
                excluded_function=list(entry.get("excluded_function", [])),
                missed_function={
                    int(k): list(v) for k, v in entry.get("missed_function", {}).items()
                },
                ground_truth=answers[entry["id"]],
            )
        )
    return tuple(tasks)


def load_tasks(
    category: str,
    *,
    limit: int | None = None,
    offset: int = 0,
    indices: Sequence[int] | None = None,
) -> list[BfclTask]:
    """Tasks of ``category`` in the package's order, ``offset`` skipped, at most ``limit``;
    or, with ``indices``, exactly the tasks at those positions, in that order.

    Tasks are shared between calls: do not mutate them.
    """
    if category not in CATEGORIES:
        raise UserError(f"unknown BFCL category {category!r}; use one of: {', '.join(CATEGORIES)}")
    every = _load_all(category)
    if indices is not None:
        beyond = [i for i in indices if not 0 <= i < len(every)]
        if beyond:
            raise UserError(
                f"task {beyond[0]} is beyond the {len(every)} tasks of {category} "
                f"(positions 0-{len(every) - 1})"
            )
        return [every[i] for i in indices]
    tasks = every[offset:]
    return list(tasks if limit is None else tasks[:limit])
