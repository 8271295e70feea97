"""The terminal side of approvals that ``steward run``, ``steward resume`` and ``steward
approve`` share: asking a person at the terminal, and driving a run through its stops.

The run itself never prompts (``orchestrator.approval``): it stops, durably, and says which
calls wait. On a terminal (stdin and stderr are TTYs, and no ``--json``), the command then
shows each waiting call (app, tool, arguments, the subtask's instruction) and asks to approve,
deny (with a reason) or edit the arguments (checked against the tool's schema), writes the
decisions and continues the run in the same process; anywhere else it exits with code 4 and
``steward approve RUN_ID`` continues it later, from any process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import click

from agents.records import ApprovalRecord, RunRecord
from agents.schemas import argument_problems, validator_for
from apps.world import World
from cli.inspect_cmd import echo_json, load_record
from cli.render import approval_text, run_json, run_summary
from core.errors import StewardError, UserError
from memory.runs import RunStore
from orchestrator.approval import ApprovalDecision, ApprovalNeededError
from orchestrator.runner import Orchestrator


def can_ask(as_json: bool) -> bool:
    """Whether a person can answer here: stdin and stderr are terminals, and the output is not
    ``--json`` (a program reading it answers with ``steward approve``)."""
    return not as_json and sys.stdin.isatty() and sys.stderr.isatty()


def parse_assignments(items: Iterable[str]) -> dict[str, Any]:
    """``ARG=VALUE`` pairs; a VALUE that is JSON (``3``, ``true``, ``["a"]``) is taken as such,
    any other as text. A ``UserError`` for an item without ``=``."""
    out: dict[str, Any] = {}
    for item in items:
        name, eq, text = item.partition("=")
        if not eq or not name.strip():
            raise UserError(f"--set {item!r}: give ARG=VALUE, e.g. --set message='See you at 3'")
        try:
            out[name.strip()] = json.loads(text)
        except json.JSONDecodeError:
            out[name.strip()] = text
    return out


def edit_problems(world: World, approval: ApprovalRecord, changes: dict[str, Any]) -> str:
    """Why ``changes`` to a proposed call break its tool's schema (``""``: they do not)."""
    tool = next((t for t in world.get(approval.app).tools if t.name == approval.tool), None)
    if tool is None:
        return ""
    return argument_problems(validator_for(tool), {**approval.proposed, **changes})


def ask_decisions(pending: list[ApprovalRecord], world: World) -> dict[str, ApprovalDecision]:
    """Ask at the terminal about each waiting call; ``later`` leaves one waiting."""
    decisions: dict[str, ApprovalDecision] = {}
    for approval in pending:
        click.echo(approval_text(approval), err=True)
        choice = click.prompt(
            "[a]pprove, [d]eny, [e]dit the arguments, or decide [l]ater?",
            type=click.Choice(["a", "d", "e", "l"]),
            err=True,
        )
        if choice == "d":
            reason = click.prompt("why (the agent is told)", err=True).strip()
            decisions[approval.id] = ApprovalDecision(approve=False, reason=reason)
        elif choice == "e":
            decisions[approval.id] = ApprovalDecision(changes=_ask_changes(approval, world))
        elif choice == "a":
            decisions[approval.id] = ApprovalDecision()
    return decisions


def _ask_changes(approval: ApprovalRecord, world: World) -> dict[str, Any]:
    while True:
        lines: list[str] = []
        while line := click.prompt(
            "ARG=VALUE (an empty line when done)", default="", show_default=False, err=True
        ).strip():
            lines.append(line)
        try:
            changes = parse_assignments(lines)
        except UserError as exc:
            click.echo(f"Error: {exc}", err=True)
            continue
        problems = edit_problems(world, approval, changes)
        if not problems:
            return changes
        click.echo(f"Error: that breaks the tool's schema: {problems}; try again", err=True)


async def drive(
    orchestrator: Orchestrator, first: Callable[[], Awaitable[RunRecord]], *, ask: bool
) -> RunRecord:
    """Run ``first`` (a run or a resume); while it stops for approvals and ``ask``, ask at the
    terminal and continue. Closes the orchestrator."""
    try:
        try:
            return await first()
        except ApprovalNeededError as exc:
            stop = exc
        while ask:
            decisions = ask_decisions(stop.pending, orchestrator.world)
            if not decisions:
                break
            try:
                return await orchestrator.resume(str(stop.run_id), approvals=decisions)
            except ApprovalNeededError as exc:
                stop = exc
        raise stop
    finally:
        await orchestrator.aclose()


def execute(
    orchestrator: Orchestrator,
    first: Callable[[], Awaitable[RunRecord]],
    *,
    as_json: bool,
    mermaid: bool = False,
    ask: bool = False,
) -> None:
    """Drive the run and show its record; with ``--json`` the record of a run that stopped on
    an error (or to wait) is printed too, before the error's exit."""
    try:
        record = asyncio.run(drive(orchestrator, first, ask=ask))
    except StewardError as exc:
        run_id = getattr(exc, "run_id", None)
        if as_json and run_id:
            with contextlib.suppress(StewardError):  # no record: the error says why
                echo_json(run_json(load_record(RunStore().load_run(run_id))))
        raise
    finish(record, as_json=as_json, mermaid=mermaid)


def finish(record: RunRecord, *, as_json: bool, mermaid: bool) -> None:
    if as_json:
        echo_json(run_json(record))
    else:
        click.echo(run_summary(record, mermaid=mermaid))
    if record.status != "succeeded":
        raise SystemExit(1)
