"""The trained-experts experiment's report: four arms on held-out tasks of every category.

``python -m benchmarks.bfcl.experts_report OUT`` reads what ``scripts/experts_experiment.sh``
left in ``OUT`` (the arms' ``steward bench bfcl`` summaries under ``OUT/eval/ARM`` and the
``steward train --json`` reports) and writes ``experts.md``, ``experts.json`` and
``experts.png``: per arm and category, per-turn and task accuracy, recruitment, model calls,
tokens and wall time per task, and the training time of each trained arm.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.bfcl.report import load_summaries
from benchmarks.bfcl.results import Summary

ARMS = ("steward-untrained", "steward-trained", "single-untrained", "single-trained")
TRAINING = {"steward-trained": "train-steward.json", "single-trained": "train-single.json"}


def _row(arm: str, summaries: list[Summary]) -> dict[str, Any]:
    tasks = sum(s.tasks for s in summaries)
    if not tasks:
        return {"arm": arm, "tasks": 0}
    turns = [(s.per_turn_accuracy, s.tasks) for s in summaries]
    judged = [(s.recruitment_accuracy, s.tasks) for s in summaries if s.recruitment_accuracy]
    totals = {k: sum(getattr(s.totals, k) for s in summaries) for k in _TOTALS}
    return {
        "arm": arm,
        "categories": sorted(s.category for s in summaries),
        "tasks": tasks,
        "passed": sum(s.passed for s in summaries),
        "accuracy": round(sum(s.passed for s in summaries) / tasks, 4),
        "per_turn_accuracy": round(sum(a * n for a, n in turns) / tasks, 4),
        "recruitment": (
            round(sum(a * n for a, n in judged) / sum(n for _, n in judged), 4) if judged else None
        ),
        **{f"{k}_per_task": round(v / tasks, 1) for k, v in totals.items()},
        "by_category": {
            s.category: {
                "tasks": s.tasks,
                "passed": s.passed,
                "per_turn_accuracy": s.per_turn_accuracy,
                "recruitment": s.recruitment_accuracy,
            }
            for s in summaries
        },
    }


_TOTALS = ("model_calls", "prompt_tokens", "completion_tokens", "wall_s")


def _training(out: Path, arm: str) -> dict[str, Any] | None:
    name = TRAINING.get(arm)
    path = out / name if name else None
    if path is None or not path.exists():
        return None
    report = json.loads(path.read_text(encoding="utf-8"))
    adapters = report.get("adapters", [])
    return {
        "adapters": len(adapters),
        "steps": sum(a["steps"] for a in adapters),
        "examples": sum(a["examples"] for a in adapters),
        "train_s": round(sum(a.get("train_s", 0.0) for a in adapters), 1),
        "loss": {a["task_token"]: [a["loss_first"], a["loss_last"]] for a in adapters},
    }


def build(out: Path) -> dict[str, Any]:
    """The report's data (also written to ``experts.json``)."""
    rows = []
    for arm in ARMS:
        summaries = load_summaries(out / "eval" / arm) if (out / "eval" / arm).exists() else []
        row = _row(arm, [s for s in summaries if s.tasks])
        row["training"] = _training(out, arm)
        rows.append(row)
    return {"arms": rows}


def markdown(data: dict[str, Any]) -> str:
    lines = [
        "| arm | tasks | task acc. | per-turn acc. | recruitment | calls/task | "
        "tokens/task (prompt + completion) | s/task | training |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["arms"]:
        if not r.get("tasks"):
            lines.append(f"| {r['arm']} | 0 | | | | | | | |")
            continue
        t = r.get("training")
        trained = f"{t['steps']} steps, {t['train_s'] / 60:.0f} min" if t else "-"
        recruit = "-" if r["recruitment"] is None else f"{100 * r['recruitment']:.1f}%"
        lines.append(
            f"| {r['arm']} | {r['tasks']} | {r['passed']}/{r['tasks']} | "
            f"{100 * r['per_turn_accuracy']:.1f}% | {recruit} | {r['model_calls_per_task']:g} | "
            f"{r['prompt_tokens_per_task']:g} + {r['completion_tokens_per_task']:g} | "
            f"{r['wall_s_per_task']:g} | {trained} |"
        )
    return "\n".join(lines) + "\n"


def plot(data: dict[str, Any], path: Path) -> bool:
    """Per-turn accuracy by arm and category as grouped bars; ``False`` without matplotlib."""
    if importlib.util.find_spec("matplotlib") is None:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = [r for r in data["arms"] if r.get("tasks")]
    categories = sorted({c for r in arms for c in r["by_category"]})
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / max(1, len(arms))
    for i, r in enumerate(arms):
        values = [100 * r["by_category"].get(c, {}).get("per_turn_accuracy", 0) for c in categories]
        xs = [j + i * width for j in range(len(categories))]
        ax.bar(xs, values, width, label=r["arm"])
    ax.set_xticks([j + width * (len(arms) - 1) / 2 for j in range(len(categories))])
    ax.set_xticklabels([c.removeprefix("multi_turn_") for c in categories])
    ax.set_ylabel("per-turn accuracy (%)")
    ax.set_title("SmolLM2-135M on held-out BFCL tasks: untrained vs trained experts")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m benchmarks.bfcl.experts_report OUT", file=sys.stderr)
        return 2
    out = Path(argv[0])
    data = build(out)
    (out / "experts.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    (out / "experts.md").write_text(markdown(data), encoding="utf-8")
    plot(data, out / "experts.png")
    print(markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
