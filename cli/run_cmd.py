"""``steward run`` and ``steward resume`` (``steward approve``: ``cli.approve_cmd``)."""

from __future__ import annotations

import click

from agents.budget import BudgetLimits
from agents.experience import Experience, NoExperience
from agents.registry import default_registry
from agents.settings import AgentSettings, ApprovalPolicy
from cli.approval_prompt import can_ask, execute, finish
from cli.approval_rules import APPROVE_HELP, POLICIES, approval_settings
from cli.build import (
    EMBEDDED_ARG_CHARS,
    check_instruction,
    make_orchestrator,
    pick_scenario,
    run_models,
)
from cli.inspect_cmd import load_record
from cli.render import Progress
from cli.retrieval import retrieval_option
from cli.stored_run import stored_orchestrator
from memory.embedding import Retrieval
from memory.runs import RunStore
from orchestrator.interrupted import Decision

MODEL_HELP = (
    "Served model name at that server, or script:FILE to play canned answers from a JSON-lines "
    "file (one answer per model call, in order; no server)."
)


def _experience(enabled: bool) -> Experience | None:
    if not enabled:
        return NoExperience()
    return None  # make_orchestrator builds the memory-backed one with the run's models


@click.command()
@click.argument("instruction", required=False)
@click.option(
    "--scenario",
    "scenario_path",
    metavar="FILE",
    help="Scenario JSON: apps and their initial state. Default: the demo scenario (all eight apps).",
)
@click.option(
    "--base-url",
    metavar="URL",
    help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1. Default: the embedded vLLM CPU server (started if needed).",
)
@click.option("--model", metavar="NAME", help=MODEL_HELP)
@click.option(
    "--config",
    metavar="FILE",
    help="Models config (TOML). Default: $STEWARD_CONFIG or <data dir>/config.toml.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run record as JSON on stdout.")
@click.option(
    "--mermaid", is_flag=True, help="Also print the scheduling graph as a Mermaid flowchart."
)
@click.option(
    "--no-memory", is_flag=True, help="Neither retrieve nor write experience for this run."
)
@click.option(
    "--no-experts",
    is_flag=True,
    help="Send every role to the base model, not to its installed expert (a LoRA adapter from "
    "`steward train`); the same as STEWARD_EXPERTS=0.",
)
@retrieval_option
@click.option(
    "--no-autostart",
    is_flag=True,
    help="Do not start the embedded server; fail if it is not running.",
)
@click.option(
    "--max-steps",
    type=click.IntRange(1, 100),
    default=6,
    show_default=True,
    help="Actions per staff attempt.",
)
@click.option(
    "--max-retries",
    type=click.IntRange(0, 10),
    default=1,
    show_default=True,
    help="Retries of a failed subtask.",
)
@click.option(
    "--max-replans",
    type=click.IntRange(0, 10),
    default=1,
    show_default=True,
    help="Re-plans when retries run out.",
)
@click.option("--token-budget", type=click.IntRange(1), help="Stop after this many tokens.")
@click.option("--call-budget", type=click.IntRange(1), help="Stop after this many model calls.")
@click.option(
    "--deadline", type=click.FloatRange(0, min_open=True), help="Stop after this many seconds."
)
@click.option("--approve", "policy", type=POLICIES, help=APPROVE_HELP)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
def run(
    instruction: str | None,
    scenario_path: str | None,
    base_url: str | None,
    model: str | None,
    config: str | None,
    as_json: bool,
    mermaid: bool,
    no_memory: bool,
    no_experts: bool,
    memory_retrieval: Retrieval | None,
    no_autostart: bool,
    max_steps: int,
    max_retries: int,
    max_replans: int,
    token_budget: int | None,
    call_budget: int | None,
    deadline: float | None,
    policy: ApprovalPolicy | None,
    quiet: bool,
) -> None:
    """Carry out INSTRUCTION across the apps of a scenario (default: the scenario's own
    example instruction).

    The steward plans a scheduling graph of app subtasks, staff agents carry them out (in
    parallel where they do not need each other), the steward checks each result, retries with
    tips or re-plans, and writes the answer. A run record is kept: `steward show RUN_ID`;
    `steward replay RUN_ID` runs it again on its recorded answers. Sensitive actions wait
    for your approval (--approve; exit code 4 and `steward approve RUN_ID` off a terminal).

    \b
    Examples:
      steward run "Send 'Meeting at 3pm' to Alice on messaging, then tweet that you did"
      steward run "List my files" --scenario my_world.json --json
      steward run "..." --base-url http://gpu-box:8000/v1 --model Qwen/Qwen2.5-7B-Instruct
      steward run "Tweet 'hi'" --model script:answers.jsonl --no-memory

    \b
    A script has one JSON value per line, one line per model call (a re-ask
    is a call): an object is the answer's JSON, a string the raw text, and
    {"role": "<app:posting>", "answer": {...}} keeps a line for one role
    (tag the lines of parallel subtasks so each gets its own). answers.jsonl:
      {"nodes": [{"id": "s1", "task_token": "<app:posting>", "instruction": "Tweet hi", "needs": []}]}
      {"thought": "", "tool": "post_tweet", "arguments": {"content": "hi"}}
      {"thought": "", "tool": "finish", "result": "tweeted"}
      {"success": true, "failure_kind": "none", "tips": "", "key_info": "tweet 0"}
      {"answer": "Tweeted 'hi'."}
    """
    registry = default_registry()
    scenario = pick_scenario(scenario_path, registry)
    text = check_instruction(instruction if instruction is not None else scenario.instruction or "")
    approval = approval_settings(config, policy)
    models = run_models(
        registry,
        config=config,
        base_url=base_url,
        model=model,
        autostart=not no_autostart,
        quiet=quiet,
        experts=False if no_experts else None,
    )
    settings = AgentSettings(
        max_steps=max_steps,
        max_retries=max_retries,
        max_replans=max_replans,
        max_arg_chars=EMBEDDED_ARG_CHARS if models.embedded else None,
    )
    limits = BudgetLimits(max_tokens=token_budget, max_calls=call_budget, deadline_s=deadline)
    orchestrator = make_orchestrator(
        registry=registry,
        scenario=scenario,
        models=models,
        settings=settings,
        limits=limits,
        experience=_experience(not no_memory),
        on_event=Progress(enabled=not quiet),
        memory_retrieval=memory_retrieval,
        approval=approval,
    )
    execute(
        orchestrator,
        lambda: orchestrator.run(text),
        as_json=as_json,
        mermaid=mermaid,
        ask=approval.policy == "ask" and can_ask(as_json),
    )


@click.command()
@click.argument("run_id")
@click.option("--base-url", metavar="URL", help="Override the server the run used.")
@click.option(
    "--model",
    metavar="NAME",
    help="Override the served model name; script:FILE answers the rest of a scripted run.",
)
@click.option("--config", metavar="FILE", help="Models config (TOML).")
@click.option("--json", "as_json", is_flag=True, help="Print the run record as JSON.")
@click.option("--no-autostart", is_flag=True, help="Do not start the embedded server.")
@click.option(
    "--done",
    "done_ids",
    metavar="ACTION_ID",
    multiple=True,
    help="A call the killed run may have made did happen (its id is in the waiting run's error).",
)
@click.option(
    "--not-done",
    "not_done_ids",
    metavar="ACTION_ID",
    multiple=True,
    help="A call the killed run may have made did not happen: it may be made again.",
)
@click.option(
    "--approve", "policy", type=POLICIES, help="The approval policy for the rest of the run."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
def resume(
    run_id: str,
    base_url: str | None,
    model: str | None,
    config: str | None,
    as_json: bool,
    no_autostart: bool,
    done_ids: tuple[str, ...],
    not_done_ids: tuple[str, ...],
    policy: ApprovalPolicy | None,
    quiet: bool,
) -> None:
    """Continue RUN_ID (e.g. after it was killed) from its last checkpoint.

    Subtasks that finished are not run again and the apps get back the state they had after
    them. Every tool call is journaled before it runs, so nothing is done twice: a call the
    crash interrupted is re-run only if its tool is idempotent; otherwise the run waits
    (status `waiting`, exit code 4) until you check the app and say what happened with
    --done or --not-done. A run waiting for approvals goes on where it stopped (on a
    terminal you are asked; else `steward approve RUN_ID`).

    \b
    Examples:
      steward resume 3f2a9c1b7d4e
      steward resume 3f2a9c1b7d4e --done s2.1.1
    """
    both = set(done_ids) & set(not_done_ids)
    if both:
        raise click.UsageError(f"{', '.join(sorted(both))}: given both --done and --not-done")
    decisions: dict[str, Decision] = {i: "done" for i in done_ids}
    decisions.update({i: "not_done" for i in not_done_ids})
    store = RunStore()
    saved = store.load_run(run_id)
    if saved.get("status") in ("succeeded", "failed"):
        click.echo(f"run {saved['run_id']} already ended ({saved['status']}).", err=True)
        finish(load_record(saved), as_json=as_json, mermaid=False)
        return
    orchestrator = stored_orchestrator(
        saved, store, base_url=base_url, model=model, config=config,
        autostart=not no_autostart, quiet=quiet, approve=policy,
    )  # fmt: skip
    execute(
        orchestrator,
        lambda: orchestrator.resume(saved["run_id"], decisions=decisions),
        as_json=as_json,
        ask=orchestrator.approval.policy == "ask" and can_ask(as_json),
    )


COMMANDS = [run, resume]
