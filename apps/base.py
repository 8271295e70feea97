"""The ``App`` protocol: what a staff agent can act on."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field


class Tool(BaseModel):
    """One callable tool of an app; ``parameters`` is a JSON Schema (type object)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


@runtime_checkable
class App(Protocol):
    """An app a staff agent drives.

    ``call`` runs a tool with arguments already validated against its schema and returns a
    JSON-serialisable observation; it raises ``core.ToolError`` for a failure the model should
    see. ``snapshot`` returns the app's whole state as JSON-serialisable data, and ``restore``
    puts a snapshot back (used to resume a killed run).
    """

    name: str
    description: str

    @property
    def tools(self) -> list[Tool]: ...

    def call(self, tool: str, args: dict[str, Any]) -> Any: ...

    def snapshot(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any]) -> None: ...
