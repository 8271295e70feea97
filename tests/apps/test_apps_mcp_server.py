"""The MCP server the tests drive, written here with the official SDK's ``MCPServer`` (the
successor of FastMCP), and helpers to run it over stdio and streamable HTTP.

The server (``SERVER``) keeps its notes and log in a JSON file, so its state survives a
restart as an outside service's would, and writes its pid to a file, so tests can check that
no server process is left behind. The MCP test modules import the helpers from here.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from apps.mcp import McpServerConfig

SERVER = '''
"""A notebook MCP server for Steward's tests."""
import asyncio, json, os, sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import Tool, ToolAnnotations
from pydantic import BaseModel

STORE = Path(os.environ["NOTES_STORE"])
with open(os.environ["PID_FILE"], "a") as pids:
    pids.write(f"{os.getpid()}\\n")


def load():
    return json.loads(STORE.read_text()) if STORE.exists() else {"notes": {}, "log": []}


def save(data):
    STORE.write_text(json.dumps(data))


class Notes(MCPServer):
    async def list_tools(self):
        tools = await super().list_tools()
        if os.environ.get("BAD_SCHEMA"):
            bad = {"type": "object", "properties": {"x": {"type": "no-such-type"}}}
            tools.append(Tool(name="broken", description="Broken.", input_schema=bad))
        return tools


server = Notes("notes", instructions="A notebook kept in a file: notes by title, and a log.")


class Info(BaseModel):
    notes: int
    log: int


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def get_note(title: str) -> str:
    """Read the note called title."""
    notes = load()["notes"]
    if title not in notes:
        raise ToolError(f"no note called {title!r}")
    return notes[title]


@server.tool(annotations=ToolAnnotations(idempotent_hint=True, destructive_hint=True))
def put_note(title: str, text: str) -> str:
    """Write (or overwrite) the note called title."""
    data = load()
    data["notes"][title] = text
    save(data)
    return f"saved {title}"


@server.tool(annotations=ToolAnnotations(destructive_hint=False))
def append_log(line: str) -> int:
    """Append a line to the log; returns how many lines it has."""
    data = load()
    data["log"].append(line)
    save(data)
    return len(data["log"])


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def info() -> Info:
    """How many notes and log lines there are."""
    data = load()
    return Info(notes=len(data["notes"]), log=len(data["log"]))


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def big(megabytes: int) -> str:
    """A text of that many megabytes."""
    return ("0123456789abcdef" * 65536) * megabytes


@server.tool(annotations=ToolAnnotations(idempotent_hint=True, destructive_hint=False))
async def slow(seconds: float) -> str:
    """Answers after that many seconds (and changes nothing)."""
    await asyncio.sleep(seconds)
    return "slept"


@server.tool()
async def hang() -> str:
    """Never answers."""
    await asyncio.sleep(3600)
    return "never"


@server.tool()
def crash() -> str:
    """Ends the server process at once."""
    print("crashing now, as asked", file=sys.stderr, flush=True)
    os._exit(3)


class Legacy:
    """Answers server/discover with "method not found", as a server of the 2025 protocol
    does: clients fall back to the initialize handshake, and answers come as SSE streams."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if b'"server/discover"' in body:
            error = {"code": -32601, "message": "Method not found"}
            answer = {"jsonrpc": "2.0", "id": json.loads(body).get("id"), "error": error}
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": json.dumps(answer).encode()})
            return
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    elif sys.argv[1:2] == ["http-legacy"]:
        import uvicorn

        app = Legacy(server.streamable_http_app())
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
    else:
        server.run()
'''

TOOLS = {"get_note", "put_note", "append_log", "info", "big", "slow", "hang", "crash"}


def write_server(folder: Path) -> Path:
    """The test server's script, in ``folder``."""
    path = folder / "notes_server.py"
    path.write_text(SERVER)
    return path


def server_env(folder: Path, **extra: str) -> dict[str, str]:
    """The test server's environment: its store and pid files in ``folder``."""
    return {"NOTES_STORE": str(folder / "store.json"), "PID_FILE": str(folder / "pids"), **extra}


def stdio_config(folder: Path, **fields: Any) -> McpServerConfig:
    """A config that starts the test server over stdio, its files in ``folder``."""
    env = server_env(folder, **fields.pop("env", {}))
    args = [str(write_server(folder))]
    return McpServerConfig(command=sys.executable, args=args, env=env, **fields)


def toml_table(name: str, folder: Path, **extra: Any) -> str:
    """``[mcp.NAME]`` for the test server over stdio, as a config file has it."""
    cfg = stdio_config(folder)
    lines = [f"[mcp.{name}]", f"command = {cfg.command!r}", f"args = {cfg.args!r}"]
    env = ", ".join(f"{k} = {v!r}" for k, v in cfg.env.items())
    lines.append(f"env = {{{env}}}")
    lines += [f"{k} = {v!r}" for k, v in extra.items()]
    return "\n".join(lines).replace("'", '"') + "\n"


def pids(folder: Path) -> list[int]:
    """The pids of every test server process started with ``folder``."""
    file = folder / "pids"
    return [int(x) for x in file.read_text().split()] if file.exists() else []


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return False
    return True


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    """Whether ``pid`` ends within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def http_server(folder: Path, mode: str = "http") -> Iterator[str]:
    """The test server over streamable HTTP in a subprocess (``http-legacy``: speaking only
    the 2025 protocol, whose answers are SSE streams); yields its URL."""
    port = free_port()
    env = {**os.environ, **server_env(folder)}
    cmd = [sys.executable, str(write_server(folder)), mode, str(port)]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None and time.monotonic() < deadline, "HTTP server did not start"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)


def test_without_mcp_servers_the_sdk_is_not_imported(tmp_path: Path) -> None:
    """`steward agents` and `import apps` stay light: the SDK loads when a server starts."""
    out = tmp_path / "modules.txt"
    code = (
        "import atexit, sys\n"
        "def dump():\n"
        f"    open({str(out)!r}, 'w').write(' '.join(m for m in sys.modules "
        "if m.split('.')[0] in ('mcp', 'mcp_types', 'httpx2', 'uvicorn')))\n"
        "atexit.register(dump)\n"
        "import apps\n"
        "from cli.main import main\n"
        "main()\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "STEWARD_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code, "agents", "--json"], env=env, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert b'"<app:messaging>"' in done.stdout
    assert out.read_text() == ""
