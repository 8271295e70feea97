"""The BFCL teacher teaches rejection: a share of its subtasks is first attempted one call
short, its verdict rejects that attempt with tips that say what is missing, and the retry
does what is missing and is accepted; the checker still accepts every turn."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from agents.records import VERDICT_SCHEMA, RunRecord
from agents.steward import STEWARD
from benchmarks.bfcl.calls import Call
from benchmarks.bfcl.data import load_tasks
from benchmarks.bfcl.teach import teacher_examples
from benchmarks.bfcl.teacher import TeacherModels
from benchmarks.bfcl.teacher_look import LOOK, with_looks
from benchmarks.bfcl.teacher_reject import missing_tips, rejects
from memory.runs import RunStore
from modelclient.base import ChatMessage
from modelclient.testing import FunctionModel


def _records(folder: Path) -> list[RunRecord]:
    store = RunStore(folder / "runs.db")
    try:
        rows = store.list_runs(1000)
        return [RunRecord.model_validate(store.load_run(r["run_id"])) for r in rows]
    finally:
        store.close()


def test_the_teacher_rejects_a_short_attempt_then_accepts_the_retry(tmp_path: Path) -> None:
    examples, report = asyncio.run(
        teacher_examples("multi_turn_base", [0], tmp_path / "t", reject_share=1.0)
    )
    assert report.verified_turns == report.turns == 4  # the checker accepts every turn
    truth = load_tasks("multi_turn_base", indices=[0])[0].gt_calls()
    records = sorted(_records(tmp_path / "t"), key=lambda r: r.run_id)
    retried = 0
    for turn, record in enumerate(records):
        assert record.status == "succeeded"
        (sub,) = record.subtasks  # file_system only
        # the ground truth, with a look before a cd into a child folder
        calls = [(c.tool, c.args) for c in with_looks(truth[turn], 5)]
        looks = [c for c in calls if c == ("ls", {})]
        assert len(calls) == len(truth[turn]) + len(looks)
        if turn == 1:  # cd(folder='temp'), then grep
            assert calls[:2] == [("ls", {}), ("cd", {"folder": "temp"})]
        if turn == 3:  # cd(folder='..') needs no look: it is not a child
            assert calls[:2] == [("cd", {"folder": ".."}), ("mv", calls[1][1])]
        short, accepted = sub.history  # rejected, then accepted
        assert short.verdict is not None and accepted.verdict is not None
        assert not short.verdict.success and short.verdict.failure_kind == "incomplete"
        assert short.verdict.call is not None  # the teacher's verdict, not one settled in code
        missing_tool, missing_args = calls[-1]
        assert f"still needs the {missing_tool} tool" in short.verdict.tips
        assert "(" not in short.verdict.tips  # said in words, not as a call string
        made = [(s.action.tool, s.action.arguments) for s in short.steps][:-1]
        assert made == calls[:-1] and short.steps[-1].action.tool == "finish"
        # BFCL's apps keep a failed attempt's effects: the retry is told, and adds what's missing
        assert accepted.verdict.success and accepted.tips == short.verdict.tips
        assert len(accepted.carried) == len(calls) - 1 and not short.rolled_back
        assert [(s.action.tool, s.action.arguments) for s in accepted.steps][:-1] == [
            (missing_tool, missing_args)
        ]
        retried += 1
    assert retried == 4
    answers = [json.loads(e.answer) for e in examples if e.purpose == "evaluate"]
    assert sorted(a["success"] for a in answers) == [False] * 4 + [True] * 4


def test_no_rejection_without_a_share_or_a_retry(tmp_path: Path) -> None:
    from agents.settings import AgentSettings

    for folder, share, retries in (("none", 0.0, 1), ("no-retry", 1.0, 0)):
        examples, report = asyncio.run(
            teacher_examples(
                "multi_turn_base", [0], tmp_path / folder, reject_share=share,
                settings=AgentSettings(max_retries=retries),
            )
        )  # fmt: skip
        assert report.verified_turns == report.turns == 4
        assert all(len(s.history) == 1 for r in _records(tmp_path / folder) for s in r.subtasks)
        assert all(json.loads(e.answer)["success"] for e in examples if e.purpose == "evaluate")


def test_the_share_is_stable_and_about_right() -> None:
    keys = [(f"multi_turn_base_{i}", t, "<app:file_system>") for i in range(200) for t in range(4)]
    picked = [rejects(*key, 0.5) for key in keys]
    assert picked == [rejects(*key, 0.5) for key in keys]
    assert 0.4 < sum(picked) / len(picked) < 0.6
    assert not any(rejects(*key, 0.0) for key in keys) and all(rejects(*k, 1.0) for k in keys)


def test_tips_say_the_missing_call_in_words_within_the_cap() -> None:
    tips = missing_tips(Call("mv", {"source": "a.txt", "destination": "b", "n": 2}))
    assert tips == (
        "Not done yet: the subtask still needs the mv tool with source 'a.txt', destination "
        "'b', n set to 2; do it, then finish."
    )
    assert len(missing_tips(Call("echo", {"content": "x" * 500, "file_name": "y" * 500}))) <= 200


def test_a_retry_after_a_verdict_settled_in_code_is_accepted() -> None:
    """Where an attempt without a call is failed in code (``require_action``), the teacher's
    verdict never sees it: the retry that makes the call is still accepted."""
    task = load_tasks("multi_turn_base", indices=[4])[0]  # turn 0: one call, ls(a=True)
    models = TeacherModels(task, reject_share=1.0)
    models.begin_turn(0)
    (node,) = models.plan()["nodes"]
    staff, steward = models.model_for(node["task_token"]), models.model_for(STEWARD)
    opening = [ChatMessage(role="system", content="tools"), ChatMessage(role="user", content="")]
    assert isinstance(staff, FunctionModel) and isinstance(steward, FunctionModel)
    assert staff.fn(opening, None)["tool"] == "finish"  # the short attempt: no call
    retry = staff.fn(opening, None)  # (its verdict was settled in code, no teacher's)
    assert (retry["tool"], retry["arguments"]) == ("ls", {"a": True})
    judged = f'Subtask: {node["instruction"]}\nActions:\n1. ls({{"a": true}}) -> x'
    verdict = steward.fn([opening[0], ChatMessage(role="user", content=judged)], VERDICT_SCHEMA)
    assert verdict["success"] is True


def test_a_look_comes_before_each_cd_into_a_child_folder_within_the_budget() -> None:
    cd_docs, cd_up = Call("cd", {"folder": "documents"}), Call("cd", {"folder": ".."})
    mv = Call("mv", {"source": "a", "destination": "b"})
    assert with_looks([cd_docs, mv], 5) == [LOOK, cd_docs, mv]
    assert with_looks([mv], 5) == [mv]
    assert with_looks([cd_up, mv], 5) == [cd_up, mv]  # the parent needs no look
    assert with_looks([cd_docs, mv], 2) == [cd_docs, mv]  # no room left
    two = Call("cd", {"folder": "temp"})
    assert with_looks([cd_docs, two], 3) == [LOOK, cd_docs, two]  # the first look first
    assert with_looks([cd_docs, two], 9) == [LOOK, cd_docs, LOOK, two]
    assert with_looks([LOOK, cd_docs], 9) == [LOOK, cd_docs]  # already looked


def test_the_single_agent_teacher_looks_too() -> None:
    task = load_tasks("multi_turn_base", indices=[0])[0]  # turn 1: cd(folder='temp'), grep
    models = TeacherModels(task)
    models.begin_turn(0)
    models.plan()
    models.begin_turn(1)
    staff = models.model_for("<app:all>")
    opening = [ChatMessage(role="system", content="tools"), ChatMessage(role="user", content="")]
    assert isinstance(staff, FunctionModel)
    going = [*opening, ChatMessage(role="assistant", content="{}"), opening[1]]
    tools = [staff.fn(opening if i == 0 else going, None)["tool"] for i in range(4)]
    assert tools[:3] == ["ls", "cd", "grep"]
