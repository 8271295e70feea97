"""``steward approve RUN_ID``: decide what a waiting run waits for, and continue it.

A run under the ``ask`` policy stops before each sensitive call (status ``waiting``, exit code
4) when no one can answer at a terminal. This command, from any process, writes the decision
(approve, ``--deny REASON``, or approve with ``--set ARG=VALUE`` edits checked against the
tool's schema) to the run's action journal and resumes the run from its checkpoint. Bad input
(an unknown run, one that is not waiting, a schema-breaking edit, a denial without a reason
off a terminal) is a one-line error, exit code 2, and nothing is written.
"""

from __future__ import annotations

import click

from agents.settings import ApprovalPolicy
from cli.approval_prompt import can_ask, execute, parse_assignments
from cli.approval_rules import POLICIES
from cli.render import approval_text
from cli.stored_run import stored_orchestrator
from core.errors import UserError
from memory.journal import ActionJournal
from memory.runs import RunStore
from orchestrator.approval import ApprovalDecision, pending_approvals


@click.command()
@click.argument("run_id")
@click.option(
    "--deny",
    "reason",
    metavar="REASON",
    is_flag=False,
    flag_value="",
    default=None,
    help="Deny instead, saying why (the agent is told); on a terminal a bare --deny asks why.",
)
@click.option(
    "--set",
    "changes",
    metavar="ARG=VALUE",
    multiple=True,
    help="Approve with this argument changed (a JSON value, or text); checked against the "
    "tool's schema. Needs one action (--action when several wait).",
)
@click.option(
    "--action",
    "action_id",
    metavar="ACTION_ID",
    help="Decide only this waiting action (its id is in `steward show`); default: all of them.",
)
@click.option("--approve", "policy", type=POLICIES, help="The policy for the rest of the run.")
@click.option(
    "--model", metavar="NAME", help="Override the served model; script:FILE answers the rest."
)
@click.option("--base-url", metavar="URL", help="Override the server the run used.")
@click.option("--config", metavar="FILE", help="Models config (TOML).")
@click.option("--json", "as_json", is_flag=True, help="Print the run record as JSON.")
@click.option("--no-autostart", is_flag=True, help="Do not start the embedded server.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
def approve(
    run_id: str,
    reason: str | None,
    changes: tuple[str, ...],
    action_id: str | None,
    policy: ApprovalPolicy | None,
    model: str | None,
    base_url: str | None,
    config: str | None,
    as_json: bool,
    no_autostart: bool,
    quiet: bool,
) -> None:
    """Approve (or deny, or edit and approve) what RUN_ID waits for, and continue it.

    A run stops before a sensitive action (sending, posting, paying, booking, deleting)
    until someone decides: status `waiting`, exit code 4. An approved action runs once; a
    denied one never runs, and the agent is told `denied by the user: REASON`.

    \b
    Examples:
      steward approve 3f2a9c1b7d4e
      steward approve 3f2a9c1b7d4e --deny "not to Bob, ask me first"
      steward approve 3f2a9c1b7d4e --set message="See you at 3pm"
    """
    store = RunStore()
    saved = store.load_run(run_id)
    run_id = saved["run_id"]
    status = saved.get("status")
    if status in ("succeeded", "failed"):
        raise UserError(f"run {run_id} already ended ({status}): nothing waits for approval")
    if status != "waiting":
        raise UserError(f"run {run_id} is not waiting for approval (status {status})")
    instructions = {s["id"]: s.get("instruction", "") for s in saved.get("subtasks") or []}
    pending = pending_approvals(ActionJournal(store, run_id).load(), instructions)
    if not pending:
        raise UserError(
            f"run {run_id} waits for a decision about calls a crash interrupted, not for an "
            f"approval: see its error (`steward show {run_id}`) and use steward resume --done/--not-done"
        )
    if action_id is not None:
        pending = [a for a in pending if a.id == action_id]
        if not pending:
            raise UserError(f"no action {action_id} waits for approval in run {run_id}")
    edits = parse_assignments(changes)
    if edits and (len(pending) > 1 or reason is not None):
        raise UserError(
            "--set edits one approved action: give --action ID (waiting: "
            f"{', '.join(a.id for a in pending)})"
            if reason is None
            else "--set approves with changes; it cannot go with --deny"
        )
    if reason is not None and not reason.strip():
        if not can_ask(as_json):
            raise UserError("a denial needs a reason (the agent is told it): --deny REASON")
        reason = click.prompt("why (the agent is told)", err=True).strip()
    orchestrator = stored_orchestrator(
        saved, store, base_url=base_url, model=model, config=config,
        autostart=not no_autostart, quiet=quiet, approve=policy,
    )  # fmt: skip
    decision = ApprovalDecision(approve=reason is None, reason=reason or "", changes=edits)
    for approval in pending:
        click.echo(
            f"{'denied' if reason is not None else 'approved'}: {approval_text(approval)}",
            err=True,
        )
    decisions = {a.id: decision for a in pending}
    execute(
        orchestrator,
        lambda: orchestrator.resume(run_id, approvals=decisions),
        as_json=as_json,
        ask=can_ask(as_json),
    )
