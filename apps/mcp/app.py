"""MCP servers as apps: :class:`McpApp` (one server, the ``App`` protocol) and
:class:`McpServers` (the servers of a run, started and stopped together).

An external server holds its own state: the app is not ``restorable``, its snapshot keeps
nothing and ``restore`` does nothing, so the action journal carries a failed attempt's effects
over instead of rolling them back, and a resume says the app could not be restored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from apps.base import Tool
from apps.mcp.config import McpServerConfig, McpServerError
from apps.mcp.hub import McpHub, shared_hub
from core.errors import ToolError

if TYPE_CHECKING:  # the SDK is imported when a server starts, not before
    from apps.mcp.session import McpConnection

log = logging.getLogger("steward.apps.mcp")

MARGIN_S = 15.0
"""Extra seconds a caller waits for the hub beyond a call's own timeout."""


class McpApp:
    """One started MCP server as an ``App``: its tools from ``tools/list``, calls through
    ``tools/call``. ``acall`` awaits a call without blocking the caller's event loop (the
    staff agent uses it); ``call`` blocks until the answer."""

    restorable = False
    """The server keeps its state outside Steward: nothing can be rolled back."""

    def __init__(self, connection: McpConnection, *, description: str = "", hub: McpHub) -> None:
        self.connection = connection
        self.name = connection.name
        self.description = (
            description or connection.config.description or connection.instructions or self.name
        )
        self._hub = hub
        self._tools = {t.name: t for t in connection.tools}

    @property
    def tools(self) -> list[Tool]:
        """The server's tools (those whose schema is usable; see ``problems``)."""
        return list(self._tools.values())

    @property
    def problems(self) -> list[str]:
        """One line per tool of the server left out, naming the server and the tool."""
        return list(self.connection.problems)

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        """Call ``tool`` and wait for its observation (``ToolError`` if it fails)."""
        self._check(tool)
        try:
            return self._hub.run(self.connection.call(tool, args), self._patience())
        except TimeoutError as exc:
            raise ToolError(f"MCP server {self.name!r}: {tool}: {exc}") from None

    async def acall(self, tool: str, args: dict[str, Any]) -> Any:
        """Call ``tool`` from any event loop without blocking it (``ToolError`` if it fails)."""
        self._check(tool)
        try:
            return await self._hub.arun(self.connection.call(tool, args), self._patience())
        except TimeoutError as exc:
            raise ToolError(f"MCP server {self.name!r}: {tool}: {exc}") from None

    def snapshot(self) -> dict[str, Any]:
        """Nothing: the server's state is its own."""
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        """Nothing to put back (see the module docs)."""

    def _check(self, tool: str) -> None:
        if tool not in self._tools:
            known = ", ".join(self._tools) or "none"
            raise ToolError(f"MCP server {self.name!r} has no tool {tool!r}; its tools: {known}")

    def _patience(self) -> float:
        return self.connection.config.call_timeout_s + MARGIN_S


class McpServers:
    """The MCP servers of one run: :meth:`start` starts them all at once (each in the hub,
    bounded by its ``start_timeout_s``), ``close``/``aclose`` stop them all. A server that
    cannot start is in ``unavailable`` with a one-line reason; the others work."""

    def __init__(self, *, hub: McpHub | None = None) -> None:
        self.apps: dict[str, McpApp] = {}
        """Name -> the started server's app."""
        self.unavailable: dict[str, str] = {}
        """Name -> why it is not there (one line naming the server)."""
        self._hub = hub or shared_hub()

    @classmethod
    def start(
        cls,
        servers: Mapping[str, McpServerConfig],
        *,
        errors: Mapping[str, str] | None = None,
        hub: McpHub | None = None,
    ) -> McpServers:
        """Start ``servers`` (blocking; call it outside an event loop, or in a worker thread);
        ``errors`` are servers already known to be unusable (broken config), kept as they are."""
        started = cls(hub=hub)
        started.unavailable.update(errors or {})
        if not servers:
            return started
        from apps.mcp.session import McpConnection  # imports the SDK

        connections = {name: McpConnection(name, cfg) for name, cfg in servers.items()}
        patience = max(cfg.start_timeout_s for cfg in servers.values()) + MARGIN_S
        try:
            outcomes = started._hub.run(_start_all(connections), patience)
        except TimeoutError:
            outcomes = {name: McpServerError(name, "did not start in time") for name in servers}
        for name, outcome in outcomes.items():
            if isinstance(outcome, BaseException):
                started.unavailable[name] = (
                    str(outcome)
                    if isinstance(outcome, McpServerError)
                    else f"MCP server {name!r}: {type(outcome).__name__}: {outcome}"
                )
                continue
            connection = connections[name]
            started.apps[name] = McpApp(connection, hub=started._hub)
            started._hub.keep(id(connection), connection.stop)
        return started

    def describe(self) -> dict[str, Any]:
        """What a run record keeps of its MCP servers: each one's transport, command or URL
        and tools; the unavailable ones and the tools left out, with why."""
        return {
            "servers": {
                name: {
                    "transport": app.connection.config.transport,
                    "protocol": app.connection.protocol,
                    "where": app.connection.config.where(),
                    "tools": [t.name for t in app.tools],
                }
                for name, app in self.apps.items()
            },
            "unavailable": dict(self.unavailable),
            "problems": [p for app in self.apps.values() for p in app.problems],
        }

    def warnings(self) -> list[str]:
        """One line per server that is unavailable and per tool left out, naming the server."""
        return [
            *(f"{reason}; the run goes on without it" for reason in self.unavailable.values()),
            *(problem for app in self.apps.values() for problem in app.problems),
        ]

    def close(self) -> None:
        """Stop every server (blocking)."""
        work = self._stop_all()
        if work is not None:
            try:
                self._hub.run(work, STOP_PATIENCE_S)
            except TimeoutError:
                log.warning("MCP servers did not all stop in time: %s", ", ".join(self.apps))

    async def aclose(self) -> None:
        """Stop every server (from an event loop, e.g. ``Orchestrator.aclose``)."""
        work = self._stop_all()
        if work is not None:
            try:
                await self._hub.arun(work, STOP_PATIENCE_S)
            except TimeoutError:
                log.warning("MCP servers did not all stop in time: %s", ", ".join(self.apps))

    def _stop_all(self) -> Any:
        connections = [app.connection for app in self.apps.values()]
        if not connections:
            return None
        for connection in connections:
            self._hub.forget(id(connection))

        async def stop() -> None:
            await asyncio.gather(*(c.stop() for c in connections), return_exceptions=True)

        return stop()


STOP_PATIENCE_S = 30.0
"""Longest wait for all the servers of a run to stop."""


async def _start_all(connections: Mapping[str, McpConnection]) -> dict[str, Any]:
    names = list(connections)
    results = await asyncio.gather(*(connections[n].start() for n in names), return_exceptions=True)
    return dict(zip(names, results, strict=True))
