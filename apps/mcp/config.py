"""The ``[mcp.NAME]`` tables of the config file: which MCP servers become apps.

::

    [mcp.files]                   # a server started as a subprocess, spoken to over stdio
    command = "npx"
    args = ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/notes"]
    env = {LOG_LEVEL = "warn"}
    description = "My notes folder."

    [mcp.search]                  # a server that already runs, over streamable HTTP
    url = "http://127.0.0.1:9000/mcp"

The file is found as the models config finds it (``modelclient.config``): the given path, else
``$STEWARD_CONFIG``, else ``<data dir>/config.toml``. Reading it never starts a server and never
imports the MCP SDK. A table that is wrong is kept as a one-line error for its server (see
:class:`McpConfig`), so the other servers, and every other app, still work.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import ConfigError, UserError
from core.paths import data_dir

NAME = re.compile(r"^[a-z][a-z0-9_\-]*$")
"""What a server's name must look like (it is the app's name, as for every specialist)."""


class McpServerError(UserError):
    """An MCP server could not be started or listed: the message names it and says why."""

    def __init__(self, server: str, reason: str) -> None:
        self.server = server
        self.reason = reason
        super().__init__(f"MCP server {server!r}: {reason}")


class McpServerConfig(BaseModel):
    """One MCP server: a command to start (stdio) or a URL to reach (streamable HTTP)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    command: str | None = None
    """Program that runs the server over stdio, e.g. ``npx`` or ``uvx`` (found on PATH)."""
    args: list[str] = Field(default_factory=list)
    """Its command-line arguments."""
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment variables for the server process (over HOME, PATH, USER, ...)."""
    cwd: str | None = None
    """Working folder of the server process; default: the current one."""
    url: str | None = None
    """Streamable HTTP endpoint of a running server, e.g. ``http://127.0.0.1:9000/mcp``."""
    headers: dict[str, str] = Field(default_factory=dict)
    """HTTP headers sent to a ``url`` server (e.g. ``Authorization``); never logged."""
    description: str = ""
    """What the server is for, as the steward reads it when it recruits; default: the server's
    own instructions or name."""
    call_timeout_s: float = Field(default=60.0, gt=0)
    """Seconds one tool call may take. A server that does not answer in time is stopped for the
    rest of the run (it hangs): the call and every later one on it fail with the reason."""
    start_timeout_s: float = Field(default=30.0, gt=0)
    """Seconds to start the server and list its tools (``npx`` may download it first)."""

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either command (a server to start) or url (a running server)")
        if self.command is not None and not self.command.strip():
            raise ValueError("command is empty")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {self.url!r}")
        return self

    @property
    def transport(self) -> Literal["stdio", "http"]:
        """``stdio`` (a command) or ``http`` (a URL)."""
        return "stdio" if self.command is not None else "http"

    def where(self) -> str:
        """The command line or the URL, for messages (no headers, no environment)."""
        if self.command is None:
            return str(self.url)
        line = " ".join(" ".join([self.command, *self.args]).split())
        return line if len(line) <= 120 else line[:117] + "..."


class McpConfig(BaseModel):
    """The MCP servers a config file names: the valid ones, and one line per broken table."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    servers: dict[str, McpServerConfig] = Field(default_factory=dict)
    """Server name -> its settings."""
    errors: dict[str, str] = Field(default_factory=dict)
    """Server name -> why its table cannot be used (one line naming the server)."""
    file: str | None = None
    """The file read, if any."""

    @property
    def names(self) -> list[str]:
        """Every server the file names, usable or not."""
        return sorted({*self.servers, *self.errors})


def config_file(path: str | Path | None) -> Path | None:
    """The config file to read: ``path``, else ``$STEWARD_CONFIG``, else
    ``<data dir>/config.toml`` when it exists; a ``ConfigError`` for a named file that does not."""
    if path is not None:
        file = Path(path).expanduser()
        if not file.is_file():
            raise ConfigError(f"config file {file} not found")
        return file
    env = os.environ.get("STEWARD_CONFIG")
    if env:
        file = Path(env).expanduser()
        if not file.is_file():
            raise ConfigError(f"config file {file} (from $STEWARD_CONFIG) not found")
        return file
    default = data_dir() / "config.toml"
    return default if default.is_file() else None


def load_mcp_config(path: str | Path | None = None) -> McpConfig:
    """The ``[mcp.NAME]`` tables of the config file (see :func:`config_file`).

    A file that cannot be read or parsed is a ``ConfigError``; a table that is wrong only makes
    its own server unusable (``McpConfig.errors``)."""
    file = config_file(path)
    if file is None:
        return McpConfig()
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror or exc}") from None
    tables = raw.get("mcp", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{file}: [mcp] must be a table of servers, e.g. [mcp.files]")
    config = McpConfig(file=str(file))
    for name, table in tables.items():
        problem = _problem(name, table)
        if problem:
            config.errors[name] = f"MCP server {name!r} ([mcp.{name}] in {file}): {problem}"
            continue
        config.servers[name] = McpServerConfig.model_validate(table)
    return config


def _problem(name: str, table: Any) -> str:
    """Why ``[mcp.NAME]`` cannot be used, or ``""``."""
    if not NAME.match(name):
        return "the name must be lower case letters, digits, _ or - (it names the app)"
    if not isinstance(table, dict):
        return "must be a table with command = ... or url = ..."
    try:
        McpServerConfig.model_validate(table)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        msg = str(first["msg"]).removeprefix("Value error, ")
        return f"{where}: {msg}" if where else msg
    return ""
