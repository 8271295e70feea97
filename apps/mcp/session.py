"""One MCP server's client session, kept open by a task in the hub (``apps.mcp.hub``).

Built on the official SDK's ``mcp.Client`` over ``stdio_client`` (a subprocess) or
``streamable_http_client`` (a URL). Every method here runs in the hub's loop. The session is
opened and closed by the same task (the SDK's task groups require it), which waits for
:meth:`McpConnection.stop` in between; calls from other tasks share it.

Failures are told apart so each says what happened, naming the server: a command that is not
found, output that is not MCP, a handshake that does not finish in time, a process that exits
(with the last lines of its stderr), a call that gets no answer in time (the server is then
stopped: a hung server must not hang the run), and errors the tool itself reports.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT, Implementation
from pydantic import ValidationError

from apps.base import Tool
from apps.mcp.config import McpServerConfig, McpServerError
from apps.mcp.results import observation, to_tools
from apps.mcp.stderr import StderrTail
from core.errors import ToolError

log = logging.getLogger("steward.apps.mcp")

MAX_MESSAGE_BYTES = 256 * 1024 * 1024
"""Largest server-sent event accepted over HTTP (the SDK's default, 1 MiB, is too small for a
tool that returns a few megabytes)."""
STOP_TIMEOUT_S = 10.0
"""Longest wait for a server to stop (the SDK closes stdin, then terminates, then kills)."""
MAX_PAGES = 100
"""Most ``tools/list`` pages read from one server."""
CLIENT = Implementation(name="steward", version="0.1.0")


class McpConnection:
    """A started MCP server: its tools, and calls to them (run in the hub's loop)."""

    def __init__(self, name: str, config: McpServerConfig) -> None:
        self.name = name
        self.config = config
        self.tools: list[Tool] = []
        self.problems: list[str] = []
        """One line per tool left out (see ``apps.mcp.results.to_tools``)."""
        self.instructions = ""
        """The server's own instructions (or its name), a default description."""
        self.protocol = ""
        """The MCP protocol version the session negotiated."""
        self.failure: str | None = None
        """Why the server stopped working, once it did: every later call fails with it."""
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._stop: asyncio.Event | None = None
        self._stderr: StderrTail | None = None
        self._halting: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        """Whether the session is open and the server has not failed."""
        return self._client is not None and self.failure is None

    async def start(self) -> None:
        """Start the server and list its tools; ``McpServerError`` saying why it cannot."""
        self._ready = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._own(self._ready), name=f"mcp:{self.name}")
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), self.config.start_timeout_s)
        except TimeoutError:
            self._ready.cancel()  # nobody waits for it any more
            await self.stop()
            raise McpServerError(
                self.name,
                f"did not start within {self.config.start_timeout_s:g} s (no answer to the MCP "
                f"handshake or to tools/list from {self.config.where()}){self._said()}",
            ) from None
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop the server (close the session; a stdio server's process tree ends)."""
        task = self._task
        if task is None or task.done():
            return
        assert self._stop is not None
        self._stop.set()
        ready = self._ready
        if ready is None or not ready.done() or ready.cancelled() or ready.exception() is not None:
            task.cancel()  # still starting: abandon the handshake
        await asyncio.wait({task}, timeout=STOP_TIMEOUT_S)
        if not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=STOP_TIMEOUT_S)

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        """Call ``tool``; its observation, or ``ToolError`` naming the server when it fails."""
        if self.failure is not None:
            raise ToolError(self.failure)
        client = self._client
        if client is None:
            raise ToolError(f"MCP server {self.name!r} is not running")
        timeout = self.config.call_timeout_s
        try:
            async with asyncio.timeout(timeout + 5):  # in case the SDK's own timeout fails
                result = await client.call_tool(tool, arguments, read_timeout_seconds=timeout)
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                raise ToolError(self._hung(tool)) from None
            if exc.code == CONNECTION_CLOSED:
                raise ToolError(self._died(f"during {tool}")) from None
            raise ToolError(f"MCP server {self.name!r} refused {tool}: {exc.message}") from None
        except TimeoutError:
            raise ToolError(self._hung(tool)) from None
        except ValidationError as exc:
            raise ToolError(
                f"MCP server {self.name!r} answered {tool} with something that is not an MCP "
                f"result ({exc.errors()[0]['msg']})"
            ) from None
        except (httpx2.HTTPError, OSError) as exc:
            raise ToolError(
                f"MCP server {self.name!r} could not be reached for {tool}: {exc}"
            ) from None
        return observation(result)

    # -- the owner task ---------------------------------------------------------------------

    async def _own(self, ready: asyncio.Future[None]) -> None:
        """Open the session, list the tools, wait for ``stop``, close the session."""
        assert self._stop is not None
        try:
            async with AsyncExitStack() as stack:
                client = Client(
                    self._transport(stack),
                    read_timeout_seconds=self.config.start_timeout_s,
                    message_handler=self._on_message,
                    client_info=CLIENT,
                )
                await stack.enter_async_context(client)
                self._close_stderr()
                listed = await self._list_tools(client)
                self.tools, self.problems = to_tools(self.name, listed)
                self.protocol = client.protocol_version
                info = client.server_info
                self.instructions = client.instructions or (info.name if info else "") or ""
                self._client = client
                if not ready.done():
                    ready.set_result(None)
                await self._stop.wait()
        except asyncio.CancelledError:
            ready.cancel()  # stopped while starting: :meth:`start` says why
            raise
        except BaseException as exc:
            reason = self._reason(_leaf(exc))
            if not ready.done():
                ready.set_exception(McpServerError(self.name, reason))
            elif self.failure is None:
                self.failure = f"MCP server {self.name!r} stopped: {reason}"
            log.debug("MCP server %s: session ended: %r", self.name, exc)
        finally:
            self._client = None
            self._close_stderr()

    def _transport(self, stack: AsyncExitStack) -> AbstractAsyncContextManager[Any]:
        cfg = self.config
        if cfg.command is not None:
            self._stderr = StderrTail(self.name)
            params = StdioServerParameters(
                command=cfg.command, args=list(cfg.args), env=dict(cfg.env) or None, cwd=cfg.cwd
            )
            return stdio_client(params, errlog=self._stderr.write_end)
        assert cfg.url is not None
        http = httpx2.AsyncClient(
            headers=dict(cfg.headers),
            timeout=httpx2.Timeout(cfg.start_timeout_s, read=cfg.call_timeout_s + 5),
        )
        stack.push_async_callback(http.aclose)
        return streamable_http_client(
            cfg.url, http_client=http, max_sse_event_size=MAX_MESSAGE_BYTES
        )

    async def _list_tools(self, client: Client) -> list[Any]:
        listed: list[Any] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await client.list_tools(cursor=cursor)
            listed.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        return listed

    async def _on_message(self, message: Any) -> None:
        """Output that does not parse as JSON-RPC ends a start at once: not an MCP server."""
        if isinstance(message, Exception):
            ready = self._ready
            if ready is not None and not ready.done():
                ready.set_exception(
                    McpServerError(
                        self.name,
                        f"does not speak MCP: {self.config.where()} wrote {_shown(message)}",
                    )
                )
            else:
                log.info("MCP server %s wrote something that is not MCP: %s", self.name, message)

    # -- failures -----------------------------------------------------------------------------

    def _hung(self, tool: str) -> str:
        """A call got no answer in time: the server is stopped for the rest of the run."""
        self.failure = (
            f"MCP server {self.name!r} stopped answering: {tool} got no answer within "
            f"{self.config.call_timeout_s:g} s, so the server was stopped (the call may or may "
            "not have taken effect)"
        )
        halt = asyncio.create_task(self.stop())
        self._halting.add(halt)
        halt.add_done_callback(self._halting.discard)
        return self.failure

    def _died(self, when: str) -> str:
        what = "exited or crashed" if self.config.command is not None else "closed the connection"
        self.failure = f"MCP server {self.name!r} {what} {when}{self._said()}"
        return self.failure

    def _reason(self, exc: BaseException) -> str:
        cfg = self.config
        if isinstance(exc, McpServerError):
            return exc.reason
        if isinstance(exc, FileNotFoundError) and cfg.command is not None:
            return (
                f"command {cfg.command!r} not found (install it, or give its full path in "
                f"[mcp.{self.name}] command)"
            )
        if isinstance(exc, PermissionError) and cfg.command is not None:
            return f"command {cfg.command!r} cannot be run: {exc.strerror or exc}"
        if isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED:
            return f"{cfg.where()} ended before the MCP handshake finished{self._said()}"
        if isinstance(exc, httpx2.HTTPError | OSError):
            return f"cannot reach {cfg.where()}: {exc}"
        if isinstance(exc, MCPError):
            return f"{cfg.where()} answered the MCP handshake with an error: {exc.message}"
        text = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        return f"{cfg.where()} failed: {text}{self._said()}"

    def _said(self) -> str:
        """``; its stderr: ...`` with the server's last stderr lines, if any."""
        if self._stderr is None:
            return ""
        self._close_stderr()
        tail = self._stderr.tail()
        return f"; its stderr: {tail}" if tail else ""

    def _close_stderr(self) -> None:
        if self._stderr is not None:
            self._stderr.close_write()


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _shown(exc: Exception) -> str:
    """The output that failed to parse, short."""
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        if errors and "input" in errors[0]:
            return repr(str(errors[0]["input"])[:80])
    return repr(str(exc).splitlines()[0][:80]) if str(exc) else type(exc).__name__
