"""The trained-experts experiment's report: the arms on the same held-out tasks of every category.

``python -m benchmarks.bfcl.experts_report OUT`` reads what ``scripts/experts_experiment.sh``
left in ``OUT`` (each arm's ``steward bench bfcl`` results under ``OUT/eval/ARM`` and the
``steward train --json`` reports) and writes ``experts.md``, ``experts.json`` and
``experts.png``: per arm and category, per-turn and task accuracy, the turns a trained arm
passes that its untrained arm fails (and the reverse), recruitment, model calls, tokens and wall
time per task, the training time of each trained arm, and how each arm behaves (its verdicts'
acceptance rate and commonest attempts: ``benchmarks.bfcl.experts_behaviour``).

Every row is computed over the same tasks: those every arm present has finished (an arm still
running does not make the others look better or worse). ``steward-trained-2`` and
``single-trained-2`` are optional arms: the same arm trained a second time (say, after the
teacher changed), with its report in ``train-steward-2.json`` / ``train-single-2.json``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.bfcl.experts_behaviour import behaviour
from benchmarks.bfcl.experts_behaviour import markdown as behaviour_markdown
from benchmarks.bfcl.report import read_results
from benchmarks.bfcl.results import TaskResult

ARMS = (
    "steward-untrained",
    "steward-trained",
    "steward-trained-2",
    "single-untrained",
    "single-trained",
    "single-trained-2",
)
TRAINING = {
    "steward-trained": "train-steward.json",
    "steward-trained-2": "train-steward-2.json",
    "single-trained": "train-single.json",
    "single-trained-2": "train-single-2.json",
}
_TOTALS = ("model_calls", "prompt_tokens", "completion_tokens", "wall_s")


def arm_results(folder: Path) -> dict[str, TaskResult]:
    """Task id -> result over every category's results file in an arm's folder."""
    found: dict[str, TaskResult] = {}
    for path in sorted(folder.glob("*__*.jsonl")):
        found.update(read_results(path))
    return found


def _untrained(arm: str) -> str:
    return arm.split("-", 1)[0] + "-untrained"


def _row(arm: str, results: list[TaskResult], baseline: dict[str, TaskResult]) -> dict[str, Any]:
    tasks, turns = len(results), sum(r.turn_count for r in results)
    judged = [t.recruited for r in results for t in r.turns if t.recruited is not None]
    totals = {k: sum(getattr(r.totals, k) for r in results) for k in _TOTALS}
    categories = sorted({r.category for r in results})
    row: dict[str, Any] = {
        "arm": arm,
        "tasks": tasks,
        "passed": sum(r.valid for r in results),
        "turns": turns,
        "turns_passed": sum(r.turns_passed for r in results),
        "per_turn_accuracy": round(sum(r.turns_passed for r in results) / turns, 4) if turns else 0,
        "recruitment": round(sum(judged) / len(judged), 4) if judged else None,
        **{f"{k}_per_task": round(v / tasks, 1) if tasks else 0 for k, v in totals.items()},
        "prompt_tokens_per_call": (
            round(totals["prompt_tokens"] / totals["model_calls"]) if totals["model_calls"] else 0
        ),
        "by_category": {c: _category([r for r in results if r.category == c]) for c in categories},
    }
    if arm != _untrained(arm) and baseline:
        # turns_passed counts the turns before the checker's first failure, so per task the
        # turns one arm passes beyond the other are the difference of the two counts
        diffs = [r.turns_passed - baseline[r.id].turns_passed for r in results]
        row["vs_untrained"] = {
            "gained": sum(d for d in diffs if d > 0),
            "lost": -sum(d for d in diffs if d < 0),
        }
    return row


def _category(results: list[TaskResult]) -> dict[str, Any]:
    turns = sum(r.turn_count for r in results)
    return {
        "tasks": len(results),
        "passed": sum(r.valid for r in results),
        "per_turn_accuracy": round(sum(r.turns_passed for r in results) / turns, 4) if turns else 0,
    }


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
    found = {arm: arm_results(out / "eval" / arm) for arm in ARMS}
    found = {arm: results for arm, results in found.items() if results}
    common = set.intersection(*(set(r) for r in found.values())) if found else set()
    order = sorted(common, key=lambda t: (t.rsplit("_", 1)[0], int(t.rsplit("_", 1)[1])))
    rows = []
    for arm, results in found.items():
        row = _row(arm, [results[t] for t in order], found.get(_untrained(arm), {}))
        row["training"] = _training(out, arm)
        runs = [t.run_id for task in order for t in results[task].turns if t.run_id]
        row["behaviour"] = behaviour(out / "eval" / arm / "runs.db", runs)
        rows.append(row)
    return {"tasks": order, "arms": rows}


def markdown(data: dict[str, Any]) -> str:
    lines = [
        f"{len(data['tasks'])} tasks that every arm finished.",
        "",
        "| arm | tasks passed | per-turn acc. | turns gained / lost vs untrained | recruitment "
        "| calls/task | prompt tokens/call | tokens/task (prompt + completion) | s/task "
        "| training |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in data["arms"]:
        t = r.get("training")
        trained = (
            f"{t['steps']} steps, {t['examples']:,} examples, {t['train_s'] / 60:.0f} min"
            if t
            else "-"
        )
        recruit = "-" if r["recruitment"] is None else f"{100 * r['recruitment']:.1f}%"
        vs = r.get("vs_untrained")
        versus = f"+{vs['gained']} / -{vs['lost']}" if vs else "-"
        lines.append(
            f"| {r['arm']} | {r['passed']}/{r['tasks']} | {100 * r['per_turn_accuracy']:.1f}% "
            f"({r['turns_passed']}/{r['turns']}) | {versus} | {recruit} | "
            f"{r['model_calls_per_task']:g} | {r['prompt_tokens_per_call']:,} | "
            f"{r['prompt_tokens_per_task']:,.0f} + {r['completion_tokens_per_task']:,.0f} | "
            f"{r['wall_s_per_task']:.0f} | {trained} |"
        )
    behaviours = behaviour_markdown(data["arms"])
    return "\n".join(lines) + "\n" + ("\n" + behaviours if behaviours.count("\n") > 2 else "")


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
    ax.set_title(
        f"SmolLM2-135M on {len(data['tasks'])} held-out BFCL tasks: untrained vs trained experts"
    )
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
