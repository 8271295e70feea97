"""The reference replay: ``--model oracle`` (and ``oracle-broken``) for AgentDojo.

It plays every role through the steward's whole path, so scoring the references' own benign
utility proves that nothing is lost between the agents, the apps and AgentDojo's checks:

- the steward's oracle plans one subtask per app in the order of the user task's reference
  calls (consecutive calls on one app form a subtask, at most ``max_calls`` long, chained with
  ``needs``), judges every attempt a success and answers with the reference's own answer
  (``GROUND_TRUTH_OUTPUT``);
- each subtask's instruction starts with ``[oracle N]``; the staff oracle finds it in its
  prompt and plays that subtask's next reference call, then ``finish``;
- the single agent's oracle (no tag in its prompt) plays every call, then finishes with the
  reference's answer.

``broken=True`` drops the last reference call and answers without the reference's answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from agents.registry import token_for
from agents.steward import STEWARD
from benchmarks.bfcl.calls import Call
from modelclient.base import ChatMessage, Model
from modelclient.testing import FunctionModel

TAG = re.compile(r"\[oracle (\d+)\]")
INSTRUCTION_CHARS = 300
"""Subtask instructions are cut to this length (plan schemas cap them); the tag comes first."""


def group_calls(
    calls: list[Call], app_of: Callable[[str], str], max_calls: int
) -> list[tuple[str, list[Call]]]:
    """Consecutive calls on the same app, in runs of at most ``max_calls``."""
    groups: list[tuple[str, list[Call]]] = []
    for call in calls:
        app = app_of(call.tool)
        if groups and groups[-1][0] == app and len(groups[-1][1]) < max_calls:
            groups[-1][1].append(call)
        else:
            groups.append((app, [call]))
    return groups


def _listing(calls: list[Call]) -> str:
    return "; ".join(f"{c.tool}({json.dumps(c.args, sort_keys=True)})" for c in calls)


class AgentDojoOracle:
    """The oracle's models for one case (``model_for(role)``)."""

    def __init__(
        self,
        calls: list[Call],
        answer: str,
        app_of: Callable[[str], str],
        *,
        first_app: str,
        broken: bool = False,
        max_calls: int = 5,
        name: str = "oracle",
    ) -> None:
        self.calls = calls[:-1] if broken else list(calls)
        self.answer = "" if broken else answer
        self.name = name
        groups = group_calls(self.calls, app_of, max(1, max_calls))
        self.groups = groups or [(first_app, [])]
        self._cursor: dict[int, int] = {}
        self._single = 0
        self._models: dict[str, Model] = {}

    def begin_turn(self, index: int) -> None:
        """One run per case: nothing to switch."""

    def model_for(self, role: str) -> Model:
        model = self._models.get(role)
        if model is None:
            fn = self._steward if role == STEWARD else self._staff
            model = self._models[role] = FunctionModel(fn, name=self.name)
        return model

    def plan(self) -> dict[str, Any]:
        """One subtask per group of calls, chained in reference order."""
        nodes = []
        for i, (app, group) in enumerate(self.groups):
            self._cursor[i] = 0
            listing = _listing(group) or "call no tool: nothing is left to do"
            instruction = f"[oracle {i}] {listing}"
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

    def _steward(self, messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        props = (schema or {}).get("properties", {})
        if "nodes" in props:
            return self.plan()
        if "success" in props:
            return {"success": True, "failure_kind": "none", "tips": "", "key_info": "done"}
        if "guideline" in props:
            return {"guideline": "Replayed the reference solution.", "tips": []}
        if "answer" in props:
            return {"answer": self.answer}
        return self.answer or "Done."

    def _staff(self, messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        key = _find_tag(messages)
        result = "done"
        if key is None:  # the single agent: the whole reference, then the reference's answer
            call = self.calls[self._single] if self._single < len(self.calls) else None
            self._single += 1
            result = self.answer or "done"
        else:
            group = self.groups[key][1] if key < len(self.groups) else []
            at = self._cursor.get(key, 0)
            call = group[at] if at < len(group) else None
            self._cursor[key] = at + 1
        strict = schema is None or "anyOf" in schema  # per-tool action schemas
        if call is None:
            done = {"thought": "done", "tool": "finish", "result": result}
            return done if strict else {**done, "arguments": {}}
        action = {"thought": "", "tool": call.tool, "arguments": dict(call.args)}
        return action if strict else {**action, "result": ""}


def _find_tag(messages: list[ChatMessage]) -> int | None:
    for message in messages:
        match = TAG.search(message.content)
        if match:
            return int(match.group(1))
    return None
