"""The world of a run from CLI options: the scenario picked, the MCP servers it names started
(with their specialists), its apps built."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agents.registry import AppFactory, Registry, mcp_specialist
from apps.base import App
from apps.scenario import Scenario, demo_scenario, load_scenario
from apps.world import World
from core.errors import ScenarioError, StewardError

if TYPE_CHECKING:
    from apps.mcp import McpServers


def build_world(registry: Registry, scenario: Scenario) -> World:
    """The scenario's apps; an initial state an app cannot take is a ``ScenarioError``."""
    factories = {name: _checked(name, registry.get(name).app_factory) for name in scenario.apps}
    return World.build(scenario, factories)


def _checked(name: str, factory: AppFactory) -> AppFactory:
    def build(state: dict[str, Any]) -> App:
        try:
            return factory(state)
        except StewardError:
            raise
        except Exception as exc:  # the app choked on a state of the wrong shape
            raise ScenarioError(
                f"scenario app {name!r}: its initial state does not fit the app "
                f"({type(exc).__name__}: {exc})"
            ) from None

    return build


def pick_scenario(path: str | None, registry: Registry, *, config: str | None = None) -> Scenario:
    """The scenario file at ``path``, which may name the MCP servers of the config file
    (``config``, else the running command's ``--config``); else the demo world with every
    configured MCP server in it."""
    from apps import mcp

    servers = mcp.load_mcp_config(config or command_config())
    if path is None:
        for reason in mcp.clashes(servers, registry.names).values():
            click.echo(f"warning: {reason}", err=True)
        return mcp.with_servers(demo_scenario(), servers, registry.names)
    return load_scenario(Path(path), mcp.known_apps(servers, registry.names))


def command_config() -> str | None:
    """The ``--config`` the running ``steward`` command was given, if any."""
    ctx = click.get_current_context(silent=True)
    value = ctx.params.get("config") if ctx is not None else None
    return value if isinstance(value, str) else None


def start_mcp_servers(
    registry: Registry, scenario: Scenario, config: str | None
) -> tuple[Registry, Scenario, McpServers | None]:
    """Start the MCP servers the scenario names; returns the registry with their specialists
    (``<mcp:NAME>``), the scenario without those that could not start (each a warning on
    stderr, and kept in the record's settings), and the servers."""
    if all(name in registry for name in scenario.apps):
        return registry, scenario, None
    from apps import mcp

    mcp.quiet_sdk_logs()
    config_ = mcp.load_mcp_config(config or command_config())
    servers, scenario = mcp.start_servers(scenario, config_, registry.names)
    for line in servers.warnings():
        click.echo(f"warning: {line}", err=True)
    specialists = [mcp_specialist(app) for app in servers.apps.values()]
    return registry.extended(specialists), scenario, servers
