"""The ground-truth replay model: ``--model oracle`` (and ``oracle-broken``).

It plays every role through the steward's whole path, so a perfect score proves that nothing
is lost between the agents and the checker:

- the steward's oracle answers plan requests with a plan built from the turn's ground-truth
  calls (consecutive calls on one app form a subtask, at most ``max_calls`` long; subtasks are
  chained with ``needs`` so they run in ground-truth order), evaluation requests with success
  and answer requests with text;
- each subtask's instruction starts with a tag ``[oracle TURN.INDEX]``; the staff oracle finds
  the tag in its prompt and answers action requests with that subtask's next call, then
  ``finish``;
- the single-agent baseline's oracle (a prompt without a tag) replays the whole turn.

A turn with no ground-truth calls is planned as one subtask on the task's first app whose staff
agent finishes without calling a tool, so the turn records no calls and still goes through
plan, dispatch, evaluation and answer. ``broken=True`` drops the last ground-truth call of
every turn: the checker must then fail (about) every task.
"""

from __future__ import annotations

import re
from typing import Any

from agents.registry import token_for
from agents.steward import STEWARD
from benchmarks.bfcl.calls import Call
from benchmarks.bfcl.data import BfclTask, tool_index
from modelclient.base import ChatMessage, Model
from modelclient.testing import FunctionModel

TAG = re.compile(r"\[oracle (\d+)\.(\d+)\]")
INSTRUCTION_CHARS = 300
"""Subtask instructions are cut to this length (plan schemas cap them); the tag comes first."""


def segments(task: BfclTask, *, compound: bool, broken: bool = False) -> list[list[Call]]:
    """Ground-truth calls per run: one list per turn, or one list for a compound run."""
    turns = [calls[:-1] if broken else calls for calls in task.gt_calls()]
    return [[c for calls in turns for c in calls]] if compound else turns


def group_calls(calls: list[Call], max_calls: int) -> list[tuple[str, list[Call]]]:
    """Consecutive calls on the same app, in runs of at most ``max_calls``."""
    index = tool_index()
    groups: list[tuple[str, list[Call]]] = []
    for call in calls:
        app = index[call.tool].app
        if groups and groups[-1][0] == app and len(groups[-1][1]) < max_calls:
            groups[-1][1].append(call)
        else:
            groups.append((app, [call]))
    return groups


class OracleModels:
    """The oracle's models for one task (``model_for(role)``), fed turn by turn."""

    def __init__(
        self,
        task: BfclTask,
        *,
        compound: bool = False,
        broken: bool = False,
        max_calls: int = 7,
        name: str = "oracle",
    ) -> None:
        self.task = task
        self.name = name
        self.segments = segments(task, compound=compound, broken=broken)
        self.max_calls = max(1, max_calls)
        self.turn = 0
        self._subtasks: dict[tuple[int, int], list[Call]] = {}
        self._cursor: dict[tuple[int, int], int] = {}
        self._single = 0
        self._models: dict[str, Model] = {}

    def begin_turn(self, index: int) -> None:
        """The next requests belong to run ``index`` (a turn, or 0 for a compound run)."""
        self.turn = index
        self._single = 0

    def model_for(self, role: str) -> Model:
        model = self._models.get(role)
        if model is None:
            fn = self._steward if role == STEWARD else self._staff
            model = self._models[role] = FunctionModel(fn, name=self.name)
        return model

    # -- the steward ------------------------------------------------------------------------

    def _steward(self, messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        props = (schema or {}).get("properties", {})
        if "nodes" in props:
            return self.plan()
        if "success" in props:
            return {"success": True, "failure_kind": "none", "tips": "", "key_info": "done"}
        if "guideline" in props:
            return {"guideline": "Replayed the ground truth.", "tips": []}
        if "answer" in props:
            return {"answer": "Done."}
        return "Done."

    def plan(self) -> dict[str, Any]:
        """The plan of the current turn (and remember each subtask's calls)."""
        calls = self.segments[self.turn] if self.turn < len(self.segments) else []
        groups = group_calls(calls, self.max_calls) or [(self.task.apps[0], [])]
        nodes = []
        for i, (app, group) in enumerate(groups):
            key = (self.turn, i)
            self._subtasks[key] = group
            self._cursor[key] = 0
            listing = "; ".join(c.text() for c in group) or (
                "call no tool; the request cannot be done yet, ask the user for what is missing"
            )
            instruction = f"[oracle {key[0]}.{key[1]}] {listing}"
            if len(instruction) > INSTRUCTION_CHARS:
                instruction = instruction[: INSTRUCTION_CHARS - 3] + "..."
            nodes.append(
                {
                    "id": f"s{i + 1}",
                    "task_token": token_for(app),
                    "instruction": instruction,
                    "needs": [f"s{i}"] if i else [],
                }
            )
        return {"nodes": nodes}

    # -- staff agents -----------------------------------------------------------------------

    def _staff(self, messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        key = _find_tag(messages)
        if key is None:
            call = self._next_single()
        else:
            calls = self._subtasks.get(key, [])
            at = self._cursor.get(key, 0)
            call = calls[at] if at < len(calls) else None
            self._cursor[key] = at + 1
        # per-tool action schemas (``anyOf``) take ``result`` only with ``finish``
        strict = schema is None or "anyOf" in schema
        if call is None:
            done = {"thought": "done", "tool": "finish", "result": "done"}
            return done if strict else {**done, "arguments": {}}
        action = {"thought": "", "tool": call.tool, "arguments": dict(call.args)}
        return action if strict else {**action, "result": ""}

    def _next_single(self) -> Call | None:
        calls = self.segments[self.turn] if self.turn < len(self.segments) else []
        if self._single >= len(calls):
            return None
        self._single += 1
        return calls[self._single - 1]


def _find_tag(messages: list[ChatMessage]) -> tuple[int, int] | None:
    for message in messages:
        match = TAG.search(message.content)
        if match:
            return int(match.group(1)), int(match.group(2))
    return None
