"""``steward agents``, ``runs`` and ``show``: read-only commands, kept light to start (they
import neither langgraph nor the model client's HTTP stack)."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from agents.records import RunRecord


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2, default=str))


def load_record(saved: dict[str, Any]) -> RunRecord:
    """A stored run record (``RunStore.load_run``) as a ``RunRecord``."""
    from agents.records import RunRecord

    return RunRecord.model_validate(saved)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def agents(as_json: bool) -> None:
    """List the specialists (staff agents) and their task tokens: the built-in apps and those
    that plugins add through the `steward.agents` entry point."""
    from agents.registry import default_registry

    registry = default_registry()
    rows = [spec.describe() for spec in registry]
    if as_json:
        echo_json({"agents": rows, "errors": registry.errors})
        return
    for row in rows:
        click.echo(f"{row['task_token']:<22} {row['source']:<22} {row['description'][:70]}")
    for err in registry.errors:
        click.echo(f"warning: {err}", err=True)


@click.command()
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def runs(limit: int, as_json: bool) -> None:
    """List past runs, newest first."""
    from memory.runs import RunStore

    rows = RunStore().list_runs(limit)
    if as_json:
        echo_json({"runs": rows})
        return
    if not rows:
        click.echo('no runs yet; try: steward run "..."')
    for r in rows:
        when = dt.datetime.fromtimestamp(r["created_at"]).strftime("%Y-%m-%d %H:%M")
        click.echo(f"{r['run_id']}  {when}  {r['status']:<15} {r['instruction'][:60]}")


@click.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="The whole run record as JSON.")
@click.option("--mermaid", is_flag=True, help="Include the graph as Mermaid.")
@click.option(
    "--diff", is_flag=True, help="What the run changed, app by app (state before -> after)."
)
def show(run_id: str, as_json: bool, mermaid: bool, diff: bool) -> None:
    """Show one run (a unique prefix of its id is enough).

    `--json` is the whole record, with `apps`: each app's state `before` and `after` the run.
    `--diff` lists what changed in each app: items added, removed and changed.

    \b
    Examples:
      steward show 3f2a9c1b7d4e
      steward show 3f2a --diff
      steward show 3f2a --json | jq .subtasks[0].history
    """
    from cli.render import run_json, run_summary
    from memory.runs import RunStore

    record = load_record(RunStore().load_run(run_id))
    if diff:
        from cli.diff_view import render_diff

        click.echo(render_diff(record))
    elif as_json:
        echo_json(run_json(record))
    else:
        click.echo(run_summary(record, mermaid=mermaid))


COMMANDS = [agents, runs, show]
