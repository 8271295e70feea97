"""Benchmark results folders, as ``steward ui`` lists them: each ``OUT/*.jsonl`` results file
(``steward bench bfcl``: one task per line with its turns' run ids; ``steward bench
agentdojo``: one case per line with its run id) and the runs in ``OUT/runs.db``.

Lines are read as plain JSON (no benchmark code is imported); a line that is not a result is
skipped and counted. A task written twice (a resumed run) shows its last line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RUNS_FILE = "runs.db"


@dataclass
class TurnCell:
    """One turn of a task (or the one run of a case): its run and how the checker judged it."""

    index: int
    run_id: str
    outcome: str
    """``pass``, ``fail`` or ``unchecked`` (after the turn that failed, the checker stops)."""
    status: str = ""
    """The run's status."""
    instruction: str = ""


@dataclass
class TaskRow:
    """One task (BFCL) or case (AgentDojo) of a results file."""

    id: str
    passed: bool
    turns: list[TurnCell] = field(default_factory=list)
    note: str = ""
    """The checker's error message, or what an attack did."""


@dataclass
class ResultsFile:
    """One results file of a folder."""

    path: Path
    tasks: list[TaskRow]
    skipped: int = 0
    """Lines that were not results (not JSON, or without an id)."""

    @property
    def passed(self) -> int:
        return sum(1 for t in self.tasks if t.passed)


LEDGER_SUFFIX = ".learned.jsonl"
"""A memory file's ledger of the tasks it learned from (``benchmarks.bfcl.split``): no results."""


def result_files(folder: Path) -> list[Path]:
    """The results files of a folder, by name (memory ledgers left out)."""
    return sorted(
        p for p in folder.glob("*.jsonl") if p.is_file() and not p.name.endswith(LEDGER_SUFFIX)
    )


def _natural(task_id: str) -> list[Any]:
    """A key that puts ``task_9`` before ``task_10``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", task_id)]  # fmt: skip


def read_results(path: Path) -> ResultsFile:
    """The tasks of one results file, by id (``task_2`` before ``task_10``); a task written
    twice shows its last line."""
    tasks: dict[str, TaskRow] = {}
    skipped = 0
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError:
                skipped += 1
                continue
            row = task_row(data) if isinstance(data, dict) else None
            if row is None:
                skipped += 1
                continue
            tasks[row.id] = row
    rows = sorted(tasks.values(), key=lambda row: _natural(row.id))
    return ResultsFile(path=path, tasks=rows, skipped=skipped)


def task_row(data: dict[str, Any]) -> TaskRow | None:
    """A results line as a row; ``None`` when it is no result Steward writes."""
    task_id = data.get("id")
    if not isinstance(task_id, str) or not task_id:
        return None
    turns = data.get("turns")
    if isinstance(turns, list):  # BFCL: TaskResult with per-turn TurnResults
        valid = bool(data.get("valid"))
        passed_turns = int(data.get("turns_passed") or 0)
        cells = []
        for position, turn in enumerate(t for t in turns if isinstance(t, dict)):
            if valid or position < passed_turns:
                outcome = "pass"
            elif position == passed_turns:
                outcome = "fail"
            else:
                outcome = "unchecked"
            cells.append(
                TurnCell(
                    index=int(turn.get("index", position)),
                    run_id=str(turn.get("run_id") or ""),
                    outcome=outcome,
                    status=str(turn.get("status") or ""),
                    instruction=str(turn.get("instruction") or "")[:300],
                )
            )
        note = str(data.get("error_message") or data.get("error_type") or "")
        return TaskRow(id=task_id, passed=valid, turns=cells, note=note[:300])
    if "utility" in data:  # AgentDojo: CaseResult, one run per case
        utility = bool(data.get("utility"))
        cell = TurnCell(
            index=0,
            run_id=str(data.get("run_id") or ""),
            outcome="pass" if utility else "fail",
            status=str(data.get("status") or ""),
        )
        note = ""
        if data.get("injection_task"):
            reached = data.get("security")
            note = f"attacked ({data.get('attack')}): the attacker's goal was " + (
                "reached" if reached else "not reached"
            )
        return TaskRow(id=task_id, passed=utility, turns=[cell], note=note)
    return None
