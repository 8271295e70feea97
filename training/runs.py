"""Examples from the user's own run store: every run that succeeded (the steward verified each
of its subtasks), newest first."""

from __future__ import annotations

from agents.records import RunRecord
from memory.runs import RunStore
from training.examples import Example, examples_from_record


def examples_from_store(store: RunStore, *, limit: int = 10_000) -> tuple[list[Example], int]:
    """The examples of the store's succeeded runs, and how many such runs there were."""
    examples: list[Example] = []
    runs = 0
    for row in store.list_runs(limit):
        if row["status"] != "succeeded":
            continue
        record = RunRecord.model_validate(store.load_run(row["run_id"]))
        found = examples_from_record(record, source="runs")
        if found:
            runs += 1
            examples += found
    return examples, runs
