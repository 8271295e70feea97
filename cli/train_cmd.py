"""``steward train``: verified experience -> one LoRA adapter per task token and the steward."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from cli.options import category_option, tasks_option


class _Bar:
    """One line per adapter on stderr: step, loss, ETA."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.label = ""
        self.last = 0.0

    def start(self, label: str) -> None:
        self.label = label
        self.last = 0.0

    def __call__(self, line: Any) -> None:
        if not self.enabled or (time.monotonic() - self.last < 0.5 and line.step < line.total):
            return
        self.last = time.monotonic()
        done = int(30 * line.step / max(1, line.total))
        click.echo(
            f"\r{self.label:<22} [{'#' * done}{'-' * (30 - done)}] {line.step}/{line.total} "
            f"loss {line.loss:.3f} eta {line.eta_s:5.0f}s ",
            err=True,
            nl=line.step >= line.total,
        )

    def say(self, text: str) -> None:
        if self.enabled:
            click.echo(text, err=True)

    def warn(self, text: str) -> None:
        """Said even with --quiet."""
        click.echo(text, err=True)


@click.command()
@click.option(
    "--teacher",
    type=click.Choice(["bfcl"]),
    help="Learn from a benchmark teacher: BFCL's ground truth on the tasks --tasks picks, "
    "played as a good steward would and verified by BFCL's checker. Default: your own runs.",
)
@category_option
@tasks_option
@click.option(
    "--arm",
    type=click.Choice(["steward", "single"]),
    default="steward",
    show_default=True,
    help="steward: an adapter per task token and one for the steward; single: one adapter for "
    "the single-agent baseline (its own prompts), for comparisons.",
)
@click.option("--roles", metavar="R1,R2", help="Only these roles (steward, app names or tokens).")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("steward-train"),
    show_default=True,
    help="Folder for the teacher's runs, the examples and the adapters (resumable).",
)
@click.option("--max-steps", type=click.IntRange(1), help="Optimizer steps per adapter, at most.")
@click.option(
    "--budget-steps",
    type=click.IntRange(1),
    help="Optimizer steps for all adapters together, shared in proportion to their examples.",
)
@click.option("--max-examples", type=click.IntRange(1), help="Examples per adapter, at most.")
@click.option("--epochs", type=click.IntRange(1), default=1, show_default=True)
@click.option("--rank", type=click.IntRange(1), default=16, show_default=True, help="LoRA rank.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=2e-4, show_default=True)
@click.option("--no-install", is_flag=True, help="Train only; do not install the adapters.")
@click.option("--restart", is_flag=True, help="Start over in folders that hold a training.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
def train(
    teacher: str | None,
    category: str,
    tasks_spec: str | None,
    arm: str,
    roles: str | None,
    out: Path,
    max_steps: int | None,
    budget_steps: int | None,
    max_examples: int | None,
    epochs: int,
    rank: int,
    lr: float,
    no_install: bool,
    restart: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Distil verified experience into experts: one LoRA adapter per task token (and one for
    the steward), trained on exactly the prompts the runtime sends a trained expert (compact:
    no tool documentation) with the answers that were verified. The adapters are installed
    for `steward serve`, which serves them side by side and routes each token to its own.

    Training runs in the embedded server's environment (torch, transformers, peft; installed
    on first use), never in this one; it checkpoints and resumes after a kill.

    \b
    Examples:
      steward train                                  # from your own succeeded runs
      steward train --teacher bfcl --category multi_turn_base --tasks even --max-steps 4
      steward train --teacher bfcl --tasks even --budget-steps 400 --roles steward,file_system
    """
    from cli.train_flow import TrainOptions, train_experts

    bar = _Bar(enabled=not quiet)
    options = TrainOptions(
        teacher=teacher,
        category=category,
        tasks=tasks_spec or "even",
        arm=arm,  # type: ignore[arg-type]
        roles=roles,
        out=out,
        max_steps=max_steps,
        budget_steps=budget_steps,
        max_examples=max_examples,
        epochs=epochs,
        rank=rank,
        learning_rate=lr,
        install=not no_install,
        restart=restart,
    )
    report = asyncio.run(train_experts(options, progress=bar, say=bar.say, warn=bar.warn))
    if as_json:
        click.echo(json.dumps(report.model_dump(mode="json"), indent=2))
        return
    for adapter in report.adapters:
        loss = f"loss {adapter.loss_first} -> {adapter.loss_last}"
        where = "installed" if adapter.installed else "not installed"
        click.echo(
            f"{adapter.task_token:<22} {adapter.examples:>5} examples {adapter.steps:>5} steps "
            f"{loss} ({where}) {adapter.path}"
        )
    sys.stdout.flush()


COMMANDS = [train]
