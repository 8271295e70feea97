"""The BFCL teacher: ground truth played the way a good steward and its staff would play it.

It answers every role through the steward's whole path, like the oracle (``--model oracle``),
but what it says is what the trained experts should learn to say, so its runs become training
examples (``steward train --teacher bfcl``):

- a plan has one subtask per app the turn's ground truth uses, in the order they first act;
  its instruction is the user's own words (the sentences of the turn about that app, else the
  whole turn), never a call string; ``needs`` are real information flow: B needs A when a value
  B's calls pass appears in what A's calls returned (found by playing the ground truth on a
  shadow copy of the task's apps);
- a staff agent (routed by its task token) makes its app's ground-truth calls of the turn in
  order, then finishes with what the last call returned; the single-agent baseline makes all of
  the turn's calls; before a ``cd`` into a child folder, both first look (``ls``:
  ``benchmarks.bfcl.teacher_look``);
- a verdict is a success whose key information is what the attempt's last call returned;
- it also teaches rejection (``benchmarks.bfcl.teacher_reject``): a share of the subtasks
  (``reject_share``, chosen by a stable hash) is first attempted one call short, the verdict
  rejects that attempt as incomplete with tips that say what is missing, and the retry plays
  what is missing (all the calls if the attempt was rolled back) and is accepted.

Its models say ``prompt_style = "compact"``, so the runtime renders the prompts a trained
expert gets. It is a scripted model: what it teaches memory is marked so.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from agents.registry import token_for
from agents.similarity import app_name, score_apps
from agents.steward import STEWARD
from apps.bfcl_catalog import BFCL_APPS
from benchmarks.bfcl.calls import Call
from benchmarks.bfcl.data import BfclTask, tool_index
from benchmarks.bfcl.instructions import turn_text
from benchmarks.bfcl.oracle import OracleModels
from benchmarks.bfcl.single import SINGLE_TOKEN
from benchmarks.bfcl.teacher_look import with_looks
from benchmarks.bfcl.teacher_reject import (
    REJECT_SHARE,
    carried_over,
    judged_token,
    new_attempt,
    rejection,
    rejects,
)
from benchmarks.bfcl.world import TaskWorld
from core.errors import ToolError
from modelclient.base import ChatMessage, Model
from modelclient.testing import FunctionModel

TEACHER = "teacher"
_CLAUSE = re.compile(r"(?<=[.!?])\s+|,?\s+(?:and\s+)?then\s+|;\s+|,\s+and\s+(?=[a-z]+\s)")
"""Where a turn splits into the parts a user asks one after the other."""
_DATA = re.compile(r"<data>(.*?)</data>", re.DOTALL)
KEY_CHARS = 200
"""Key information and finish results are cut to this length (the verdict schema's cap)."""


class TeacherModels(OracleModels):
    """The teacher's models for one task, fed turn by turn (see the module docs)."""

    def __init__(
        self, task: BfclTask, *, max_calls: int = 7, reject_share: float = REJECT_SHARE
    ) -> None:
        super().__init__(task, compound=False, max_calls=max_calls, name=TEACHER)
        self.reject_share = reject_share
        """The share of subtasks attempted one call short first (then rejected and retried)."""
        self._shadow = TaskWorld(task, reveal_all=True)
        self._played = 0
        self._calls: dict[str, list[Call]] = {}
        self._left: dict[str, list[Call]] = {}
        """Role -> the calls its current attempt has still to make."""
        self._short: dict[str, Call] = {}
        """Token -> the call its current attempt leaves out (until the verdict rejects it)."""
        self._tried: set[str] = set()
        """Tokens attempted short this turn."""
        self._words: dict[str, str] = {}
        """Token -> its subtask's instruction in this turn's plan."""

    def begin_turn(self, index: int) -> None:
        super().begin_turn(index)
        self._calls = {}
        self._left = {}
        self._short = {}
        self._tried = set()
        self._words = {}

    def model_for(self, role: str) -> Model:
        model = self._models.get(role)
        if model is None:
            fn = self._teacher_steward if role == STEWARD else partial(self._teacher_staff, role)
            model = self._models[role] = FunctionModel(fn, name=self.name)
            model.prompt_style = "compact"
        return model

    # -- the steward ------------------------------------------------------------------------

    def _teacher_steward(self, messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        props = (schema or {}).get("properties", {})
        if "success" in props:
            pending = {t: self._words.get(t, "") for t in self._short}
            short = self._short.pop(judged_token(messages, pending) or "", None)
            if short is not None:
                return rejection(short)
            return {
                "success": True,
                "failure_kind": "none",
                "tips": "",
                "key_info": _last_data(messages, "->") or "done",
            }
        if "nodes" in props:
            return self.plan()
        return super()._steward(messages, schema)

    def plan(self) -> dict[str, Any]:
        """One subtask per app of the turn's ground truth, in the user's words, with the
        information flow as ``needs``."""
        calls = self.segments[self.turn] if self.turn < len(self.segments) else []
        observations = self._play(calls)
        index = tool_index()
        by_app: dict[str, list[tuple[Call, Any]]] = {}
        for call, seen in zip(calls, observations, strict=True):
            by_app.setdefault(index[call.tool].app, []).append((call, seen))
        apps = list(by_app) or [self.task.apps[0]]
        text = turn_text(self.task, self.turn)
        words = _instructions(text, apps)
        self._calls = {
            token_for(app): with_looks([c for c, _ in by_app.get(app, [])], self.max_calls)
            for app in apps
        }
        nodes = []
        for i, app in enumerate(apps):
            needs = [
                f"s{j + 1}"
                for j, earlier in enumerate(apps[:i])
                if _flows(by_app.get(earlier, []), by_app.get(app, []))
            ]
            nodes.append(
                {
                    "id": f"s{i + 1}",
                    "task_token": token_for(app),
                    "instruction": words[app],
                    "needs": needs,
                }
            )
        self._words = {str(n["task_token"]): str(n["instruction"]) for n in nodes}
        return {"nodes": nodes}

    def _play(self, calls: list[Call]) -> list[Any]:
        """Play the turn's ground truth on the shadow apps (after the earlier turns'): what
        each call returned, or its error."""
        while self._played < self.turn:  # turns the harness ran before this one
            earlier = self.segments[self._played] if self._played < len(self.segments) else []
            self._run(earlier)
            self._played += 1
        seen = self._run(calls)
        self._played += 1
        return seen

    def _run(self, calls: list[Call]) -> list[Any]:
        index = tool_index()
        out: list[Any] = []
        for call in calls:
            app = self._shadow.apps.get(index[call.tool].app)
            try:
                out.append(app.call(call.tool, dict(call.args)) if app else None)
            except ToolError as exc:
                out.append(str(exc))
        return out

    # -- staff agents -----------------------------------------------------------------------

    def _teacher_staff(
        self, role: str, messages: list[ChatMessage], schema: dict[str, Any] | None
    ) -> Any:
        if role not in self._left or new_attempt(messages):
            self._left[role] = self._attempt(role, messages)
        left = self._left[role]
        if left:
            call = left.pop(0)
            return {"thought": "", "tool": call.tool, "arguments": dict(call.args)}
        result = _last_data(messages, "Observation:") or "done"
        return {"thought": "done", "tool": "finish", "result": result}

    def _attempt(self, role: str, messages: list[ChatMessage]) -> list[Call]:
        """The calls of an attempt that starts: all of the role's calls of the turn; one
        short for a subtask picked for rejection (its first attempt); on the retry, what the
        short attempt left out, or all of them when its calls were rolled back."""
        if role == SINGLE_TOKEN:  # the single-agent baseline does the whole turn itself
            turn = self.segments[self.turn] if self.turn < len(self.segments) else []
            return with_looks(turn, 2 * len(turn))
        calls = list(self._calls.get(role, []))
        if role in self._tried:  # the retry (a verdict settled in code may not have judged)
            self._short.pop(role, None)
            return calls[-1:] if carried_over(messages) else calls
        # an attempt with no call is known to its verdict by its instruction alone
        words = self._words.get(role, "")
        told = len(calls) > 1 or list(self._words.values()).count(words) == 1
        if calls and told and rejects(self.task.id, self.turn, role, self.reject_share):
            self._tried.add(role)
            self._short[role] = calls[-1]
            return calls[:-1]
        return calls


def _instructions(text: str, apps: list[str]) -> dict[str, str]:
    """Each app's part of the user's turn: the sentences most about it (by similarity to the
    apps' descriptions and tools), else the whole turn."""
    if len(apps) == 1:
        return {apps[0]: text}
    agents = {token_for(a): BFCL_APPS[a].description if a in BFCL_APPS else a for a in apps}
    tools = {token_for(a): [t for t, i in tool_index().items() if i.app == a] for a in apps}
    parts: dict[str, list[str]] = {a: [] for a in apps}
    for sentence in [s for s in _CLAUSE.split(text) if s and s.strip()]:
        scores = score_apps(sentence, agents, tools)
        best = max(scores, key=lambda s: s.score) if scores else None
        if best is not None and best.score > 0:
            parts[app_name(best.token)].append(sentence.strip())
    return {a: " ".join(parts[a]) if parts[a] else text for a in apps}


def _flows(earlier: list[tuple[Call, Any]], later: list[tuple[Call, Any]]) -> bool:
    """Whether a value the later calls pass comes from what the earlier calls returned: equal
    to a returned value, or a returned line (or the value) found inside the other."""
    produced = {v for _, seen in earlier for v in _leaves(seen) if _telling(v)}
    lines = {
        line.strip()
        for p in produced
        if isinstance(p, str)
        for line in p.splitlines()
        if len(line.strip()) >= 6
    }
    for call, _ in later:
        for value in _leaves(call.args):
            if value in produced:
                return True
            if isinstance(value, str) and (
                any(line in value for line in lines)
                or (_telling(value) and any(value in line for line in lines))
            ):
                return True
    return False


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list | tuple):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _telling(value: Any) -> bool:
    """A value specific enough to show information flow (not ``True``, ``0`` or ``"ok"``)."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return abs(value) >= 10
    return isinstance(value, str) and len(value.strip()) >= 4


def _last_data(messages: list[ChatMessage], marker: str) -> str:
    """The data of the last line holding ``marker`` in the messages (cut to KEY_CHARS)."""
    for message in reversed(messages):
        for line in reversed(message.content.splitlines()):
            if marker in line:
                found = _DATA.findall(line)
                if found:
                    text = str(found[-1]).strip()
                    return text if len(text) <= KEY_CHARS else text[: KEY_CHARS - 3] + "..."
    return ""
