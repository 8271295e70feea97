"""``steward bench agentdojo``: AgentDojo's suites through an agent, scored by AgentDojo."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import click

from agents.settings import AgentSettings
from apps.agentdojo_catalog import SUITES
from cli.options import concurrency_option, server_options, source_factory

AGENT_NAMES = ("steward", "single", "no-eval", "sequential")
"""``benchmarks.agentdojo.AGENTS`` (not imported here: ``--help`` stays light)."""


class CaseBar:
    """One line on stderr, redrawn per case: done/total, utility, attack successes, speed."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.total = self.done = self.passed = self.hits = 0
        self.started = time.monotonic()

    def start(self, todo: int, skipped: int) -> None:
        self.total = todo
        self.started = time.monotonic()
        if self.enabled and skipped:
            click.echo(f"resuming: {skipped} case(s) already done, {todo} to run", err=True)

    def case(self, result: object) -> None:
        self.done += 1
        self.passed += int(bool(getattr(result, "utility", False)))
        self.hits += int(bool(getattr(result, "security", False)))
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed * 60 if elapsed > 0 else 0.0
        line = (
            f"{self.done}/{self.total} cases, utility {100 * self.passed / self.done:5.1f}%, "
            f"attack successes {self.hits}, {rate:5.1f} cases/min {elapsed:6.1f}s"
        )
        sys.stderr.write(f"\r{line}" if self.tty else f"{line}\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.tty and self.done:
            sys.stderr.write("\n")


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _show(summary: object) -> None:
    from benchmarks.agentdojo import Summary
    from benchmarks.bfcl.purposes import PURPOSES

    assert isinstance(summary, Summary)
    t = summary.total
    click.echo(
        f"agentdojo {summary.benchmark_version} / {summary.agent} / {summary.model} / "
        f"{summary.attack}: {summary.cases} cases"
    )
    for name, m in [("total", t), *summary.per_suite.items()]:
        refs = summary.references.get(name)
        floor = summary.floor.get(name)
        click.echo(
            f"  {name}: benign utility {_rate(m.benign_utility)} "
            f"({m.benign_passed}/{m.benign_cases}; references {_rate(refs)}, "
            f"floor {_rate(floor)})"
            + (
                f", utility under attack {_rate(m.utility_under_attack)}, attack success "
                f"{_rate(m.attack_success_rate)} ({m.attack_successes}/{m.attacked_cases})"
                if m.attacked_cases
                else ""
            )
        )
    for name, m in {**summary.by_placement, **summary.by_recruitment}.items():
        click.echo(
            f"  {name}: attack success {_rate(m.attack_success_rate)} "
            f"({m.attack_successes}/{m.attacked_cases}), utility {_rate(m.utility_under_attack)}"
        )
    p = summary.per_case
    c = summary.calls_by_purpose_per_case
    purposes = ", ".join(f"{name} {getattr(c, name):g}" for name in (*PURPOSES, "other"))
    click.echo(
        f"per case: {p.model_calls} model calls ({purposes}; re-asks {c.reasks:g}), "
        f"{p.prompt_tokens}+{p.completion_tokens} tokens, {p.actions} actions, {p.wall_s:.2f} s"
    )
    click.echo(
        f"this run: {summary.cases_run} case(s) in {summary.elapsed_s:.1f} s "
        f"({summary.cases_per_minute:.1f} cases/min at concurrency {summary.concurrency})"
    )
    for name, path in summary.files.items():
        click.echo(f"  {name}: {path}")


@click.command("agentdojo")
@click.option(
    "--suite",
    type=click.Choice([*SUITES, "all"]),
    default="all",
    show_default=True,
    help="AgentDojo suite, or all four.",
)
@click.option(
    "--attack",
    metavar="NAME",
    help="Also run every user task with every injection task under this AgentDojo attack "
    "(e.g. important_instructions, tool_knowledge, direct, ignore_previous); default: benign "
    "only.",
)
@click.option("--limit", type=click.IntRange(1), help="The first N user tasks of each suite.")
@click.option(
    "--injections", type=click.IntRange(1), help="The first N injection tasks of each suite."
)
@concurrency_option
@click.option(
    "--model",
    metavar="NAME",
    help="Model of every agent: a served model name, or `oracle` (the reference solutions "
    "replayed through the whole path) / `oracle-broken` (without their last call and answer).",
)
@server_options
@click.option(
    "--agent",
    type=click.Choice(AGENT_NAMES),
    default="steward",
    show_default=True,
    help="steward (full), single (one agent with every tool of the suite), or an ablation: "
    "no-eval, sequential.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("agentdojo-results"),
    show_default=True,
    help="Folder for results (JSONL, summary, Markdown, plot), run records and checkpoints.",
)
@click.option(
    "--max-steps",
    type=click.IntRange(2, 100),
    help="Actions per staff attempt (the single agent: per case; default 40).",
)
@click.option(
    "--max-calls", type=click.IntRange(1), help="Model-call budget of one case (steward agents)."
)
@click.option(
    "--observation-chars",
    type=click.IntRange(100),
    help="Characters of a tool's answer shown in a prompt (default 600, for the embedded "
    "model's window; AgentDojo's answers run to tens of thousands of characters, and an "
    "injection cut off is never seen: raise it with a model of a larger window).",
)
@click.option(
    "--prompt-chars",
    type=click.IntRange(1000),
    help="Largest prompt in characters (default 8000, the embedded model's window).",
)
@click.option(
    "--no-rollback",
    is_flag=True,
    help="Keep a failed attempt's effects on every app, as on real apps (by default a failed "
    "attempt is rolled back on apps whose state no other app shares).",
)
@click.option("--fresh", is_flag=True, help="Forget earlier results of this arm; start over.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress line.")
def agentdojo(
    suite: str,
    attack: str | None,
    limit: int | None,
    injections: int | None,
    concurrency: int,
    model: str | None,
    base_url: str | None,
    config: str | None,
    no_autostart: bool,
    agent: str,
    out: Path,
    max_steps: int | None,
    max_calls: int | None,
    observation_chars: int | None,
    prompt_chars: int | None,
    no_rollback: bool,
    fresh: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Run AgentDojo (v1.2.2) user tasks through an agent and score them with AgentDojo's own
    checks: benign utility, and with --attack, utility under attack and the targeted attack
    success rate, per suite and by where the injection sat (in an app the injection's goal
    needs, or in another one).

    Each suite's environment is split into the apps a user would name (email, calendar,
    drive; hotels, restaurants, car_rental, flights, profile; bank, files, account; slack,
    web), each with its own task token; tools run through AgentDojo's own runtime. Memory is
    off for every arm: AgentDojo is held out. Results go to --out: one JSONL line per case (an
    interrupted run resumes; a folder made with other settings is refused), a summary JSON,
    results.md (every arm in the folder) and a PNG.

    \b
    Examples:
      steward bench agentdojo --suite banking --model oracle --json     # = the references
      steward bench agentdojo --suite banking --model oracle-broken     # = doing nothing
      steward bench agentdojo --attack important_instructions --model Qwen/Qwen3-8B \\
          --base-url http://gpu:8000/v1 --agent single
    """
    from benchmarks.agentdojo import (
        ORACLES,
        AgentDojoConfig,
        CaseSource,
        OracleSource,
        ServedSource,
        check_attack,
        run_benchmark,
        suites_of,
    )
    from benchmarks.bfcl.models import ORACLE_BROKEN, TEACHER, PoolSource

    suites = suites_of(suite)  # loads AgentDojo: a missing package stops here
    if attack is not None:
        check_attack(attack)
    limits = {
        "max_steps": max_steps,
        "observation_chars": observation_chars,
        "prompt_chars": prompt_chars,
    }
    settings = AgentSettings.model_validate({k: v for k, v in limits.items() if v is not None})
    bench = AgentDojoConfig(
        suites=suites,
        attack=attack,
        agent=agent,  # type: ignore[arg-type]
        limit=limit,
        injections=injections,
        concurrency=concurrency,
        out=out,
        settings=settings,
        single_max_steps=max_steps or AgentDojoConfig.model_fields["single_max_steps"].default,
        max_calls_per_case=max_calls,
        rollback=not no_rollback,
    )
    if model == TEACHER:
        raise click.BadParameter("the teacher plays BFCL only", param_hint="--model")
    source: CaseSource
    if model in ORACLES:
        source = OracleSource(broken=model == ORACLE_BROKEN)
    else:
        served = source_factory(
            base_url=base_url,
            config=config,
            concurrency=concurrency,
            autostart=not no_autostart,
            quiet=quiet or as_json,
        )(model)
        assert isinstance(served, PoolSource)
        source = ServedSource(served)
    if fresh:
        bench.out.joinpath(f"{bench.key(source.label)}.jsonl").unlink(missing_ok=True)
    bar = CaseBar(enabled=not quiet)
    try:
        summary = asyncio.run(run_benchmark(bench, source, on_start=bar.start, on_result=bar.case))
    finally:
        bar.close()
    if as_json:
        click.echo(json.dumps(summary.model_dump(mode="json"), indent=2))
    else:
        _show(summary)


COMMANDS = [agentdojo]
