"""How an arm of the trained-experts experiment behaves, read from its run records: how often
its verdicts accept an attempt, and which sequences of tool calls its attempts make most often.

The accuracy table says whether an arm passes; this says why not. A verdict that accepts every
attempt never asks for a retry, and one attempt pattern taking most attempts (``ls -> finish``
for every file-system subtask, say) shows a small model that learned where an action usually
comes, not when.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agents.records import RunRecord
from memory.runs import RunStore

TOP = 3
"""Attempt patterns listed per arm."""
SHOWN_STEPS = 6
"""Steps of a pattern the table shows; a longer one ends with its length."""


def behaviour(runs_db: Path, run_ids: Iterable[str]) -> dict[str, Any]:
    """Attempts, the share its verdicts accepted, and the commonest attempt patterns, over the
    runs ``run_ids`` (those a results file names for the tasks compared)."""
    if not runs_db.exists():
        return {}
    store = RunStore(runs_db)
    try:
        records = [RunRecord.model_validate(store.load_run(i)) for i in run_ids]
    finally:
        store.close()
    patterns: Counter[str] = Counter()
    judged = accepted = 0
    for record in records:
        for sub in record.subtasks:
            for attempt in sub.history:
                patterns[" -> ".join(s.action.tool for s in attempt.steps) or "(none)"] += 1
                if attempt.verdict is not None and attempt.verdict.call is not None:
                    judged += 1  # judged by the model (not settled in code)
                    accepted += attempt.verdict.success
    attempts = sum(patterns.values())
    return {
        "attempts": attempts,
        "judged": judged,
        "accepted": round(accepted / judged, 4) if judged else None,
        "patterns": [
            {"pattern": p, "share": round(n / attempts, 4)} for p, n in patterns.most_common(TOP)
        ],
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    """The behaviour table: one line per arm (``rows`` as ``experts_report.build`` makes)."""
    lines = [
        "| arm | attempts | verdicts by the model accepting | commonest attempts (share) |",
        "|---|---:|---:|---|",
    ]
    for row in rows:
        b = row.get("behaviour") or {}
        if not b:
            continue
        accepted = "-" if b["accepted"] is None else f"{100 * b['accepted']:.0f}% of {b['judged']}"
        common = "; ".join(
            f"`{_short(p['pattern'])}` {100 * p['share']:.0f}%" for p in b["patterns"]
        )
        lines.append(f"| {row['arm']} | {b['attempts']} | {accepted} | {common} |")
    return "\n".join(lines) + "\n"


def _short(pattern: str) -> str:
    steps = pattern.split(" -> ")
    if len(steps) <= SHOWN_STEPS + 1:
        return pattern
    return " -> ".join(steps[:SHOWN_STEPS]) + f" -> ... ({len(steps)} steps)"
