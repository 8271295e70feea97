"""A verdict that rejected an attempt is learned only when it is verified: in a teacher's run,
and when the rejected attempt's work is a strict prefix of the accepted attempt's."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from agents.records import Action, RunRecord, Step
from benchmarks.bfcl.teach import teacher_examples
from memory.runs import RunStore
from training import examples_from_record
from training.examples import Example

TEACHER = "teacher:bfcl:multi_turn_base"


def _taught_record(folder: Path) -> RunRecord:
    """The teacher's first turn of BFCL base task 0 (a look, then cd, mkdir, mv), its one subtask
    attempted short (ls, cd, mkdir), rejected, and retried (mv, the rest carried over)."""
    asyncio.run(teacher_examples("multi_turn_base", [0], folder, reject_share=1.0))
    store = RunStore(folder / "runs.db")
    try:
        run_id = next(r["run_id"] for r in store.list_runs(100) if "-t0-" in r["run_id"])
        return RunRecord.model_validate(store.load_run(run_id))
    finally:
        store.close()


def _kinds(examples: list[Example]) -> list[tuple[str, str]]:
    out = []
    for e in examples:
        answer = json.loads(e.answer)
        said = answer.get("tool") or str(answer.get("success", ""))
        out.append((e.purpose, said))
    return out


def test_a_teachers_rejection_is_learned_and_a_users_is_not(tmp_path: Path) -> None:
    record = _taught_record(tmp_path / "t")
    (sub,) = record.subtasks
    assert [a.verdict.success for a in sub.history if a.verdict] == [False, True]
    taught = examples_from_record(record, source=TEACHER)
    assert _kinds(taught) == [
        ("plan", ""),
        ("act", "ls"), ("act", "cd"), ("act", "mkdir"),
        ("evaluate", "False"),  # the short attempt, rejected
        ("act", "mv"), ("act", "finish"), ("evaluate", "True"),  # the retry, accepted
    ]  # fmt: skip
    rejected = taught[4]
    assert rejected.messages == sub.history[0].verdict.call.prompt  # type: ignore[union-attr]
    assert json.loads(rejected.answer)["failure_kind"] == "incomplete"
    assert "Advice from your last attempt" in taught[5].messages[1]["content"]
    # the same record as a user's run: its rejection is the model's word alone
    assert _kinds(examples_from_record(record, source="runs")) == [
        ("plan", ""), ("act", "mv"), ("act", "finish"), ("evaluate", "True"),
    ]  # fmt: skip


def test_a_rejection_is_learned_only_when_the_accepted_work_extends_it(tmp_path: Path) -> None:
    record = _taught_record(tmp_path / "t")
    short, accepted = record.subtasks[0].history
    made = [s for s in short.steps if s.action.tool != "finish"]
    finish = accepted.steps[-1]

    def rejections(steps: list[Step], carried: list[str]) -> int:
        changed = record.model_copy(deep=True)
        changed.subtasks[0].history[1].steps = [s.model_copy(deep=True) for s in steps]
        changed.subtasks[0].history[1].carried = carried
        taught = examples_from_record(changed, source=TEACHER)
        return _kinds(taught).count(("evaluate", "False"))

    assert rejections(accepted.steps, accepted.carried) == 1  # carried over, then mv
    assert rejections([*made, *accepted.steps], []) == 1  # rolled back, all done again
    # the retry did nothing more than the rejected attempt: the rejection was not verified
    assert rejections([finish], accepted.carried) == 0
    # rolled back, and the retry did other work: the rejected attempt is not its prefix
    other = Step(action=Action(tool="mkdir", arguments={"dir_name": "elsewhere"}))
    assert rejections([other, *accepted.steps], []) == 0
    assert rejections([made[1], made[0], *accepted.steps], []) == 0  # same calls, other order
