"""MCP servers in a run's world: which of a scenario's apps are MCP servers, the default world
with every configured server in it, and the servers a scenario needs, started.

``taken`` is the names other specialists already have (the registry's): a built-in or plugin
app keeps its name, and an ``[mcp.NAME]`` table with the same name is unusable, with why.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from apps.mcp.app import McpServers
from apps.mcp.config import McpConfig
from apps.mcp.hub import McpHub
from apps.scenario import Scenario


def clashes(config: McpConfig, taken: Collection[str]) -> dict[str, str]:
    """Servers whose name another specialist has, with a one-line reason."""
    return {
        name: (
            f"MCP server {name!r}: the name is taken by the app {name!r}; rename the table "
            f"[mcp.{name}] (the server is not used)"
        )
        for name in config.names
        if name in taken
    }


def known_apps(config: McpConfig, taken: Collection[str]) -> list[str]:
    """App names a scenario may use: ``taken`` and every server the config names."""
    return [*taken, *(name for name in config.names if name not in taken)]


def with_servers(scenario: Scenario, config: McpConfig, taken: Collection[str]) -> Scenario:
    """``scenario`` with every configured server in it (the default world's MCP apps)."""
    extra: dict[str, dict[str, Any]] = {
        name: {} for name in config.names if name not in taken and name not in scenario.apps
    }
    if not extra:
        return scenario
    return scenario.model_copy(update={"apps": {**scenario.apps, **extra}})


def start_servers(
    scenario: Scenario, config: McpConfig, taken: Collection[str], *, hub: McpHub | None = None
) -> tuple[McpServers, Scenario]:
    """Start the MCP servers ``scenario`` names (those not in ``taken``); returns them and the
    scenario without the ones that are unavailable (``McpServers.unavailable`` says why)."""
    wanted = [name for name in scenario.apps if name not in taken]
    servers = McpServers.start(
        {name: config.servers[name] for name in wanted if name in config.servers},
        errors={name: config.errors[name] for name in wanted if name in config.errors},
        hub=hub,
    )
    if not servers.unavailable:
        return servers, scenario
    apps = {n: s for n, s in scenario.apps.items() if n not in servers.unavailable}
    return servers, scenario.model_copy(update={"apps": apps})
