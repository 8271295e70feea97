"""The world the agents act in: the ``App`` protocol and its adapters.

- ``BfclApp`` / ``make_bfcl_app`` / ``BFCL_APPS``: the eight stateful apps of ``bfcl-eval``
  (file_system, math, messaging, posting, tickets, trading, travel, vehicle);
- ``PythonApp``: any Python object, its public methods as tools;
- ``Scenario`` / ``load_scenario`` / ``demo_scenario``: which apps exist and their initial state;
- ``World``: the app instances of a run, with snapshots and per-app locks;
- ``McpApp`` / ``McpServers`` / ``McpServerConfig`` / ``load_mcp_config``: MCP servers as apps
  (``apps.mcp``; the MCP SDK is imported only when a server starts).

Importing this package does not import ``bfcl_eval``; the first BFCL app built does.
"""

from apps.base import App, Tool, can_roll_back
from apps.bfcl import BfclApp, ToolResultError, bfcl_factories, error_text, make_bfcl_app
from apps.bfcl_catalog import BFCL_APPS, BFCL_CLASS_TO_APP, BfclAppInfo
from apps.mcp import McpApp, McpServerConfig, McpServerError, McpServers, load_mcp_config
from apps.pyobject import PythonApp, tool_hints
from apps.scenario import Scenario, demo_scenario, load_scenario, parse_scenario
from apps.world import AppFactory, World

__all__ = [
    "BFCL_APPS",
    "BFCL_CLASS_TO_APP",
    "App",
    "AppFactory",
    "BfclApp",
    "BfclAppInfo",
    "McpApp",
    "McpServerConfig",
    "McpServerError",
    "McpServers",
    "PythonApp",
    "Scenario",
    "Tool",
    "ToolResultError",
    "World",
    "bfcl_factories",
    "can_roll_back",
    "demo_scenario",
    "error_text",
    "load_mcp_config",
    "load_scenario",
    "make_bfcl_app",
    "parse_scenario",
    "tool_hints",
]
