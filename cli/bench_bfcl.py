"""``steward bench bfcl``: BFCL v4 multi-turn through the steward, scored by BFCL's checker."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import click

from agents.registry import default_registry
from agents.settings import AgentSettings
from benchmarks.bfcl import (
    AGENTS,
    CATEGORIES,
    ORACLE,
    ORACLE_BROKEN,
    BenchConfig,
    Summary,
    TaskResult,
    model_source,
    run_benchmark,
)
from memory.embedding import RETRIEVALS


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
    click.echo(
        f"this run: {summary.tasks_run} task(s) in {summary.elapsed_s:.1f} s "
        f"({summary.tasks_per_minute:.1f} tasks/min at concurrency {summary.concurrency})"
    )
    for name, path in summary.files.items():
        click.echo(f"  {name}: {path}")


@click.command("bfcl")
@click.option(
    "--category",
    type=click.Choice(CATEGORIES),
    default="multi_turn_base",
    show_default=True,
    help="BFCL v4 multi-turn category.",
)
@click.option("--limit", type=click.IntRange(1), help="Run at most N tasks (default: all 200).")
@click.option(
    "--offset", type=click.IntRange(0), default=0, show_default=True, help="Skip the first N tasks."
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Tasks run at the same time (lets vLLM batch requests).",
)
@click.option(
    "--model",
    metavar="NAME",
    help=f"Served model name, or `{ORACLE}` (ground-truth replay) / `{ORACLE_BROKEN}`.",
)
@click.option("--base-url", metavar="URL", help="OpenAI-compatible server (default: embedded).")
@click.option("--config", metavar="FILE", help="Models config (TOML).")
@click.option(
    "--agent",
    type=click.Choice(AGENTS),
    default="steward",
    show_default=True,
    help="steward (full), single (one agent, every tool), or an ablation: no-eval, "
    "sequential, no-memory.",
)
@click.option(
    "--mode",
    type=click.Choice(["turns", "compound"]),
    default="turns",
    show_default=True,
    help="turns: one run per user turn; compound: all turns as one instruction.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("bfcl-results"),
    show_default=True,
    help="Folder for results (JSONL, summary, Markdown, plots), run records and memory.",
)
@click.option(
    "--memory-db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Memory store for agents with memory [default: your memory store, as "
    "`steward memory` shows it]. Give a fresh file to keep experiments apart.",
)
@click.option(
    "--memory-retrieval",
    type=click.Choice(RETRIEVALS),
    help="How memory is searched: fts (BM25), embedding (sentence similarity; needs "
    "steward[embeddings]) or hybrid [default: $STEWARD_MEMORY_RETRIEVAL or fts].",
)
@click.option(
    "--no-learn",
    is_flag=True,
    help="Only read memory; write nothing from the tasks that pass.",
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
@click.option("--no-autostart", is_flag=True, help="Do not start the embedded server.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def bfcl(
    category: str,
    limit: int | None,
    offset: int,
    concurrency: int,
    model: str | None,
    base_url: str | None,
    config: str | None,
    agent: str,
    mode: str,
    out: Path,
    memory_db: Path | None,
    no_learn: bool,
    memory_retrieval: str | None,
    max_steps: int | None,
    max_arg_chars: int | None,
    max_calls: int | None,
    fresh: bool,
    no_autostart: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Run BFCL v4 multi-turn tasks through an agent and score them with BFCL's own checker.

    Results go to --out: one JSONL line per task (an interrupted run resumes and skips the
    finished tasks), a summary JSON, results.md (every run in the folder: the ablation table)
    and PNG plots. Agents with memory read it before planning and learn from every task the
    checker passes (and only those); `steward memory list` shows what was learned.

    \b
    Examples:
      steward bench bfcl --model oracle --json                 # must be 100%
      steward bench bfcl --category multi_turn_base --limit 20 --concurrency 8
      steward bench bfcl --agent single --base-url http://gpu:8000/v1 --model Qwen/Qwen3-8B
    """
    limits = {"max_steps": max_steps, "max_arg_chars": max_arg_chars}
    settings = AgentSettings.model_validate({k: v for k, v in limits.items() if v is not None})
    cfg = None
    if model not in (ORACLE, ORACLE_BROKEN):
        from cli.build import ensure_backend, models_config

        cfg = models_config(default_registry(), config, base_url, model)
        if cfg.default.max_concurrency < concurrency:  # let the server batch K tasks
            cfg = cfg.with_default(max_concurrency=concurrency)
        ensure_backend(cfg, autostart=not no_autostart, quiet=quiet or as_json)
    source = model_source(model, cfg)
    bench = BenchConfig(
        category=category,
        agent=agent,  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
        limit=limit,
        offset=offset,
        concurrency=concurrency,
        out=out,
        memory_db=memory_db,
        learn=not no_learn,
        memory_retrieval=memory_retrieval,  # type: ignore[arg-type]
        settings=settings,
        single_max_steps=max_steps or BenchConfig.model_fields["single_max_steps"].default,
        max_calls_per_turn=max_calls,
    )
    if fresh:
        bench.out.joinpath(f"{bench.key(source.label)}.jsonl").unlink(missing_ok=True)
    bar = ProgressBar(enabled=not quiet)
    try:
        summary = asyncio.run(
            run_benchmark(bench, source, on_start=bar.start, on_result=bar.result)
        )
    finally:
        bar.close()
    if as_json:
        click.echo(json.dumps(summary.model_dump(mode="json"), indent=2))
    else:
        _show(summary)


COMMANDS = [bfcl]
