"""Guards: each test here fails when one feature is broken on purpose (a review broke each of
them and the rest of the suite stayed green). Scripted models in-process, or the CLI against
the stub server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agents.budget import BudgetLimits
from agents.settings import AgentSettings
from apps.world import World
from core.errors import BudgetExceededError, PlanInvalidError, ServerError
from memory import ExpertiseEntry, GuidelineEntry, MemoryStore
from memory.runs import RunStore
from modelclient.base import ChatMessage
from modelclient.stub import StubServer
from modelclient.testing import FunctionModel
from orchestrator import Orchestrator
from tests.faults.conftest import (
    BFCL_CALLS,
    MakeOrchestrator,
    invoke,
    last_run,
    scenario_file,
    stdout_json,
    write_config,
)
from tests.faults.router import Router
from tests.faults.router import subtask_of as subtask_in_body
from tests.orchestrator import helpers
from tests.orchestrator.helpers import act, last_user, subtask_of, verdict

Fn = Callable[[list[ChatMessage], dict[str, Any] | None], Any]


def node(sid: str, app: str, instruction: str, needs: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": sid,
        "task_token": f"<app:{app}>",
        "instruction": instruction,
        "needs": needs or [],
    }


CHAIN = {
    "nodes": [node("s1", "notes", "Add a note 'milk'"), node("s2", "mail", "Mail bob", ["s1"])]
}
TWO_APPS = {"nodes": [node("a", "notes", "Add a note 'alpha'"), node("b", "mail", "Mail ann")]}
ONE_APP = {"nodes": [node("a", "notes", "Add a note 'alpha'"), node("b", "notes", "Add 'beta'")]}
BROKEN = {
    "nodes": [
        node("a", "notes", "Add a note 'alpha'", ["a"]),  # a self-loop
        node("a", "mail", "Mail ann", ["ghost"]),  # a duplicate id, a need naming no subtask
    ]
}
"""A plan valid under the plan's JSON Schema that breaks the rules code checks."""


def note_taker(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
    if "Observation:" in last_user(messages):
        return act("finish", result="noted")
    return act("add", text=subtask_of(messages))


def mailer(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
    if "Observation:" in last_user(messages):
        return act("finish", result="sent")
    return act("send", to="bob", body="hi")


def orchestrator(
    tmp_path: Path,
    plan: dict[str, Any],
    *,
    notes: Fn = note_taker,
    mail: Fn = mailer,
    settings: AgentSettings | None = None,
    limits: BudgetLimits | None = None,
) -> tuple[Orchestrator, FunctionModel]:
    """An orchestrator on the notes and mail apps whose steward always plans ``plan`` and
    judges every attempt a success; also the steward's model."""
    steward = FunctionModel(helpers.steward_fn([plan], lambda *_: verdict(True, "done")))
    models = {
        "steward": steward,
        "<app:notes>": FunctionModel(notes, name="notes"),
        "<app:mail>": FunctionModel(mail, name="mail"),
    }
    reg = helpers.registry()
    orch = Orchestrator(
        registry=reg,
        models=models.__getitem__,
        world=World.build(helpers.scenario(), {s.name: s.app_factory for s in reg}),
        settings=settings,
        limits=limits,
        store=RunStore(tmp_path / "runs.db"),
        checkpoints=tmp_path / "checkpoints.db",
        run_settings={"scenario": helpers.scenario().model_dump()},
    )
    return orch, steward


def server_dies(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
    """Stands in for a run stopped in the middle of a subtask."""
    raise ServerError("the model server died")


# -- a. resume keeps the budget spent -------------------------------------------------------------


async def test_a_resumed_run_keeps_the_calls_it_spent(tmp_path: Path) -> None:
    """``Orchestrator.resume`` charges the saved usage: with a budget of 6 calls, a run that had
    spent 4 when it stopped gets 2 more on resume, not a fresh allowance of 6."""
    limits = BudgetLimits(max_calls=6)
    first, _ = orchestrator(tmp_path, CHAIN, mail=server_dies, limits=limits)
    with pytest.raises(ServerError, match="died"):
        await first.run("Add a note and mail bob", run_id="r1")
    assert first.store.load_run("r1")["usage"]["calls"] == 4  # plan, s1's 2 actions, verdict

    again, _ = orchestrator(tmp_path, CHAIN, limits=limits)
    with pytest.raises(BudgetExceededError, match="model-call budget of 6 spent"):
        await again.resume("r1")
    saved = again.store.load_run("r1")
    assert saved["status"] == "budget_exceeded" and saved["usage"]["calls"] == 6


# -- b. resume keeps --no-memory ------------------------------------------------------------------


def memory_ids(retrieved: Any) -> list[int]:
    """Every memory entry id named anywhere in a record's ``retrieved``."""
    if isinstance(retrieved, dict):
        own = list(retrieved.get("ids") or [])
        return own + [i for key, v in retrieved.items() if key != "ids" for i in memory_ids(v)]
    if isinstance(retrieved, list):
        return [i for v in retrieved for i in memory_ids(v)]
    return []


def memory_entries() -> list[dict[str, Any]]:
    result = invoke("memory", "list", "--json")
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout))


def test_b_resume_keeps_no_memory(tmp_path: Path, stub: StubServer) -> None:
    """``steward resume`` of a ``--no-memory`` run neither retrieves nor writes memory, although
    memory holds entries that match the subtask the resume runs."""
    with MemoryStore() as memory:  # the default file under this test's STEWARD_HOME
        for token in ("<app:messaging>", "<app:posting>"):
            memory.add_expertise(ExpertiseEntry(task_token=token, subtask="Touch the counter"))
        memory.add_guideline(GuidelineEntry(instruction="shape=chain n=2", graph=CHAIN))
    before = memory_entries()

    router = Router(calls=BFCL_CALLS)

    def interrupt(purpose: str, body: dict[str, Any]) -> None:
        if purpose == "evaluate" and "step 1" in subtask_in_body(body):
            router.hook = None
            stub.fail("500", times=3)  # s2's first request fails every try: the run stops

    router.hook = interrupt
    router.install(stub)
    config = str(write_config(tmp_path / "models.toml", stub.url))
    scenario = str(scenario_file(tmp_path / "scenario.json"))
    first = invoke("run", "shape=chain n=2", "--scenario", scenario, "--config", config,
                   "--no-memory", "-q", "--approve=auto")  # fmt: skip
    assert first.exit_code == 1, first.output
    stopped = last_run(status="error")
    assert {s["id"]: s["status"] for s in stopped["subtasks"]}["s1"] == "succeeded"

    resumed = invoke("resume", stopped["run_id"], "--config", config, "-q", "--json")
    assert resumed.exit_code == 0, resumed.output
    record = stdout_json(resumed)
    assert record["status"] == "succeeded"
    assert memory_ids(record["retrieved"]) == []  # found nothing: asked nothing of memory
    assert memory_entries() == before  # wrote nothing, marked nothing used


# -- c. deterministic plan repair -----------------------------------------------------------------


async def test_c_plan_repair_in_code_saves_a_plan_the_model_never_fixes(tmp_path: Path) -> None:
    """A steward that writes the same self-looping plan with a duplicate id through all its
    repair rounds: code repairs the plan, the run goes on and the record says so."""
    orch, steward = orchestrator(tmp_path, BROKEN)
    record = await orch.run("Add a note 'alpha' and mail ann")
    assert [c.schema_name for c in steward.calls].count("plan") == 3  # 1 + 2 repair rounds
    assert any(n.startswith("plan repaired in code") for n in record.notes), record.notes
    assert record.graph is not None
    ids = [n.id for n in record.graph.nodes]
    assert len(set(ids)) == 2 and all(n.needs == [] for n in record.graph.nodes)
    assert record.status == "succeeded"


async def test_c_auto_repair_off_ends_the_run(tmp_path: Path) -> None:
    """``AgentSettings(auto_repair=False)``: the same plan ends the run with an invalid plan."""
    orch, _ = orchestrator(tmp_path, BROKEN, settings=AgentSettings(auto_repair=False))
    with pytest.raises(PlanInvalidError) as info:
        await orch.run("Add a note 'alpha' and mail ann", run_id="r1")
    assert info.value.run_id == "r1"
    saved = orch.store.load_run("r1")
    assert saved["status"] == "error" and saved["subtasks"] == []


# -- d. subtasks on one app take turns ------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "overlap"), [(ONE_APP, False), (TWO_APPS, True)], ids=["one-app", "two-apps"]
)
async def test_d_subtasks_on_the_same_app_take_turns(
    tmp_path: Path, plan: dict[str, Any], overlap: bool
) -> None:
    """Two independent subtasks on the same app never have model calls in flight at the same
    time (one app instance, one driver); on different apps they do run at the same time."""
    times: dict[str, list[float]] = {}

    def timed(fn: Fn) -> Fn:
        async def model(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
            spans = times.setdefault(subtask_of(messages), [])
            spans.append(time.monotonic())
            await asyncio.sleep(0.1)
            spans.append(time.monotonic())
            return fn(messages, schema)

        return model

    orch, _ = orchestrator(tmp_path, plan, notes=timed(note_taker), mail=timed(mailer))
    record = await orch.run("two independent subtasks")
    assert record.status == "succeeded"
    (a0, a1), (b0, b1) = ((min(t), max(t)) for t in times.values())
    assert (a0 < b1 and b0 < a1) is overlap, times


# -- e. --deadline interrupts a call in flight ----------------------------------------------------


async def test_e_deadline_interrupts_a_model_call_in_flight(
    make_orchestrator: MakeOrchestrator,
) -> None:
    """A plan request that hangs, a client timeout of 30 s and no retries: a deadline of 0.5 s
    ends the run within seconds, as budget_exceeded."""
    with StubServer(model="stub-model", hang_s=60.0) as stub:
        stub.fail("hang")
        orch = make_orchestrator(
            stub.url, limits=BudgetLimits(deadline_s=0.5), timeout_s=30.0, max_retries=0
        )
        start = time.monotonic()
        with pytest.raises(BudgetExceededError) as info:
            await orch.run_and_close("shape=chain n=1")
        elapsed = time.monotonic() - start
    assert elapsed < 5, elapsed
    assert info.value.run_id is not None
    saved = orch.store.load_run(info.value.run_id)
    assert saved["status"] == "budget_exceeded"
    assert "deadline of 0.5 s passed" in saved["error"]


# -- f. --no-memory writes nothing ----------------------------------------------------------------


def test_f_no_memory_writes_nothing(tmp_path: Path, stub: StubServer) -> None:
    """A successful ``--no-memory`` run writes no guideline or expertise; the same run with
    memory writes both."""
    Router(calls=BFCL_CALLS).install(stub)
    args = ["shape=chain n=2", "-q", "--json", "--approve=auto", "--config",
            str(write_config(tmp_path / "models.toml", stub.url)),
            "--scenario", str(scenario_file(tmp_path / "scenario.json"))]  # fmt: skip
    off = invoke("run", *args, "--no-memory")
    assert off.exit_code == 0, off.output
    assert stdout_json(off)["status"] == "succeeded"
    assert memory_entries() == []

    on = invoke("run", *args)
    assert on.exit_code == 0, on.output
    assert {e["kind"] for e in memory_entries()} == {"guideline", "expertise"}


def test_g_an_orchestrator_with_a_model_pool_runs_again_in_another_event_loop(
    stub: StubServer, make_orchestrator: MakeOrchestrator
) -> None:
    """HTTP clients, semaphores and probe locks belong to an event loop: the pool keeps them
    per loop, so a second ``asyncio.run`` works (it used to fail with 'Event loop is closed')."""
    Router().install(stub, answers=200)
    orch = make_orchestrator(stub.url)
    # each loop closes its own HTTP clients; the pool makes new ones in the next loop
    first = asyncio.run(orch.run_and_close("shape=fanout n=2"))
    second = asyncio.run(orch.run_and_close("shape=fanout n=2"))
    assert first.status == second.status == "succeeded"
