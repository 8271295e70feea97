"""``steward agents``, ``runs`` and ``show``: read-only commands, kept light to start (they
import neither langgraph nor the model client's HTTP stack)."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import click

from cli.show_html import html_option, show_html

if TYPE_CHECKING:
    from agents.records import RunRecord
    from local.adapters import InstalledAdapter


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2, default=str))


def load_record(saved: dict[str, Any]) -> RunRecord:
    """A stored run record (``RunStore.load_run``) as a ``RunRecord``."""
    from agents.records import RunRecord

    return RunRecord.model_validate(saved)


@click.command()
@click.option(
    "--config",
    metavar="FILE",
    help="Config file whose [mcp.NAME] tables add MCP servers. Default: $STEWARD_CONFIG or "
    "<data dir>/config.toml.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def agents(config: str | None, as_json: bool) -> None:
    """List the specialists (staff agents) and their task tokens: the built-in apps, those
    that plugins add through the `steward.agents` entry point, and the MCP servers of the
    config file (`<mcp:NAME>`, each started to count its tools, then stopped; one that does
    not start is listed as unavailable, with why).

    Each token's trained expert is shown too: the LoRA adapter installed for it on the
    embedded server (name, training steps, examples, when it was trained; `served` when the
    running server serves it), or `-` for none. Runs on the embedded server route each token
    to its expert unless STEWARD_EXPERTS=0.
    """
    report = agents_report(config)
    if as_json:
        echo_json(report)
        return
    for row in report["agents"]:
        expert = _adapter_text(row["adapter"])
        source = row["source"]
        text = row["description"]
        if source == "mcp":
            source = f"mcp ({row['tools']} tools)" if row["available"] else "mcp: unavailable"
            text = text if row["available"] else str(row["error"])
        click.echo(f"{row['task_token']:<22} {source:<22} {expert:<34} {text[:50]}")
    steward = report["steward"]["adapter"]
    if steward is not None:
        click.echo(f"{'steward':<22} {'(the planner)':<22} {_adapter_text(steward)}")
    for err in report["errors"]:
        click.echo(f"warning: {err}", err=True)
    for line in report["adapter_problems"]:
        click.echo(f"warning: cannot serve adapter {line}", err=True)
    for row in report["agents"]:
        if row["source"] == "mcp" and not row["available"]:
            click.echo(f"warning: {row['error']}", err=True)
    for line in report["mcp_problems"]:
        click.echo(f"warning: {line}", err=True)


def agents_report(config: str | None = None) -> dict[str, Any]:
    """What ``steward agents --json`` prints: every specialist with its expert, the MCP
    servers of the config file (``config``, else the default) with their tool counts."""
    from agents.registry import default_registry

    registry = default_registry()
    experts, served, problems = _experts()
    rows = [spec.describe() for spec in registry]
    mcp_rows, mcp_problems = _mcp_rows(config, registry.names)
    rows += mcp_rows
    for row in rows:
        row["adapter"] = _adapter_row(experts.get(row["task_token"]), served)
    return {
        "agents": rows,
        "steward": {"adapter": _adapter_row(experts.get("steward"), served)},
        "errors": registry.errors,
        "adapter_problems": problems,
        "mcp_problems": mcp_problems,
    }


def _mcp_rows(config: str | None, taken: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per MCP server of the config file (started to list its tools, then stopped),
    and the tools left out, one line each."""
    from agents.registry import MCP_SOURCE, mcp_token
    from apps import mcp

    servers_config = mcp.load_mcp_config(config)
    if not servers_config.names:
        return [], []
    mcp.quiet_sdk_logs()
    refused = {**servers_config.errors, **mcp.clashes(servers_config, taken)}
    usable = {n: c for n, c in servers_config.servers.items() if n not in refused}
    servers = mcp.McpServers.start(usable, errors=refused)
    try:
        rows = []
        for name in servers_config.names:
            app = servers.apps.get(name)
            cfg = servers_config.servers.get(name)
            rows.append({"name": name, "task_token": mcp_token(name),
                         "description": app.description if app else (cfg.description if cfg else ""),
                         "model": None, "source": MCP_SOURCE, "available": app is not None,
                         "error": servers.unavailable.get(name),
                         "transport": cfg.transport if cfg else None,
                         "tools": len(app.tools) if app else 0,
                         "tool_names": [t.name for t in app.tools] if app else []})  # fmt: skip
        return rows, [p for app in servers.apps.values() for p in app.problems]
    finally:
        servers.close()


def _experts() -> tuple[dict[str, InstalledAdapter], set[str] | None, list[str]]:
    """Role -> installed expert, the adapter names the running server serves (None: it does
    not run), and the adapters that cannot be served."""
    from local.experts import installed_adapters, module_name, routes
    from local.server import ServerSettings, running_server

    settings = ServerSettings()
    adapters = installed_adapters(settings)
    info = running_server(settings)
    served = None if info is None else {module_name(m) for m in info.lora_modules}
    return routes(adapters.servable), served, adapters.problem_lines()


def _adapter_row(
    adapter: InstalledAdapter | None, served: set[str] | None
) -> dict[str, Any] | None:
    if adapter is None or adapter.manifest is None:
        return None
    m = adapter.manifest
    return {"name": adapter.name, "steps": m.steps, "examples": m.examples,
            "trained_at": m.trained_at, "prompt_style": m.prompt_style,
            "served": served is not None and adapter.name in served}  # fmt: skip


def _adapter_text(row: dict[str, Any] | None) -> str:
    if row is None:
        return "-"
    when = dt.datetime.fromtimestamp(row["trained_at"]).strftime("%Y-%m-%d")
    served = ", served" if row["served"] else ""
    return f"{row['name']} ({row['steps']} steps, {row['examples']} ex., {when}{served})"


@click.command()
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option("--waiting", is_flag=True, help="Only runs that wait for a person.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def runs(limit: int, waiting: bool, as_json: bool) -> None:
    """List past runs, newest first; a run waiting for approvals names the actions it waits
    for (`steward approve RUN_ID` continues it)."""
    from memory.runs import RunStore

    store = RunStore()
    rows = store.list_runs(limit if not waiting else max(limit, 1000))
    if waiting:
        rows = [r for r in rows if r["status"] == "waiting"][:limit]
    for r in rows:
        if r["status"] == "waiting":
            r["pending_approvals"] = _pending(store, r["run_id"])
    if as_json:
        echo_json({"runs": rows})
        return
    if not rows:
        click.echo("no waiting runs" if waiting else 'no runs yet; try: steward run "..."')
    for r in rows:
        when = dt.datetime.fromtimestamp(r["created_at"]).strftime("%Y-%m-%d %H:%M")
        click.echo(f"{r['run_id']}  {when}  {r['status']:<15} {r['instruction'][:60]}")
        pending = r.get("pending_approvals")
        if pending:
            calls = ", ".join(f"{p['app']}.{p['tool']} ({p['id']})" for p in pending)
            click.echo(f"    waits for approval: {calls}; steward approve {r['run_id']}")


def _pending(store: Any, run_id: str) -> list[dict[str, Any]]:
    """The actions a run waits to have approved (from its action journal)."""
    from memory.journal import ActionJournal

    journal = ActionJournal(store, run_id).load()
    return [
        {"id": e.id, "subtask_id": e.subtask_id, "app": e.app, "tool": e.tool,
         "arguments": e.arguments}
        for e in journal.entries.values()
        if e.awaits_decision
    ]  # fmt: skip


@click.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="The whole run record as JSON.")
@click.option("--mermaid", is_flag=True, help="Include the graph as Mermaid.")
@click.option(
    "--diff", is_flag=True, help="What the run changed, app by app (state before -> after)."
)
@html_option
def show(run_id: str, as_json: bool, mermaid: bool, diff: bool, html: str | None) -> None:
    """Show one run (a unique prefix of its id is enough).

    `--json` is the whole record, with `apps`: each app's state `before` and `after` the run,
    and `approvals`: each action that needed approval, as proposed and as approved, the
    decision, the reason and the time. `--diff` lists what changed in each app: items added,
    removed and changed.
    `--html [FILE]` writes the run as one page to open in a browser, offline: its scheduling
    graphs, a timeline of subtasks with their model and tool calls, verdicts and retries,
    memory used, app changes, and each subtask's whole history on click.

    \b
    Examples:
      steward show 3f2a9c1b7d4e
      steward show 3f2a --diff
      steward show 3f2a --json | jq .subtasks[0].history
      steward show 3f2a --html run.html
    """
    from cli.render import run_json, run_summary
    from memory.runs import RunStore

    if html is not None:
        show_html(run_id, html or None)
        return
    record = load_record(RunStore().load_run(run_id))
    if diff:
        from cli.diff_view import render_diff

        click.echo(render_diff(record))
    elif as_json:
        echo_json(run_json(record))
    else:
        click.echo(run_summary(record, mermaid=mermaid))


COMMANDS = [agents, runs, show]
