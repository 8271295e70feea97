"""The memory learning curve on disk: ``curve.json``, ``curve.md`` and ``curve.png``."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from benchmarks.bfcl.curve_config import CURVE_JSON, CURVE_MD, CURVE_PNG, Curve, CurvePoint
from benchmarks.bfcl.split import span

log = logging.getLogger("steward.benchmarks")


def write_curve(curve: Curve) -> None:
    """``curve.json``, ``curve.md`` and (with matplotlib) ``curve.png`` in the curve's folder."""
    out = curve.config.out
    curve.files = {"json": str(out / CURVE_JSON), "markdown": str(out / CURVE_MD)}
    png = _plot(curve, out / CURVE_PNG)
    if png is not None:
        curve.files["plot"] = str(png)
    (out / CURVE_MD).write_text(markdown(curve), encoding="utf-8")
    (out / CURVE_JSON).write_text(
        json.dumps(curve.model_dump(mode="json"), indent=2), encoding="utf-8"
    )


def _span(indices: Sequence[int]) -> str:
    """``tasks 0, 2, ..., 98`` or ``tasks 50-69``."""
    if len(indices) > 1 and indices[-1] - indices[0] == len(indices) - 1:
        return f"tasks {indices[0]}-{indices[-1]}"
    if len(indices) > 3:
        return f"tasks {indices[0]}, {indices[1]}, ..., {indices[-1]}"
    return "tasks " + ", ".join(map(str, indices))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def markdown(curve: Curve) -> str:
    """The learning curve as a table, one row per point (the first row is memory off)."""
    cfg = curve.config
    lines = [
        f"# Memory learning curve: {cfg.category}",
        "",
        f"Fill: {_span(cfg.fill_indices())} with `{curve.fill_model}`; evaluation: "
        f"{_span(cfg.eval_indices())} with `{curve.eval_model}`, memory read-only; "
        f"{cfg.mode} mode; memory retrieval {cfg.memory_retrieval or 'default'}.",
        "",
        "| tasks seen | memory | guidelines | expertise | retrieved/turn | template apps right % "
        "| accuracy % | per-turn % | recruitment % | calls/task | prompt tok/task "
        "| completion tok/task | actions/task | s/task |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for point in curve.points:
        s, p = point.summary, point.summary.per_task
        lines.append(
            f"| {point.tasks_seen} | {'on' if point.memory else 'off'} | {point.guidelines} "
            f"| {point.expertise} | {point.retrieved_per_turn:.2f} | {_pct(point.template_match)} "
            f"| {_pct(s.accuracy)} "
            f"| {_pct(s.per_turn_accuracy)} | {_pct(s.recruitment_accuracy)} | {p.model_calls} "
            f"| {p.prompt_tokens} | {p.completion_tokens} | {p.actions} | {p.wall_s:.1f} |"
        )
    lines += [
        "",
        f"The fill runs passed {curve.fill_passed} of {curve.fill_tasks} task(s); memory learned "
        f"only from those: task indices {span(curve.learned_indices)}. No evaluated task shares "
        "an index with them (task N of every BFCL multi-turn category is a version of "
        "`multi_turn_base` task N).",
    ]
    if curve.fill_scripted and curve.fill_model != curve.eval_model:
        lines += [
            "",
            f"`{curve.fill_model}` is a scripted model: its entries are offered to "
            f"`{curve.eval_model}` on purpose, as a teacher's (outside this experiment they are "
            "offered to no model unless asked).",
        ]
    return "\n".join(lines) + "\n"


def _plot(curve: Curve, path: Path) -> Path | None:
    try:
        import matplotlib
    except ImportError:
        log.warning("matplotlib is not installed; no curve plot (pip install 'steward[plots]')")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    points: Sequence[CurvePoint] = curve.points
    xs = [p.tasks_seen for p in points]
    fig, ax = pyplot.subplots(figsize=(7, 4.5))
    ax.plot(xs, [100 * p.summary.accuracy for p in points], "o-", label="task accuracy")
    ax.plot(xs, [100 * p.summary.per_turn_accuracy for p in points], "s--", label="per-turn")
    ax.set_xlabel(f"fill tasks seen (memory from `{curve.fill_model}`)")
    ax.set_ylabel(f"accuracy on {curve.config.eval} unseen tasks (%)")
    ax.set_ylim(-2, 102)
    ax.set_title(f"Memory learning curve: {curve.config.category}, {curve.eval_model}")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot.close(fig)
    return path
