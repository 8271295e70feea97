"""``steward bench memory``: the memory learning curve on BFCL multi-turn tasks."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import click
from pydantic import ValidationError

from agents.settings import AgentSettings
from benchmarks.bfcl import ORACLE
from benchmarks.bfcl.curve import (
    CURVE_JSON,
    CURVE_MD,
    CURVE_PNG,
    EXPERIMENT_JSON,
    Curve,
    CurveConfig,
    run_curve,
)
from benchmarks.bfcl.split import span
from cli.bench_bfcl import ProgressBar
from cli.options import (
    category_option,
    concurrency_option,
    mode_option,
    model_option,
    retrieval_option,
    server_options,
    source_factory,
)


def _points(text: str | None) -> list[int]:
    if not text:
        return []
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise click.BadParameter(f"{text!r}: give task counts like 0,10,25") from None


def _show(curve: Curve) -> None:
    click.echo(
        f"memory curve on {curve.config.category}: fill with {curve.fill_model}, "
        f"evaluate {curve.config.eval} task(s) with {curve.eval_model} ({curve.elapsed_s:.0f} s)"
    )
    click.echo(
        f"{'seen':>5} {'memory':>6} {'entries':>8} {'retr/turn':>9} {'accuracy':>9} "
        f"{'per-turn':>9} {'prompt tok/task':>16} {'actions/task':>13}"
    )
    for point in curve.points:
        s = point.summary
        entries = point.guidelines + point.expertise
        click.echo(
            f"{point.tasks_seen:>5} {'on' if point.memory else 'off':>6} {entries:>8} "
            f"{point.retrieved_per_turn:>9.2f} {100 * s.accuracy:>8.1f}% "
            f"{100 * s.per_turn_accuracy:>8.1f}% {s.per_task.prompt_tokens:>16} "
            f"{s.per_task.actions:>13}"
        )
    click.echo(
        f"memory learned from task indices {span(curve.learned_indices)} "
        f"({curve.fill_passed} of {curve.fill_tasks} fill tasks passed); evaluated on "
        f"{span(curve.config.eval_indices())}"
    )
    for name, path in curve.files.items():
        click.echo(f"  {name}: {path}")


@click.command("memory")
@category_option
@click.option(
    "--split",
    type=click.Choice(["interleaved", "blocks"]),
    default="interleaved",
    show_default=True,
    help="interleaved: learn from every other task, evaluate on the ones between (BFCL orders "
    "tasks by app, so both slices cover the same apps); blocks: two contiguous slices.",
)
@click.option(
    "--fill", type=click.IntRange(1), default=50, show_default=True, help="Tasks to learn from."
)
@click.option(
    "--fill-offset",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="First task of the fill slice.",
)
@click.option(
    "--eval",
    "eval_tasks",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="Unseen tasks evaluated at every point.",
)
@click.option(
    "--eval-offset",
    type=click.IntRange(0),
    help="--split blocks: first task of the evaluation slice [default: right after the fill "
    "slice].",
)
@click.option(
    "--points",
    metavar="K,K,...",
    help="Fill tasks seen at which memory is evaluated [default: 0, fill/2, fill]; "
    "0 (memory off) is always included.",
)
@model_option("Model that is evaluated.")
@click.option(
    "--fill-model",
    metavar="NAME",
    help=f"Model that fills memory [default: --model]; `{ORACLE}` fills it with verified "
    "ground-truth runs (a teacher for a small model).",
)
@server_options
@mode_option
@concurrency_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("memory-curve"),
    show_default=True,
    help="Folder for the memory copies, every run's results and the curve.",
)
@retrieval_option
@click.option("--max-steps", type=click.IntRange(2, 100), help="Actions per staff attempt.")
@click.option("--max-calls", type=click.IntRange(1), help="Model-call budget of one turn.")
@click.option(
    "--fresh", is_flag=True, help="Start over: drop earlier memory copies and results in --out."
)
@click.option("--json", "as_json", is_flag=True, help="Print the curve as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress.")
def memory(
    category: str,
    split: str,
    fill: int,
    fill_offset: int,
    eval_tasks: int,
    eval_offset: int | None,
    points: str | None,
    model: str | None,
    fill_model: str | None,
    base_url: str | None,
    config: str | None,
    mode: str,
    concurrency: int,
    out: Path,
    max_steps: int | None,
    memory_retrieval: str | None,
    max_calls: int | None,
    fresh: bool,
    no_autostart: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Measure memory-based self-evolution: accuracy on unseen tasks against tasks learned from.

    The steward learns from the fill tasks in stages (only from tasks BFCL's checker passes)
    and a copy of its memory is kept at every point. The evaluation tasks then run once per
    copy, memory read-only, and once with memory off (point 0): same model, same tasks. The
    table compares accuracy, tokens and actions, and how often the template memory offered
    recruits the right apps; --out gets curve.md, curve.json, curve.png and every run's
    results. An interrupted curve resumes where it stopped.

    Held out means held out: task N of every BFCL multi-turn category is a version of
    multi_turn_base task N, so the fill and evaluation slices may share no index (checked
    here, and again by every evaluation against its memory's ledger of learned tasks).

    Experiments use their own memory files in --out, never your memory store. A scripted
    fill model (`oracle`) marks its entries as scripted; this experiment offers them to the
    evaluated model on purpose (a teacher), which `steward run` never does. To keep what the
    fill learned: steward memory --db OUT/memory/after-0050.db export m.json, then
    steward memory import m.json.

    \b
    Examples:
      steward bench memory --model oracle          # learn from 0,2,..,98; evaluate 1,3,..,39
      steward bench memory --fill 20 --eval 10 --points 10,20 --concurrency 8
      steward bench memory --fill-model oracle --eval 10 --max-calls 30   # oracle as teacher
      steward bench memory --model oracle --memory-retrieval hybrid --out curve-hybrid
    """
    try:
        curve_config = CurveConfig(
            category=category,
            split=split,  # type: ignore[arg-type]
            fill=fill,
            fill_offset=fill_offset,
            eval=eval_tasks,
            eval_offset=eval_offset,
            points=_points(points),
            mode=mode,  # type: ignore[arg-type]
            concurrency=concurrency,
            out=out,
            settings=AgentSettings.model_validate({"max_steps": max_steps} if max_steps else {}),
            max_calls_per_turn=max_calls,
            memory_retrieval=memory_retrieval,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        raise click.UsageError(
            "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        ) from None
    make_source = source_factory(
        base_url=base_url,
        config=config,
        concurrency=concurrency,
        autostart=not no_autostart,
        quiet=quiet or as_json,
    )
    filler = fill_model or model
    if fresh:
        for name in ("fill", "memory", "eval"):
            shutil.rmtree(out / name, ignore_errors=True)
        for name in (CURVE_JSON, CURVE_MD, CURVE_PNG, EXPERIMENT_JSON):
            (out / name).unlink(missing_ok=True)
    bar = ProgressBar(enabled=not quiet)

    def stage(text: str) -> None:
        bar.close()
        if not quiet:
            click.echo(text, err=True)
        bar.done = bar.passed = 0

    try:
        curve = asyncio.run(
            run_curve(
                curve_config,
                lambda: make_source(filler),
                lambda: make_source(model),
                on_stage=stage,
                on_start=bar.start,
                on_result=bar.result,
            )
        )
    finally:
        bar.close()
    if as_json:
        click.echo(json.dumps(curve.model_dump(mode="json"), indent=2))
    else:
        _show(curve)


COMMANDS = [memory]
