"""``steward bench bfcl``: BFCL v4 multi-turn through the steward, scored by BFCL's checker."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import click

from agents.settings import AgentSettings
from benchmarks.bfcl import (
    AGENTS,
    BenchConfig,
    Summary,
    TaskResult,
)
from benchmarks.bfcl.harness import Harness
from benchmarks.bfcl.purposes import PURPOSES
from benchmarks.bfcl.report import server_line
from benchmarks.bfcl.split import parse_tasks, span
from cli.options import (
    USER_MEMORY,
    category_option,
    concurrency_option,
    memory_db_path,
    mode_option,
    model_option,
    retrieval_option,
    server_options,
    source_factory,
    tasks_option,
)


def check_experts(source: object, bench: BenchConfig) -> None:
    """Refuse to evaluate tasks whose index an expert the run is routed to learned from."""
    config = getattr(source, "config", None)
    if config is None:  # a scripted model: no experts
        return
    from benchmarks.bfcl.data import load_tasks
    from benchmarks.bfcl.split import check_experts_unseen
    from local.experts import installed_adapters
    from local.settings import ServerSettings

    routed = {config.default.model, *(r.model for r in config.roles.values() if r.model)}
    experts = {
        a.name: a.manifest.sources
        for a in installed_adapters(ServerSettings()).servable
        if a.name in routed and a.manifest is not None
    }
    if experts:
        tasks = load_tasks(
            bench.category, limit=bench.limit, offset=bench.offset, indices=bench.indices
        )
        check_experts_unseen(experts, [t.id for t in tasks])


def pick_tasks(spec: str, offset: int, limit: int | None) -> list[int]:
    """The indices of ``--tasks``, then ``--offset`` and ``--limit`` within them."""
    chosen = parse_tasks(spec)[offset:]
    return chosen[:limit] if limit is not None else chosen


class ProgressBar:
    """One line on stderr, redrawn per task: done/total, running accuracy, speed."""

    def __init__(self, *, enabled: bool, width: int = 30) -> None:
        self.enabled = enabled
        self.width = width
        self.total = 0
        self.done = 0
        self.passed = 0
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()

    def start(self, todo: int, skipped: int) -> None:
        self.total = todo
        self.started = time.monotonic()
        if self.enabled and skipped:
            click.echo(f"resuming: {skipped} task(s) already done, {todo} to run", err=True)
        self._draw()

    def result(self, result: TaskResult) -> None:
        self.done += 1
        self.passed += int(result.valid)
        self._draw()

    def _draw(self) -> None:
        if not self.enabled or (not self.tty and self.done == 0):
            return
        filled = int(self.width * self.done / self.total) if self.total else self.width
        accuracy = f"{100 * self.passed / self.done:5.1f}%" if self.done else "  -  "
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed * 60 if elapsed > 0 else 0.0
        bar = "#" * filled + "-" * (self.width - filled)
        line = (
            f"[{bar}] {self.done}/{self.total} accuracy {accuracy} "
            f"{rate:5.1f} tasks/min {elapsed:6.1f}s"
        )
        # redraw in place on a terminal; one line per task in a log file
        sys.stderr.write(f"\r{line}" if self.tty else f"{line}\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _show(summary: Summary) -> None:
    recruit = (
        f"{100 * summary.recruitment_accuracy:.1f}%"
        if summary.recruitment_accuracy is not None
        else "-"
    )
    click.echo(
        f"{summary.category} / {summary.agent} / {summary.mode} / {summary.model}: "
        f"{summary.passed}/{summary.tasks} passed, accuracy {100 * summary.accuracy:.1f}%, "
        f"per-turn {100 * summary.per_turn_accuracy:.1f}%, recruitment {recruit}"
    )
    p = summary.per_task
    click.echo(
        f"per task: {p.model_calls} model calls, {p.prompt_tokens}+{p.completion_tokens} tokens, "
        f"{p.actions} actions, {p.retries} retries, {p.replans} re-plans, {p.wall_s:.2f} s"
    )
    c = summary.calls_by_purpose_per_task
    purposes = ", ".join(f"{name} {getattr(c, name):g}" for name in (*PURPOSES, "other"))
    fallbacks = ", ".join(f"{k} {v:g}" for k, v in sorted(c.fallbacks.items()) if v) or "0"
    click.echo(
        f"calls per task by purpose: {purposes}; re-asks {c.reasks:g}, retries {c.retries:g}, "
        f"plan fallbacks {fallbacks}"
    )
    click.echo(
        f"this run: {summary.tasks_run} task(s) in {summary.elapsed_s:.1f} s "
        f"({summary.tasks_per_minute:.1f} tasks/min at concurrency {summary.concurrency})"
    )
    if summary.server is not None:
        click.echo(f"server: {server_line(summary.server)}")
    m = summary.memory
    if m is not None:
        whose = "your memory store" if m.user_store else "memory file"
        scripted = ", scripted entries offered" if m.include_scripted else ""
        click.echo(
            f"memory: {whose} {m.path} ({'learning' if m.learn else 'read-only'}{scripted}); "
            f"learned from task indices {span(m.learned_indices)}"
        )
    for name, path in summary.files.items():
        click.echo(f"  {name}: {path}")


@click.command("bfcl")
@category_option
@tasks_option
@click.option("--limit", type=click.IntRange(1), help="Run at most N tasks (default: all 200).")
@click.option(
    "--offset", type=click.IntRange(0), default=0, show_default=True, help="Skip the first N tasks."
)
@concurrency_option
@model_option("Model of every agent.")
@server_options
@click.option(
    "--agent",
    type=click.Choice(AGENTS),
    default="steward",
    show_default=True,
    help="steward (full), single (one agent, every tool), or an ablation: no-eval, "
    "sequential, no-memory.",
)
@mode_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("bfcl-results"),
    show_default=True,
    help="Folder for results (JSONL, summary, Markdown, plots), run records and memory.",
)
@click.option(
    "--memory-db",
    metavar="FILE|user",
    help="Memory file of agents with memory [default: OUT/memory.db, kept apart from your "
    f"own store]. `{USER_MEMORY}`: your own memory store, the one `steward run` reads "
    "($STEWARD_MEMORY_DB or <data dir>/memory.db); the run then learns into it. "
    "(A file named user: ./user.)",
)
@retrieval_option
@click.option(
    "--no-learn",
    is_flag=True,
    help="Only read memory; write nothing from the tasks that pass.",
)
@click.option(
    "--scripted-memory",
    is_flag=True,
    help="Also offer memory entries that scripted models made (the oracle's ground-truth "
    "replays, marked source=scripted); by default no model is shown them.",
)
@click.option(
    "--max-steps",
    type=click.IntRange(2, 100),
    help="Actions per staff attempt (the single agent: per turn; default 40).",
)
@click.option(
    "--max-arg-chars",
    type=click.IntRange(1),
    help="Cap on string tool arguments in the action schema (default: none; BFCL's "
    "long-context tasks write up to 6,690 characters at once).",
)
@click.option(
    "--max-calls", type=click.IntRange(1), help="Model-call budget of one turn (steward agents)."
)
@click.option(
    "--fresh", is_flag=True, help="Forget earlier results of this run instead of resuming."
)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="local",
    default=None,
    metavar="[ADDRESS]",
    help="Run each task as a Ray task: on a new local Ray cluster with --concurrency CPUs "
    "(no ADDRESS), or on a running one (auto, HOST:PORT, ray://HOST:PORT). Results, resume, "
    'memory and reports as a local run. Needs Ray: pip install "steward[ray]".',
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def bfcl(
    category: str,
    tasks_spec: str | None,
    limit: int | None,
    offset: int,
    concurrency: int,
    model: str | None,
    base_url: str | None,
    config: str | None,
    agent: str,
    mode: str,
    out: Path,
    memory_db: str | None,
    no_learn: bool,
    scripted_memory: bool,
    memory_retrieval: str | None,
    max_steps: int | None,
    max_arg_chars: int | None,
    max_calls: int | None,
    fresh: bool,
    no_autostart: bool,
    ray_address: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Run BFCL v4 multi-turn tasks through an agent and score them with BFCL's own checker.

    Results go to --out: one JSONL line per task (an interrupted run resumes and skips the
    finished tasks), a summary JSON, results.md (every run in the folder: the ablation table,
    and where the model calls go: plan, replan, act, evaluate, answer, summarize, re-asks,
    retries, plan fallbacks) and PNG plots.

    Agents with memory read it before planning and learn from every task the checker passes
    (and only those), into OUT/memory.db unless --memory-db says otherwise (`steward memory
    --db OUT/memory.db list` shows what was learned). What a scripted model (the oracle)
    teaches is marked so and offered to no model without --scripted-memory. Task N of every
    BFCL multi-turn category is a version of multi_turn_base task N, so a memory never
    evaluates a task whose index it has learned from, in any category: such a run is refused
    (the memory file's ledger, FILE.learned.jsonl, lists what it learned from).

    \b
    Examples:
      steward bench bfcl --model oracle --json                 # must be 100%
      steward bench bfcl --category multi_turn_base --limit 20 --concurrency 8
      steward bench bfcl --category multi_turn_miss_func --tasks odd --limit 10
      steward bench bfcl --agent single --base-url http://gpu:8000/v1 --model Qwen/Qwen3-8B
      steward bench bfcl --model Qwen/Qwen3-8B --memory-db user   # learn into your own store
      steward bench bfcl --model oracle --limit 20 --ray           # on a local Ray cluster
    """
    limits = {"max_steps": max_steps, "max_arg_chars": max_arg_chars}
    settings = AgentSettings.model_validate({k: v for k, v in limits.items() if v is not None})
    make_source = source_factory(
        base_url=base_url,
        config=config,
        concurrency=concurrency,
        autostart=not no_autostart,
        quiet=quiet or as_json,
    )
    source = make_source(model)
    bench = BenchConfig(
        category=category,
        agent=agent,  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
        limit=None if tasks_spec else limit,
        offset=0 if tasks_spec else offset,
        indices=pick_tasks(tasks_spec, offset, limit) if tasks_spec else None,
        concurrency=concurrency,
        out=out,
        memory_db=memory_db_path(memory_db),
        learn=not no_learn,
        include_scripted=scripted_memory,
        memory_retrieval=memory_retrieval,  # type: ignore[arg-type]
        settings=settings,
        single_max_steps=max_steps or BenchConfig.model_fields["single_max_steps"].default,
        max_calls_per_turn=max_calls,
    )
    check_experts(source, bench)
    if fresh:
        bench.out.joinpath(f"{bench.key(source.label)}.jsonl").unlink(missing_ok=True)
    ray = None
    if ray_address is not None:
        from benchmarks.bfcl.ray_cluster import LOCAL, check_address, import_ray
        from benchmarks.bfcl.ray_shard import RayOptions

        import_ray()  # one-line errors before anything runs
        ray = RayOptions(address=None if ray_address == LOCAL else ray_address)
        if ray.address is not None:
            check_address(ray.address)
    bar = ProgressBar(enabled=not quiet)
    harness = Harness(bench, source, on_start=bar.start, on_result=bar.result, ray=ray)
    try:
        summary = asyncio.run(harness.run())
    finally:
        bar.close()
    runner = harness.ray_report
    if as_json:
        data = summary.model_dump(mode="json")
        if runner is not None:
            data["runner"] = runner.model_dump(mode="json")
        click.echo(json.dumps(data, indent=2))
    else:
        _show(summary)
        if runner is not None and not runner.nodes:
            click.echo(f"runner: Ray at {runner.address}: nothing left to run, no cluster started")
        elif runner is not None:
            click.echo(
                f"runner: Ray at {runner.address} ({runner.nodes} node(s), {runner.cpus:g} CPUs, "
                f"{runner.in_flight} task(s) at once; started in {runner.startup_s:.1f} s)"
            )


COMMANDS = [bfcl]
