"""MCP servers as apps: any Model Context Protocol server a user already has becomes a
specialist (task token ``<mcp:NAME>``), its tools the staff agent's actions.

- ``McpServerConfig`` / ``McpConfig`` / ``load_mcp_config``: the ``[mcp.NAME]`` tables of the
  config file (reading them starts nothing and imports no SDK);
- ``with_servers`` / ``known_apps`` / ``clashes``: the default world gets every configured
  server; a scenario may name them; a name another app has is refused;
- ``start_servers``: start the servers a scenario names (the others are left alone);
- ``McpServers``: the servers of a run, started together (``McpServers.start``) and stopped
  together (``close`` / ``aclose``); a server that cannot start is ``unavailable``, with why;
- ``McpApp``: one server as an ``App`` (``call``, and ``acall`` for event loops);
- ``McpHub`` / ``shared_hub``: the background thread the client sessions live in
  (``quiet_sdk_logs``: the SDK's own log only with -vv);
- ``McpServerError``: a server that cannot be used, named in the message.

The official ``mcp`` SDK is imported only when a server starts (``apps.mcp.session``).
"""

from apps.mcp.app import McpApp, McpServers
from apps.mcp.config import (
    McpConfig,
    McpServerConfig,
    McpServerError,
    config_file,
    load_mcp_config,
)
from apps.mcp.hub import McpHub, quiet_sdk_logs, shared_hub
from apps.mcp.world import clashes, known_apps, start_servers, with_servers

__all__ = [
    "McpApp",
    "McpConfig",
    "McpHub",
    "McpServerConfig",
    "McpServerError",
    "McpServers",
    "clashes",
    "config_file",
    "known_apps",
    "load_mcp_config",
    "quiet_sdk_logs",
    "shared_hub",
    "start_servers",
    "with_servers",
]
