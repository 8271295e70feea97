"""``steward mcp-serve``: Steward as an MCP server, over stdio or streamable HTTP.

Any MCP client (an IDE, a desktop assistant, another agent) can then hand Steward an
instruction. Three tools:

- ``run(instruction, scenario?)``: plan and carry out the instruction as ``steward run`` does
  (same models and config); returns the run id, status and answer. Every progress line of the
  run goes out as an MCP progress notification while it works.
- ``agents()``: the specialists and their task tokens (as ``steward agents --json``).
- ``show(run_id)``: a run's whole record (as ``steward show --json``).

The MCP SDK is imported only when the command runs. No ``from __future__ import annotations``
here: the tools are defined inside :func:`build_server`, and the SDK reads their annotations
(the ``Context`` parameter) at definition time.
"""

import asyncio
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from apps.scenario import Scenario
    from orchestrator.events import EventCallback
    from orchestrator.runner import Orchestrator

INSTRUCTIONS = (
    "Steward carries out one instruction that spans several apps: a steward agent plans a "
    "graph of app subtasks, app-specialised staff agents carry them out, every result is "
    "checked. Call `agents` to see the apps, `run` to carry out an instruction, `show` to read "
    "a run's record."
)


@dataclass(frozen=True)
class ServeOptions:
    """How the server's runs are made (the options ``steward run`` takes)."""

    config: str | None = None
    """Config file: models, roles and ``[mcp.NAME]`` servers (default as ``steward run``)."""
    base_url: str | None = None
    """OpenAI-compatible server; default: the embedded one."""
    model: str | None = None
    """Served model name, or ``script:FILE`` (canned answers, read again for every run)."""
    autostart: bool = True
    """Start the embedded server when a run needs it."""
    memory: bool = True
    """Retrieve and write experience."""
    max_steps: int = 6
    """Actions per staff attempt."""
    approve: str = "deny"
    """The approval policy of its runs: ``deny`` (no one at the server can answer: sensitive
    calls are refused and the agent is told), ``auto``, or ``ask`` (the run stops, status
    ``waiting``, until someone runs ``steward approve RUN_ID``)."""


def build_server(options: ServeOptions) -> "MCPServer":
    """The MCP server with the ``run``, ``agents`` and ``show`` tools."""
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations
    from pydantic import BaseModel, Field

    from core.errors import RunError, StewardError

    class RunOutcome(BaseModel):
        """How a run ended."""

        run_id: str = Field(description="Its id: `show` it, or `steward show RUN_ID`.")
        status: str = Field(description="succeeded, failed, error, budget_exceeded or waiting.")
        answer: str = Field(description="The steward's answer (what was done, or how far).")
        error: str | None = Field(default=None, description="Why it stopped, if it did.")

    server = MCPServer("steward", instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool(annotations=ToolAnnotations(destructive_hint=True, open_world_hint=True))
    async def run(
        ctx: Context, instruction: str, scenario: str | dict[str, Any] | None = None
    ) -> RunOutcome:
        """Carry out an instruction across the apps of a scenario (default: the demo world and
        the configured MCP servers). `scenario` is a scenario (an object with `name` and `apps`:
        app name -> initial state), or a scenario file's path. Progress lines arrive as progress
        notifications; the result has the run id, status and answer."""
        lines: asyncio.Queue[str | None] = asyncio.Queue()

        async def report() -> None:
            count = 0
            while (line := await lines.get()) is not None:
                count += 1
                await ctx.report_progress(count, None, line)

        reporter = asyncio.create_task(report())
        try:
            orchestrator, text = await asyncio.to_thread(
                make_run, options, instruction, scenario, progress_lines(lines.put_nowait)
            )
            record = await orchestrator.run_and_close(text)
            return RunOutcome(run_id=record.run_id, status=record.status,
                              answer=record.answer, error=record.error)  # fmt: skip
        except RunError as exc:
            if exc.run_id is None:
                raise ToolError(str(exc)) from None
            saved = _saved(exc.run_id)
            return RunOutcome(run_id=exc.run_id, status=str(saved.get("status") or "error"),
                              answer=str(saved.get("answer") or ""), error=str(exc))  # fmt: skip
        except StewardError as exc:  # bad input or set-up: the message says how to fix it
            raise ToolError(str(exc)) from None
        finally:
            lines.put_nowait(None)
            await reporter

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def agents() -> dict[str, Any]:
        """The specialists (staff agents) and their task tokens, with the MCP servers of the
        config file and their tool counts, as `steward agents --json` lists them."""
        from cli.inspect_cmd import agents_report

        try:
            return await asyncio.to_thread(agents_report, options.config)
        except StewardError as exc:
            raise ToolError(str(exc)) from None

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def show(run_id: str) -> dict[str, Any]:
        """A run's whole record (plan, subtasks with every action, answer, usage, app states),
        as `steward show RUN_ID --json`; a unique prefix of the id is enough."""
        from cli.inspect_cmd import load_record
        from cli.render import run_json
        from memory.runs import RunStore

        try:
            return run_json(load_record(RunStore().load_run(run_id)))
        except StewardError as exc:
            raise ToolError(str(exc)) from None

    return server


def make_run(
    options: ServeOptions,
    instruction: str,
    scenario: str | dict[str, Any] | None,
    on_event: "EventCallback",
) -> tuple["Orchestrator", str]:
    """An orchestrator for one ``run`` call, as ``steward run`` makes it (blocking: it may
    start the embedded server and the MCP servers), and the checked instruction."""
    from agents.budget import BudgetLimits
    from agents.experience import NoExperience
    from agents.registry import default_registry
    from agents.settings import AgentSettings
    from cli.approval_rules import approval_settings
    from cli.build import EMBEDDED_ARG_CHARS, check_instruction, make_orchestrator, run_models

    registry = default_registry()
    text = check_instruction(instruction)
    world = pick(scenario, options.config)
    models = run_models(registry, config=options.config, base_url=options.base_url,
                        model=options.model, autostart=options.autostart, quiet=False)  # fmt: skip
    settings = AgentSettings(
        max_steps=options.max_steps,
        max_arg_chars=EMBEDDED_ARG_CHARS if models.embedded else None,
    )
    orchestrator = make_orchestrator(
        registry=registry, scenario=world, models=models, settings=settings,
        limits=BudgetLimits(), experience=None if options.memory else NoExperience(),
        on_event=on_event, extra={"via": "mcp-serve"},
        approval=approval_settings(options.config, options.approve),
    )  # fmt: skip
    return orchestrator, text


def pick(scenario: str | dict[str, Any] | None, config: str | None) -> "Scenario":
    """The scenario a ``run`` call names: the scenario itself (or its JSON text), a file's
    path, or none (the demo world with the configured MCP servers)."""
    from agents.registry import default_registry
    from apps.mcp import known_apps, load_mcp_config
    from apps.scenario import parse_scenario
    from cli.build import pick_scenario
    from core.errors import ScenarioError

    registry = default_registry()
    if scenario is None or (isinstance(scenario, str) and not scenario.lstrip().startswith("{")):
        return pick_scenario(scenario, registry, config=config)
    data: Any = scenario
    if isinstance(scenario, str):
        try:
            data = json.loads(scenario)
        except json.JSONDecodeError as exc:
            raise ScenarioError(
                f"scenario: not valid JSON: {exc.msg} at column {exc.colno}"
            ) from None
    known = known_apps(load_mcp_config(config), registry.names)
    return parse_scenario(data, known, source="scenario")


def progress_lines(send: Any) -> "EventCallback":
    """An event callback that hands ``send`` each progress line ``steward run`` would print."""
    from cli.render import Progress

    lines = Progress(enabled=False)

    def on_event(event: Any) -> None:
        line = lines.format(event)
        if line:
            send(line)

    return on_event


def _saved(run_id: str) -> dict[str, Any]:
    from memory.runs import RunStore

    try:
        return dict(RunStore().load_run(run_id))
    except Exception:  # the error already says what happened
        return {}


@click.command(name="mcp-serve")
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default="stdio",
    show_default=True,
    help="stdio (the client starts `steward mcp-serve`) or streamable HTTP.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="HTTP: address to listen on. Whoever reaches it can run instructions: keep it local.",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option("--path", "http_path", default="/mcp", show_default=True, help="HTTP: endpoint.")
@click.option("--config", metavar="FILE", help="Config (TOML): models, roles, [mcp.NAME].")
@click.option("--base-url", metavar="URL", help="OpenAI-compatible server for the runs.")
@click.option("--model", metavar="NAME", help="Served model name, or script:FILE.")
@click.option("--no-autostart", is_flag=True, help="Do not start the embedded server.")
@click.option("--no-memory", is_flag=True, help="Neither retrieve nor write experience.")
@click.option("--max-steps", type=click.IntRange(1, 100), default=6, show_default=True)
@click.option(
    "--approve",
    type=click.Choice(["ask", "auto", "deny"]),
    default="deny",
    show_default=True,
    help="Sensitive calls of the runs: deny (refused, the agent is told), auto (run), or ask "
    "(the run waits, status waiting, for `steward approve RUN_ID`).",
)
def mcp_serve(
    transport: str,
    host: str,
    port: int,
    http_path: str,
    config: str | None,
    base_url: str | None,
    model: str | None,
    no_autostart: bool,
    no_memory: bool,
    max_steps: int,
    approve: str,
) -> None:
    """Serve Steward over MCP: tools `run` (instruction, optional scenario; progress as MCP
    progress notifications), `agents` and `show`.

    \b
    Examples:
      steward mcp-serve                                  # stdio, for a client to start
      steward mcp-serve --transport http --port 8765     # http://127.0.0.1:8765/mcp
      steward mcp-serve --model script:answers.jsonl     # canned answers, no model server
    """
    import anyio

    from apps.mcp import quiet_sdk_logs

    quiet_sdk_logs()
    options = ServeOptions(config=config, base_url=base_url, model=model,
                           autostart=not no_autostart, memory=not no_memory, max_steps=max_steps,
                           approve=approve)  # fmt: skip
    if config is not None and not Path(config).is_file():
        raise click.BadParameter(f"config file {config} not found", param_hint="--config")
    server = build_server(options)
    if transport == "stdio":
        anyio.run(server.run_stdio_async)
    else:
        click.echo(f"steward mcp-serve: http://{host}:{port}{http_path}", err=True)
        run_http = functools.partial(
            server.run_streamable_http_async, host=host, port=port, streamable_http_path=http_path
        )
        anyio.run(run_http)
