"""Subtasks start the moment their inputs are ready, never waiting for an unrelated sibling;
a killed run resumes without repeating one that finished while a sibling still ran."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from agents import AgentSettings
from memory.runs import RunStore
from modelclient.base import ChatMessage
from tests.orchestrator.helpers import act, last_user, steward_fn, verdict
from tests.orchestrator.test_run import make

UNEVEN = {
    "nodes": [
        {"id": "a1", "task_token": "<app:notes>", "instruction": "Add a note 'x'", "needs": []},
        {"id": "a2", "task_token": "<app:notes>", "instruction": "Add a note 'y'", "needs": ["a1"]},
        {"id": "b1", "task_token": "<app:mail>", "instruction": "Mail 'hi' to ann", "needs": []},
    ]
}


def notes(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
    if "Observation:" in last_user(messages):
        return act("finish", result="noted")
    return act("add", text=messages[1].content.split("'")[1])


def ok(subtask: str, messages: list[ChatMessage]) -> dict[str, Any]:
    return verdict(True, key_info="done")


async def test_a_short_branch_goes_on_while_a_long_one_runs(tmp_path: Path) -> None:
    """Branch A (a1 -> a2) takes 2 x 2 x 0.05 s; branch B (b1) takes 2 x 0.3 s. a2 starts when
    a1 ends, long before b1 ends (in super-steps it would wait for b1)."""
    slow_calls: list[float] = []

    def mail(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        slow_calls.append(1)
        if "Observation:" in last_user(messages):
            return act("finish", result="sent")
        return act("send", to="ann", body="hi")

    orch, models = make(tmp_path, RunStore(tmp_path / "runs.db"), steward_fn([UNEVEN], ok),
                        notes=notes, mail=mail, delay=0.05)  # fmt: skip
    models["<app:mail>"].delay_s = 0.3
    record = await orch.run("Note x then y, and mail hi to ann")
    assert record.status == "succeeded"
    by_id = {s.id: s for s in record.subtasks}
    assert by_id["a2"].started_at < by_id["b1"].ended_at - 0.2
    assert by_id["a1"].ended_at <= by_id["a2"].started_at


class Crash(BaseException):
    """The process dies (nothing catches a BaseException on the way up, like SIGKILL)."""


@pytest.mark.parametrize("lost", ["nothing", "checkpointed results", "run store records"])
async def test_a_subtask_that_finished_while_a_sibling_ran_is_not_repeated_on_resume(
    tmp_path: Path, lost: str
) -> None:
    """a1 and a2 finish while b1 still waits on its model; then the process dies. The resume
    runs b1 only. Either record of a finished subtask is enough: langgraph's checkpointed task
    result, or the run store's record (written first: the process may die between the two)."""

    def dying_mail(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        raise Crash("killed")

    store = RunStore(tmp_path / "runs.db")
    orch, models = make(tmp_path, store, steward_fn([UNEVEN], ok), notes=notes, mail=dying_mail,
                        delay=0.05)  # fmt: skip
    models["<app:mail>"].delay_s = 0.5
    with pytest.raises(Crash):
        await orch.run("Note x then y, and mail hi to ann", run_id="r1")
    saved = {s["id"]: s["status"] for s in store.load_run("r1")["subtasks"]}
    assert saved == {"a1": "succeeded", "a2": "succeeded", "b1": "running"}
    if lost == "checkpointed results":  # every subtask's result: only the plan's is left
        with sqlite3.connect(tmp_path / "checkpoints.db") as db:
            db.execute("delete from writes where channel = '__return__' and task_path "
                       "not like '%, run, 0000000000, %'")  # fmt: skip
    elif lost == "run store records":
        store.db.execute("delete from details where subtask_id in ('a1', 'a2')")

    again, models2 = make(tmp_path, store, steward_fn([UNEVEN], ok), notes=notes)
    record = await again.resume("r1")
    assert record.status == "succeeded"
    assert models2["<app:notes>"].calls == []  # neither a1 nor a2 ran again
    assert len(models2["<app:mail>"].calls) == 2
    if lost != "run store records":  # the apps come back from the subtasks' snapshots
        assert again.world.get("notes").notes == {"N1": "x", "N2": "y"}  # type: ignore[attr-defined]
    assert again.world.get("mail").outbox == [{"to": "bob", "body": "hi"}]  # type: ignore[attr-defined]


async def test_a_failed_need_leaves_its_dependents_unstarted_for_the_replan(tmp_path: Path) -> None:
    def judge(subtask: str, messages: list[ChatMessage]) -> dict[str, Any]:
        return verdict("'x'" not in subtask, key_info="done", tips="no")

    settings = AgentSettings(max_retries=0, max_replans=0)
    orch, models = make(tmp_path, RunStore(tmp_path / "runs.db"), steward_fn([UNEVEN], judge),
                        notes=notes, settings=settings)  # fmt: skip
    record = await orch.run("Note x then y, and mail hi to ann")
    statuses = {s.id: s.status for s in record.subtasks}
    assert statuses == {"a1": "failed", "a2": "skipped", "b1": "succeeded"}
    assert all("'y'" not in c.messages[1].content for c in models["<app:notes>"].calls)
