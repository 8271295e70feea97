"""The run record is saved after every step at the cost of what changed, and nothing is lost:
whole records round-trip, older files still load, memory retrievals stay with their subtask."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from agents.records import Attempt, RunRecord, SubtaskRecord
from memory.runs import RunStore
from orchestrator.record import RunRecorder


def sub(i: int, status: str = "pending") -> dict[str, Any]:
    return {
        "id": f"s{i}",
        "task_token": "<app:notes>",
        "instruction": f"step {i}",
        "needs": [f"s{i - 1}"] if i > 1 else [],
        "status": status,
        "attempts": 0,
        "key_info": "",
    }


def test_a_whole_record_round_trips(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.db")
    record = RunRecord(
        run_id="r1",
        instruction="do it",
        status="succeeded",
        subtasks=[
            SubtaskRecord(
                id="s1", task_token="<app:notes>", instruction="a", status="succeeded",
                history=[Attempt(number=1, result="done")],
            ),
            SubtaskRecord(id="s2", task_token="<app:mail>", instruction="b", status="skipped"),
        ],
        answer="ok",
        notes=["n"],
        retrieved={"guidelines": [1], "expertise": {"s1": [2]}},
    )  # fmt: skip
    store.save_run(record.model_dump(mode="json"))
    loaded = RunRecord.model_validate(store.load_run("r1"))
    assert loaded.model_dump(exclude={"ended_at"}) == record.model_dump(exclude={"ended_at"})


def test_records_of_the_older_layout_still_load(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with sqlite3.connect(path) as db:  # one JSON blob per run, details without a status
        db.execute(
            "create table runs (run_id text primary key, instruction text, status text, "
            "created_at float, updated_at float, record text)"
        )
        db.execute("create table details (run_id text, subtask_id text, record text)")
        old = {"run_id": "old", "instruction": "x", "status": "failed", "subtasks": [sub(1)]}
        db.execute("insert into runs values ('old', 'x', 'failed', 1, 1, ?)", [json.dumps(old)])
    store = RunStore(path)
    assert store.load_run("old")["subtasks"] == [sub(1)]
    assert [r["run_id"] for r in store.list_runs()] == ["old"]


def test_a_step_writes_what_changed(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.db")
    writes: list[dict[str, Any]] = []
    save_step = store.save_step

    def spy(run_id: str, **parts: Any) -> None:
        writes.append(parts)
        save_step(run_id, **parts)

    store.save_step = spy  # type: ignore[method-assign]
    retrieved: dict[str, Any] = {"guidelines": []}
    recorder = RunRecorder(store, "r1", started_at=1.0, settings={}, retrieved=retrieved)
    plan = {"nodes": [{k: s[k] for k in ("id", "task_token", "instruction", "needs")}
                      for s in (sub(i) for i in range(1, 101))]}  # fmt: skip
    subtasks = {f"s{i}": sub(i) for i in range(1, 101)}
    state: dict[str, Any] = {"instruction": "x", "graph": plan, "plans": [plan],
                             "subtasks": subtasks, "status": "running"}  # fmt: skip
    recorder.step(state)
    assert writes[-1]["header"] is not None and len(list(writes[-1]["subtasks"])) == 100

    for i in range(1, 4):  # a subtask starts: one row, no header, no progress
        subtasks = {**subtasks, f"s{i}": sub(i, "running")}
        retrieved.setdefault("expertise", {})[f"s{i}"] = ["tip"]
        recorder.step({**state, "subtasks": subtasks})
        assert writes[-1]["header"] is None and writes[-1]["progress"] is None
        assert list(writes[-1]["subtasks"]) == [(f"s{i}", "running", None)]
    n = len(writes)
    recorder.step({**state, "subtasks": subtasks})
    assert len(writes) == n  # nothing changed, nothing written

    recorder.subtask(SubtaskRecord(id="s1", task_token="<app:notes>", instruction="step 1",
                                   status="succeeded"))  # fmt: skip
    subtasks = {**subtasks, "s1": sub(1, "succeeded")}
    recorder.step({**state, "subtasks": subtasks})
    assert writes[-1]["header"] is None and writes[-1]["progress"] is not None
    saved = store.load_run("r1")
    assert saved["retrieved"]["expertise"] == {"s1": ["tip"]}  # stored with its subtask
    assert [s["status"] for s in saved["subtasks"][:3]] == ["succeeded", "running", "running"]
