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
    read_only: bool = False
    """The tool changes nothing (MCP's ``readOnlyHint``): a call may be repeated freely."""
    idempotent: bool = False
    """Calling the tool twice with the same arguments has the effect of calling it once (MCP's
    ``idempotentHint``). A call that a killed run may or may not have made is re-run on resume
    only for such tools; for any other tool the run stops and asks."""
    destructive: bool = False
    """The tool may destroy or overwrite what is there (MCP's ``destructiveHint``), beyond
    adding to it: a candidate for asking a person before it runs. An MCP tool that is not
    read-only and says nothing is destructive, as the MCP specification assumes."""
    sensitive: bool = False
    """A person should approve a call before it runs (it sends, posts, pays, books or deletes
    on the user's behalf). Under the run's approval policy ``ask`` the run stops before such a
    call until someone decides (``orchestrator.approval``); ``destructive`` tools count too."""


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


def can_roll_back(app: App) -> bool:
    """Whether ``app.restore`` undoes the effects of its tools (``restorable``, default False)."""
    return bool(getattr(app, "restorable", False))
