"""Small apps and scripted models for orchestrator tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from agents.registry import Registry, Specialist
from apps.base import Tool
from apps.scenario import Scenario
from core.errors import ToolError
from modelclient.base import ChatMessage


class NotesApp:
    """Keeps notes; ``add`` returns the new note's id."""

    name = "notes"
    description = "A notebook. Add notes and read them."

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.notes: dict[str, str] = dict((state or {}).get("notes", {}))
        self.calls = 0

    @property
    def tools(self) -> list[Tool]:
        return [
            Tool(
                name="add",
                description="Add a note.",
                parameters={
                    "type": "object",
                    "properties": {"text": {"type": "string"}},
                    "required": ["text"],
                },
            ),
            Tool(
                name="read",
                description="Read a note by id.",
                parameters={
                    "type": "object",
                    "properties": {"note_id": {"type": "string"}},
                    "required": ["note_id"],
                },
            ),
        ]

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        self.calls += 1
        if tool == "add":
            note_id = f"N{len(self.notes) + 1}"
            self.notes[note_id] = args["text"]
            return {"note_id": note_id}
        if tool == "read":
            if args["note_id"] not in self.notes:
                raise ToolError(f"no note {args['note_id']}")
            return {"text": self.notes[args["note_id"]]}
        raise ToolError(f"unknown tool {tool}")

    def snapshot(self) -> dict[str, Any]:
        return {"notes": dict(self.notes)}

    def restore(self, state: dict[str, Any]) -> None:
        self.notes = dict(state.get("notes", {}))


class MailApp(NotesApp):
    """Sends mail; state is the outbox."""

    name = "mail"
    description = "Send mail to people."

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        super().__init__(state)
        self.outbox: list[dict[str, str]] = list((state or {}).get("outbox", []))

    @property
    def tools(self) -> list[Tool]:
        return [
            Tool(
                name="send",
                description="Send a mail.",
                parameters={
                    "type": "object",
                    "properties": {"to": {"type": "string"}, "body": {"type": "string"}},
                    "required": ["to", "body"],
                    "additionalProperties": False,
                },
            )
        ]

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        if tool != "send":
            raise ToolError(f"unknown tool {tool}")
        self.outbox.append(dict(args))
        return {"sent": True, "count": len(self.outbox)}

    def snapshot(self) -> dict[str, Any]:
        return {"outbox": [dict(m) for m in self.outbox]}

    def restore(self, state: dict[str, Any]) -> None:
        self.outbox = [dict(m) for m in state.get("outbox", [])]


def registry() -> Registry:
    return Registry(
        [
            Specialist(name="notes", description=NotesApp.description, app_factory=NotesApp),
            Specialist(name="mail", description=MailApp.description, app_factory=MailApp),
        ]
    )


def scenario() -> Scenario:
    return Scenario(name="test", description="", apps={"notes": {}, "mail": {}})


def kind(schema: dict[str, Any] | None) -> str:
    """Which request a steward/staff model is answering, from the schema it got."""
    if schema is None:
        return "answer"
    props = schema.get("properties", {})
    if "nodes" in props:
        return "plan"
    if "success" in props:
        return "evaluate"
    if "guideline" in props:
        return "summarize"
    if "answer" in props:
        return "answer"
    return "act"


def last_user(messages: list[ChatMessage]) -> str:
    return next(m.content for m in reversed(messages) if m.role == "user")


def subtask_of(messages: list[ChatMessage]) -> str:
    """The subtask instruction in a staff or evaluate prompt."""
    for m in messages:
        if m.role == "user" and m.content.startswith("Subtask: "):
            return m.content.splitlines()[0][len("Subtask: ") :]
    return ""


def act(tool: str, result: str = "", **arguments: Any) -> dict[str, Any]:
    if tool == "finish":
        return {"thought": "", "tool": tool, "result": result}
    return {"thought": "", "tool": tool, "arguments": arguments}


def verdict(
    success: bool, key_info: str = "", tips: str = "", kind: str = "none"
) -> dict[str, Any]:
    return {
        "success": success,
        "failure_kind": kind if not success else "none",
        "tips": tips,
        "key_info": key_info,
    }


StewardFn = Callable[[list[ChatMessage], dict[str, Any] | None], Any]


def steward_fn(
    plans: list[dict[str, Any]],
    judge: Callable[[str, list[ChatMessage]], dict[str, Any]],
    answer: str = "All done.",
) -> StewardFn:
    """A steward that returns ``plans`` in order and asks ``judge(subtask, messages)`` for verdicts."""
    queue = list(plans)

    def fn(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        k = kind(schema)
        if k == "plan":
            return queue.pop(0) if len(queue) > 1 else queue[0]
        if k == "evaluate":
            return judge(subtask_of(messages), messages)
        return {"answer": answer}

    return fn


def dumps(data: Any) -> str:
    return json.dumps(data)
