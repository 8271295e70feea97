"""A cooperative model for ``StubServer``: answers the steward's and staff's requests by schema.

Plans come from the instruction (``shape=fanout n=2`` or ``chain``, see
``benchmarks.perf.answers``); a staff agent calls one tool (a chosen one per app, else the
first) and then finishes; verdicts are successes unless told otherwise. Per-tool delays make
one subtask slow, and every request is classified so tests can count them per subtask.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.perf.answers import Answers, action_tools, purpose_of, request_schema
from modelclient.examples import example_instance
from modelclient.stub import StubServer


def subtask_of(body: dict[str, Any]) -> str:
    """The subtask instruction a staff or evaluate request is about ("" for others)."""
    for message in body.get("messages") or []:
        content = str(message.get("content") or "")
        if message.get("role") == "user" and content.startswith("Subtask: "):
            return content.splitlines()[0][len("Subtask: ") :]
    return ""


def tools_of(body: dict[str, Any]) -> list[str]:
    """The tool names an action request allows (``finish`` aside)."""
    schema = request_schema(body)
    return [name for name, _ in action_tools(schema)] if schema else []


def observed(body: dict[str, Any]) -> bool:
    """Whether the staff agent has already seen a tool's answer in this attempt."""
    return any(
        str(m.get("content") or "").startswith(("Observation:", "Error:", "Already done earlier"))
        for m in (body.get("messages") or [])[2:]
        if m.get("role") == "user"
    )


@dataclass
class Router:
    """The answer function; push it with ``Router.install(stub)``."""

    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Tool name -> arguments: the tool a staff agent calls when its app has it."""
    rogue: dict[str, Any] | None = None
    """An action to answer instead of any allowed one (a model that went astray)."""
    delays: dict[str, float] = field(default_factory=dict)
    """Tool name (of the app) -> seconds to wait before answering its staff's first action."""
    verdict: bool = True
    """What verdicts say."""
    finish: bool = True
    """Whether staff agents finish after one tool call (else they call it again and again)."""
    hook: Callable[[str, dict[str, Any]], None] | None = None
    """Called with (purpose, body) before answering (e.g. to inject failures)."""
    seen: list[tuple[str, str]] = field(default_factory=list)
    """(purpose, subtask) of every request answered."""
    _answers: Answers = field(default_factory=Answers)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, body: dict[str, Any]) -> str | dict[str, Any]:
        schema = request_schema(body)
        purpose = purpose_of(schema)
        with self._lock:
            self.seen.append((purpose, subtask_of(body)))
        if self.hook is not None:
            self.hook(purpose, body)
        if purpose == "act":
            return self._act(body)
        if purpose == "evaluate":
            return {
                "success": self.verdict,
                "failure_kind": "none" if self.verdict else "wrong_result",
                "tips": "" if self.verdict else "try again",
                "key_info": "done" if self.verdict else "",
            }
        return self._answers.answer(body)[1]

    def _act(self, body: dict[str, Any]) -> dict[str, Any]:
        schema = request_schema(body) or {}
        tools = action_tools(schema)
        names = [name for name, _ in tools]
        if observed(body) and self.finish:
            return {"thought": "done", "tool": "finish", "result": "done"}
        delay = max((self.delays.get(n, 0.0) for n in names), default=0.0)
        if delay and not observed(body):
            time.sleep(delay)
        if self.rogue is not None:
            return self.rogue
        for name in names:
            if name in self.calls:
                return {"thought": "", "tool": name, "arguments": self.calls[name]}
        name, arguments = tools[0]
        return {"thought": "", "tool": name, "arguments": example_instance(arguments)}

    def install(self, stub: StubServer, answers: int = 500) -> Router:
        """Queue this router as the stub's next ``answers`` answers."""
        stub.push(*([self] * answers))
        return self

    def count(self, purpose: str | None = None, subtask: str = "") -> int:
        """Requests answered, optionally of one purpose and about one subtask."""
        with self._lock:
            return sum(
                1
                for p, s in self.seen
                if (purpose is None or p == purpose) and (not subtask or subtask in s)
            )


def request_text(body: dict[str, Any]) -> str:
    """All message contents of a request, joined."""
    return "\n".join(str(m.get("content") or "") for m in body.get("messages") or [])


def dumps(value: Any) -> str:
    return json.dumps(value)
