"""End-to-end runs of the orchestrator with scripted models (no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agents import AgentSettings
from apps.world import World
from core.errors import RunError
from memory.runs import RunStore
from modelclient.base import ChatMessage
from modelclient.testing import FunctionModel
from orchestrator import Event, Orchestrator
from tests.orchestrator.helpers import (
    act,
    kind,
    last_user,
    registry,
    scenario,
    steward_fn,
    subtask_of,
    verdict,
)

CHAIN = {
    "nodes": [
        {
            "id": "s1",
            "task_token": "<app:notes>",
            "instruction": "Add a note 'buy milk'",
            "needs": [],
        },
        {
            "id": "s2",
            "task_token": "<app:mail>",
            "instruction": "Mail the note id to bob",
            "needs": ["s1"],
        },
    ]
}
PARALLEL = {
    "nodes": [
        {"id": "a", "task_token": "<app:notes>", "instruction": "Add a note 'alpha'", "needs": []},
        {"id": "b", "task_token": "<app:mail>", "instruction": "Mail 'hi' to ann", "needs": []},
    ]
}


def notes_staff(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
    assert kind(schema) == "act"
    if "Observation:" in last_user(messages):
        return act("finish", result="note " + last_user(messages).split('"note_id": "')[1][:2])
    text = subtask_of(messages).split("'")[1]
    return act("add", text=text)


def mail_staff(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
    if "Observation:" in last_user(messages):
        return act("finish", result="mail sent")
    task = last_user(messages)
    body = "N1" if "N1" in task else "hi"
    return act("send", to="bob", body=body)


def judge_all_ok(subtask: str, messages: list[ChatMessage]) -> dict[str, Any]:
    text = last_user(messages)
    key = "note_id N1" if "note_id" in text else "sent"
    return verdict(True, key_info=key)


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "runs.db")


def make(
    tmp_path: Path,
    store: RunStore,
    steward: Any,
    notes: Any = notes_staff,
    mail: Any = mail_staff,
    *,
    delay: float = 0.0,
    events: list[Event] | None = None,
    settings: AgentSettings | None = None,
) -> tuple[Orchestrator, dict[str, FunctionModel]]:
    models = {
        "steward": FunctionModel(steward, name="steward"),
        "<app:notes>": FunctionModel(notes, name="notes", delay_s=delay),
        "<app:mail>": FunctionModel(mail, name="mail", delay_s=delay),
    }
    reg = registry()
    world = World.build(scenario(), {s.name: s.app_factory for s in reg})
    orch = Orchestrator(
        registry=reg,
        models=models.__getitem__,
        world=world,
        settings=settings or AgentSettings(),
        store=store,
        checkpoints=tmp_path / "checkpoints.db",
        on_event=events.append if events is not None else None,
        run_settings={"scenario": scenario().model_dump()},
    )
    return orch, models


async def test_two_app_chain_delivers_key_info(tmp_path: Path, store: RunStore) -> None:
    orch, _ = make(tmp_path, store, steward_fn([CHAIN], judge_all_ok))
    record = await orch.run("Add a note 'buy milk' and mail its id to bob")
    assert record.status == "succeeded"
    assert [s.status for s in record.subtasks] == ["succeeded", "succeeded"]
    mail = orch.world.get("mail")
    assert mail.outbox == [{"to": "bob", "body": "N1"}]  # type: ignore[attr-defined]
    s2 = next(s for s in record.subtasks if s.id == "s2")
    assert s2.history[0].inputs == {"s1": "note_id N1"}
    assert record.answer == "All done."
    assert record.usage.prompt_tokens > 0 and record.usage.completion_tokens > 0
    assert set(record.usage_by_agent) == {"steward", "<app:notes>", "<app:mail>"}
    assert store.load_run(record.run_id)["status"] == "succeeded"


async def test_independent_subtasks_overlap(tmp_path: Path, store: RunStore) -> None:
    orch, _ = make(tmp_path, store, steward_fn([PARALLEL], judge_all_ok), delay=0.2)
    record = await orch.run("Add a note 'alpha' and mail 'hi' to ann")
    a, b = (next(s for s in record.subtasks if s.id == i) for i in "ab")
    assert a.status == b.status == "succeeded"
    # each subtask takes two 0.2 s model calls; they must run at the same time
    assert a.started_at < b.ended_at and b.started_at < a.ended_at


async def test_failure_then_retry_with_tips(tmp_path: Path, store: RunStore) -> None:
    seen_tips: list[str] = []

    def mail(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        task = messages[1].content
        if "Advice from your last attempt" in task:
            seen_tips.append(task.split("Advice from your last attempt: ")[1].splitlines()[0])
        if "Observation:" in last_user(messages):
            return act("finish", result="sent")
        return act("send", to="bob" if seen_tips else "nobody", body="hi")

    judged: list[str] = []

    def judge(subtask: str, messages: list[ChatMessage]) -> dict[str, Any]:
        # this attempt's own actions (earlier ones and the app's state are shown too)
        text = last_user(messages).split("Actions:")[1].split("Agent's result")[0]
        if "mail" in subtask.lower() and "nobody" in text:
            judged.append("fail")
            return verdict(False, tips="send it to bob, not nobody", kind="wrong_result")
        return verdict(True, key_info="ok")

    plan = {
        "nodes": [
            {"id": "m", "task_token": "<app:mail>", "instruction": "Mail hi to bob", "needs": []}
        ]
    }
    orch, _ = make(tmp_path, store, steward_fn([plan], judge), mail=mail)
    record = await orch.run("Mail hi to bob")
    sub = record.subtasks[0]
    assert record.status == "succeeded"
    assert sub.attempts == 2
    assert sub.history[0].verdict is not None and not sub.history[0].verdict.success
    # tips come from app data through the judge: fenced as data like any observation
    assert set(seen_tips) == {"<data>send it to bob, not nobody</data>"}
    assert orch.world.get("mail").outbox == [  # type: ignore[attr-defined]
        {"to": "nobody", "body": "hi"},
        {"to": "bob", "body": "hi"},
    ]


async def test_invalid_plan_is_repaired_by_the_model(tmp_path: Path, store: RunStore) -> None:
    cyclic = {
        "nodes": [
            {
                "id": "s1",
                "task_token": "<app:notes>",
                "instruction": "Add a note 'x'",
                "needs": ["s2"],
            },
            {"id": "s2", "task_token": "<app:mail>", "instruction": "Mail it", "needs": ["s1"]},
        ]
    }
    unknown = {
        "nodes": [{"id": "s1", "task_token": "<app:fax>", "instruction": "Fax", "needs": []}]
    }
    requests: list[list[ChatMessage]] = []
    base = steward_fn([unknown, cyclic, CHAIN], judge_all_ok)

    def steward(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        if kind(schema) == "plan":
            requests.append(messages)
        return base(messages, schema)

    orch, _models = make(tmp_path, store, steward)
    record = await orch.run("Add a note 'buy milk' and mail its id to bob")
    assert record.status == "succeeded"
    assert record.graph is not None and record.graph.ids == ["s1", "s2"]
    # each invalid plan went back to the model with the checker's errors: the unknown token
    # (it breaks the schema's enum, and still reaches the checker), then the cycle
    assert any("unknown task token '<app:fax>'" in m.content for m in requests[1])
    assert any("cycle" in m.content for m in requests[-1])
    assert any("plan repaired" in n for n in record.notes)


async def test_replan_after_retries_run_out(tmp_path: Path, store: RunStore) -> None:
    bad = {
        "nodes": [
            {"id": "x", "task_token": "<app:mail>", "instruction": "Mail nobody", "needs": []}
        ]
    }
    good = {
        "nodes": [
            {
                "id": "y",
                "task_token": "<app:notes>",
                "instruction": "Add a note 'instead'",
                "needs": [],
            }
        ]
    }

    def judge(subtask: str, messages: list[ChatMessage]) -> dict[str, Any]:
        if "nobody" in subtask:
            return verdict(False, tips="impossible", kind="other")
        return verdict(True, key_info="N1")

    events: list[Event] = []
    orch, _ = make(tmp_path, store, steward_fn([bad, good], judge), events=events)
    record = await orch.run("Do something")
    assert record.replans == 1
    assert record.status == "succeeded"
    statuses = {s.id: s.status for s in record.subtasks}
    assert statuses == {"x": "failed", "y": "succeeded"}
    assert record.graph is not None and record.graph.ids == ["y"]
    assert any(e.kind == "replan" for e in events)


async def test_loop_is_stopped_and_fails(tmp_path: Path, store: RunStore) -> None:
    def mail(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        return act("send", to="bob", body="same")

    plan = {
        "nodes": [{"id": "m", "task_token": "<app:mail>", "instruction": "Mail bob", "needs": []}]
    }
    # a too-kind steward says success; the loop signal overrides it
    orch, _ = make(
        tmp_path,
        store,
        steward_fn([plan], lambda s, m: verdict(True, key_info="ok")),
        mail=mail,
        settings=AgentSettings(max_retries=0, max_replans=0),
    )
    record = await orch.run("Mail bob")
    sub = record.subtasks[0]
    assert record.status == "failed"
    assert sub.history[0].status == "loop"
    # the first, one repeat, then two refusals (never run): max_repeats=2 calls reached the app
    assert [s.refused for s in sub.history[0].steps] == [False, False, True, True]
    assert orch.world.get("mail").outbox == [{"to": "bob", "body": "same"}] * 2  # type: ignore[attr-defined]
    assert sub.history[0].verdict is not None and sub.history[0].verdict.overridden


@pytest.mark.parametrize("require_action", [True, False])
async def test_an_attempt_that_called_no_tool_cannot_succeed(
    tmp_path: Path, store: RunStore, require_action: bool
) -> None:
    def idle(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        return act("finish", result="sent it")  # claims the work without doing it

    plan = {
        "nodes": [{"id": "m", "task_token": "<app:mail>", "instruction": "Mail bob", "needs": []}]
    }
    settings = AgentSettings(max_retries=1, max_replans=0, require_action=require_action)
    orch, _ = make(
        tmp_path,
        store,
        steward_fn([plan], lambda s, m: verdict(True, key_info="sent")),  # a too-kind judge
        mail=idle,
        settings=settings,
    )
    record = await orch.run("Mail bob")
    sub = record.subtasks[0]
    if not require_action:  # a specialist allowed to answer without its tools
        assert record.status == "succeeded" and sub.attempts == 1
        return
    assert record.status == "failed" and sub.attempts == 2  # retried, then given up
    first = sub.history[0].verdict
    # settled in code: the too-kind judge is not even asked
    assert (
        first is not None
        and first.overridden == "settled in code, no model call: no tool was called"
    )
    assert first.call is None and "called no tool" in first.tips


class Crash(Exception):
    """Stands in for an unexpected error in the middle of a subtask."""


async def test_killed_run_resumes_without_repeating_finished_subtasks(
    tmp_path: Path, store: RunStore
) -> None:
    def crashing_mail(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        raise Crash("killed")

    orch, _ = make(tmp_path, store, steward_fn([CHAIN], judge_all_ok), mail=crashing_mail)
    with pytest.raises(RunError, match="Crash: killed") as info:
        await orch.run("Add a note 'buy milk' and mail its id to bob", run_id="r1")
    assert info.value.run_id == "r1" and isinstance(info.value.__cause__, Crash)
    saved = store.load_run("r1")
    assert saved["status"] == "error"
    assert {s["id"]: s["status"] for s in saved["subtasks"]} == {"s1": "succeeded", "s2": "running"}

    # a new process: fresh apps built from the scenario, fresh models
    orch2, models = make(tmp_path, store, steward_fn([CHAIN], judge_all_ok))
    record = await orch2.resume("r1")
    assert record.status == "succeeded"
    assert models["<app:notes>"].calls == []  # s1 was not run again
    assert orch2.world.get("notes").notes == {"N1": "buy milk"}  # type: ignore[attr-defined]
    assert orch2.world.get("mail").outbox == [{"to": "bob", "body": "N1"}]  # type: ignore[attr-defined]


async def test_parallel_stage_killed_keeps_the_finished_branch(
    tmp_path: Path, store: RunStore
) -> None:
    def crashing_mail(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        raise Crash("killed")

    orch, _ = make(tmp_path, store, steward_fn([PARALLEL], judge_all_ok), mail=crashing_mail)
    with pytest.raises(RunError):
        await orch.run("Add a note 'alpha' and mail 'hi' to ann", run_id="r2")
    saved = store.load_run("r2")
    # the sibling that finished is in the record and in the partial answer
    assert {s["id"]: s["status"] for s in saved["subtasks"]}["a"] == "succeeded"
    assert "Finished so far: a:" in saved["answer"]
    orch2, models = make(tmp_path, store, steward_fn([PARALLEL], judge_all_ok))
    record = await orch2.resume("r2")
    assert record.status == "succeeded"
    assert models["<app:notes>"].calls == []
    assert orch2.world.get("notes").notes == {"N1": "alpha"}  # type: ignore[attr-defined]


async def test_sequential_ablation_runs_one_subtask_at_a_time(
    tmp_path: Path, store: RunStore
) -> None:
    orch, _ = make(
        tmp_path,
        store,
        steward_fn([PARALLEL], judge_all_ok),
        delay=0.05,
        settings=AgentSettings(parallel=False),
    )
    record = await orch.run("Add a note 'alpha' and mail 'hi' to ann")
    a, b = sorted(record.subtasks, key=lambda s: s.started_at)
    assert a.status == b.status == "succeeded"
    assert a.ended_at <= b.started_at
