"""Side effects happen once: across retries, loops, re-plans and resumes (scripted models).

The outside world is a list shared by the app instances of every "process" (a real mail
server keeps the mails a killed process sent); a restorable app keeps its mails in itself.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agents import AgentSettings
from agents.registry import Registry, Specialist
from apps.base import Tool
from apps.pyobject import PythonApp
from apps.scenario import Scenario
from apps.world import World
from core.errors import RunError, ToolError
from memory.journal import ActionJournal
from memory.runs import RunStore
from modelclient.base import ChatMessage
from modelclient.testing import FunctionModel
from orchestrator import Orchestrator
from orchestrator.interrupted import DecisionNeededError
from tests.orchestrator.helpers import NotesApp, act, kind, last_user, steward_fn, verdict

SERVER: list[dict[str, Any]] = []
"""The mail server of the outside world: what a non-restorable mail app has sent."""


class Crash(BaseException):
    """The process dies (nothing catches a BaseException on the way up, like SIGKILL)."""


class Mail:
    """Sends mail through the outside world (``SERVER``); keeps nothing it could restore."""

    name = "mail"
    description = "Send mail to people."
    restorable = False
    crash_after_send = False

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.calls: list[str] = []

    @property
    def tools(self) -> list[Tool]:
        params = {
            "type": "object",
            "properties": {"to": {"type": "string"}, "body": {"type": "string"}},
            "required": ["to", "body"],
        }
        return [
            Tool(name="send", description="Send a mail.", parameters=params),
            Tool(name="mark", description="Mark a mail read.", parameters=params, idempotent=True),
        ]

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        self.calls.append(tool)
        if tool == "send":
            SERVER.append(dict(args))
            if Mail.crash_after_send:
                raise Crash("killed while the server answered")
            return {"sent": True, "count": len(SERVER)}
        if tool == "mark":
            if Mail.crash_after_send:
                raise Crash("killed while the server answered")
            return {"marked": True}
        raise ToolError(f"unknown tool {tool}")

    def snapshot(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        pass


class LocalMail(Mail):
    """A simulated mail app: its outbox is its state, so a failed attempt can be rolled back."""

    restorable = True

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        super().__init__(state)
        self.outbox: list[dict[str, Any]] = []

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        self.calls.append(tool)
        self.outbox.append(dict(args))
        return {"sent": True, "count": len(self.outbox)}

    def snapshot(self) -> dict[str, Any]:
        return {"outbox": [dict(m) for m in self.outbox]}

    def restore(self, state: dict[str, Any]) -> None:
        self.outbox = [dict(m) for m in state.get("outbox", [])]


class Ledger:
    """Keeps amounts as Decimals: its snapshot cannot be encoded."""

    def __init__(self) -> None:
        self.total = 0

    def add(self, amount: str) -> str:
        """Add an amount."""
        self.total = Decimal(amount)
        return "added"


@pytest.fixture(autouse=True)
def _clean_world() -> None:
    SERVER.clear()
    Mail.crash_after_send = False


def plan(*nodes: tuple[str, str, str, list[str]]) -> dict[str, Any]:
    return {
        "nodes": [
            {"id": i, "task_token": t, "instruction": text, "needs": needs}
            for i, t, text, needs in nodes
        ]
    }


MAIL_ANN = plan(("m", "<app:mail>", "Mail 'hi' to ann", []))


def make(
    tmp_path: Path,
    steward: Any,
    staff: Any,
    *,
    mail: type[Mail] = Mail,
    settings: AgentSettings | None = None,
    extra: list[Specialist] = (),  # type: ignore[assignment]
    scenario_apps: dict[str, Any] | None = None,
) -> Orchestrator:
    specialists = [
        Specialist(name="mail", description=Mail.description, app_factory=mail),
        Specialist(name="notes", description=NotesApp.description, app_factory=NotesApp),
        *extra,
    ]
    reg = Registry(specialists)
    scen = Scenario(name="t", description="", apps=scenario_apps or {"mail": {}, "notes": {}})
    models = {"steward": FunctionModel(steward, name="steward")}
    return Orchestrator(
        registry=reg,
        models=lambda role: models.get(role) or FunctionModel(staff, name=role),
        world=World.build(scen, {s.name: s.app_factory for s in reg}),
        settings=settings or AgentSettings(),
        store=RunStore(tmp_path / "runs.db"),
        checkpoints=tmp_path / "checkpoints.db",
        run_settings={"scenario": scen.model_dump()},
    )


def send_then_finish(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
    """A staff agent that sends the mail once, then finishes."""
    if last_user(messages).startswith(("Observation:", "Already done earlier")):
        return act("finish", result="sent")
    return act("send", to="ann", body="hi")


@pytest.mark.parametrize("mail", [Mail, LocalMail], ids=["carried-over", "rolled-back"])
async def test_a_retry_after_an_unreadable_verdict_sends_one_mail(
    tmp_path: Path, mail: type[Mail]
) -> None:
    """The first attempt sent the mail; its verdict never validated (three answers), so it
    counts as failed and is retried. Exactly one mail exists at the end."""
    verdicts = iter(["not json", "still not", "nope", verdict(True, key_info="sent")])
    prompts: list[str] = []

    def steward(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        if kind(schema) == "plan":
            return MAIL_ANN
        if kind(schema) == "evaluate":
            return next(verdicts)
        return {"answer": "done"}

    def staff(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        prompts.append(messages[1].content)
        return send_then_finish(messages, schema)

    orch = make(tmp_path, steward, staff, mail=mail)
    record = await orch.run("Mail 'hi' to ann")
    assert record.status == "succeeded" and record.subtasks[0].attempts == 2
    app = orch.world.get("mail")
    sent = app.outbox if isinstance(app, LocalMail) else SERVER
    assert sent == [{"to": "ann", "body": "hi"}]
    retry_prompt = prompts[-1]
    if mail is LocalMail:  # rolled back, told so, sent again
        assert app.calls == ["send", "send"]
        assert record.subtasks[0].history[0].rolled_back
        assert "then undone" in retry_prompt and 'send({"to": "ann"' in retry_prompt
    else:  # carried over: told what was done, the identical call is not run again
        assert app.calls == ["send"]
        assert "still in effect; do not do these again" in retry_prompt
        second = record.subtasks[0].history[1]
        assert second.steps[0].reused == "m.1.1" and second.carried == ["m.1.1"]
    journal = ActionJournal(orch.store, record.run_id).load()
    statuses = {e.id: (e.status, e.outcome) for e in journal.entries.values()}
    if mail is LocalMail:
        assert statuses == {"m.1.1": ("undone", "failed"), "m.2.1": ("done", "succeeded")}
    else:
        assert statuses == {"m.1.1": ("done", "failed"), "m.2.1": ("reused", "succeeded")}


async def test_a_looping_model_sends_at_most_max_repeats_mails(tmp_path: Path) -> None:
    """A model that sends the same mail forever, over 2 attempts and a re-plan: the repeat is
    refused before it runs, and later work reuses what failed work already sent."""

    def loop(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        return act("send", to="ann", body="hi")

    replan = plan(("m2", "<app:mail>", "Send the mail 'hi' to ann", []))
    steward = steward_fn([MAIL_ANN, replan], lambda s, m: verdict(True, key_info="sent"))
    settings = AgentSettings(max_repeats=2, max_retries=1, max_replans=1, max_steps=6)
    orch = make(tmp_path, steward, loop, settings=settings)
    record = await orch.run("Mail 'hi' to ann")
    assert record.status == "failed" and record.replans == 1
    assert len(SERVER) == 2  # was 12: 3 per attempt x 2 attempts x 2 plans
    assert orch.world.get("mail").calls == ["send", "send"]  # type: ignore[attr-defined]
    first = record.subtasks[0].history[0]
    assert [s.refused for s in first.steps] == [False, False, True, True]
    assert first.status == "loop" and "refused" in (first.steps[2].error or "")


async def test_a_rolled_back_loop_leaves_nothing(tmp_path: Path) -> None:
    def loop(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        return act("send", to="ann", body="hi")

    steward = steward_fn([MAIL_ANN], lambda s, m: verdict(True, key_info="sent"))
    settings = AgentSettings(max_repeats=2, max_retries=1, max_replans=0)
    orch = make(tmp_path, steward, loop, mail=LocalMail, settings=settings)
    record = await orch.run("Mail 'hi' to ann")
    app = orch.world.get("mail")
    assert record.status == "failed"
    assert app.calls == ["send"] * 4 and app.outbox == []  # type: ignore[attr-defined]


async def test_a_replan_may_replace_every_unfinished_subtask(tmp_path: Path) -> None:
    """One failed subtask and three that waited for it: a four-node re-plan is allowed, and
    the re-plan prompt lists all four."""
    first = plan(
        ("s1", "<app:notes>", "Add a note 'x'", []),
        ("s2", "<app:mail>", "Mail the note id to ann", ["s1"]),
        ("s3", "<app:mail>", "Mail the note id to bob", ["s1"]),
        ("s4", "<app:mail>", "Mail the note id to cy", ["s1"]),
    )
    second = plan(
        ("t1", "<app:notes>", "Add a note 'y'", []),
        ("t2", "<app:mail>", "Mail the new note id to ann", ["t1"]),
        ("t3", "<app:mail>", "Mail the new note id to bob", ["t1"]),
        ("t4", "<app:mail>", "Mail the new note id to cy", ["t1"]),
    )
    replans: list[tuple[str, dict[str, Any] | None]] = []
    base = steward_fn(
        [first, second],
        lambda s, m: verdict("'x'" not in s, key_info="N1", tips="use y"),
    )

    def steward(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        if kind(schema) == "plan" and "remaining work" in last_user(messages):
            replans.append((last_user(messages), schema))
        return base(messages, schema)

    def staff(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        if "Observation:" in last_user(messages):
            return act("finish", result="done")
        if "note" in messages[1].content and "Mail" not in messages[1].content:
            return act("add", text="x")
        return act("send", to="ann", body="N1")

    settings = AgentSettings(max_retries=0, max_replans=1)
    orch = make(tmp_path, steward, staff, settings=settings)
    record = await orch.run("Note something and mail its id to ann, bob and cy")
    assert record.status == "succeeded", record.error
    assert record.graph is not None and record.graph.ids == ["t1", "t2", "t3", "t4"]
    prompt, schema = replans[0]
    assert schema is not None and schema["properties"]["nodes"]["maxItems"] >= 4
    for sid in ("s1", "s2", "s3", "s4"):
        assert f"- {sid} " in prompt
    assert "Not started, because they needed failed work" in prompt


async def test_an_app_that_cannot_be_snapshotted_ends_the_run_with_its_record(
    tmp_path: Path,
) -> None:
    """A tool stores a Decimal; the app's snapshot then fails. The run ends with status
    error, the run id, and the first subtask's history."""
    two = plan(
        ("s1", "<app:notes>", "Add a note 'x'", []),
        ("s2", "<app:ledger>", "Add 5 to the ledger", ["s1"]),
    )

    def staff(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        if "Observation:" in last_user(messages):
            return act("finish", result="done")
        if "ledger" in messages[1].content:
            return act("add", amount="5")
        return act("add", text="x")

    ledger = Specialist(
        name="ledger",
        description="A ledger.",
        app_factory=lambda state: PythonApp(Ledger(), name="ledger"),
    )
    steward = steward_fn([two], lambda s, m: verdict(True, key_info="ok"))
    orch = make(tmp_path, steward, staff, extra=[ledger], scenario_apps={"notes": {}, "ledger": {}})
    with pytest.raises(RunError) as info:
        await orch.run("Note x, then add 5 to the ledger")
    run_id = info.value.run_id
    assert run_id and "TypeError" in str(info.value)
    saved = orch.store.load_run(run_id)
    assert saved["status"] == "error" and "TypeError" in saved["error"]
    s1 = next(s for s in saved["subtasks"] if s["id"] == "s1")
    assert s1["status"] == "succeeded" and s1["history"][0]["steps"]
    assert saved["usage"]["calls"] > 0


@pytest.mark.parametrize(
    ("token", "fix"),
    [("<app:fax>", "dropped 's2' (unknown token <app:fax>)"), ("mail", "read token 'mail'")],
)
async def test_a_plan_that_breaks_the_schema_is_repaired(
    tmp_path: Path, token: str, fix: str
) -> None:
    """An unknown token and a 30-character id: the client does not reject the answer, the
    steward's own checks send it back, and the last resort repairs it."""
    bad = plan(
        ("the_first_subtask_with_long_id", "<app:notes>", "Add a note 'x'", []),
        ("s2", token, "Mail it to ann", ["the_first_subtask_with_long_id"]),
    )
    asked: list[str] = []

    def steward(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        if kind(schema) == "plan":
            asked.append(last_user(messages))
            return bad
        if kind(schema) == "evaluate":
            return verdict(True, key_info="N1")
        return {"answer": "ok"}

    def staff(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        if "Observation:" in last_user(messages):
            return act("finish", result="done")
        return (
            act("add", text="x")
            if "note" in messages[1].content
            else act("send", to="ann", body="N1")
        )

    orch = make(tmp_path, steward, staff)
    record = await orch.run("Add a note and mail it to ann")
    assert record.status == "succeeded", record.error
    assert len(asked) == 3  # the plan and two repair rounds, each with the errors
    assert "longer than 16 characters" in asked[1]
    assert any(fix in n for n in record.notes), record.notes
    assert record.graph is not None and record.graph.ids[0] == "the_first_subtas"


async def _crashed_run(tmp_path: Path, tool: str) -> tuple[Orchestrator, str]:
    """A run killed while the app was answering ``tool``: its call is an intent."""

    def staff(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        if last_user(messages).startswith(("Observation:", "Already done earlier")):
            return act("finish", result="done")
        return act(tool, to="ann", body="hi")

    steward = steward_fn([MAIL_ANN], lambda s, m: verdict(True, key_info="ok"))
    Mail.crash_after_send = True
    orch = make(tmp_path, steward, staff)
    with pytest.raises(Crash):
        await orch.run("Mail 'hi' to ann", run_id="r1")
    Mail.crash_after_send = False
    entry = ActionJournal(orch.store, "r1").load().entries["m.1.1"]
    assert entry.status == "intent" and entry.outcome == ""
    return make(tmp_path, steward, staff), "r1"


async def test_resume_reruns_an_unanswered_idempotent_call(tmp_path: Path) -> None:
    orch, run_id = await _crashed_run(tmp_path, "mark")
    record = await orch.resume(run_id)
    assert record.status == "succeeded"
    # re-run once on resume; the resumed attempt's identical call reuses that result
    assert orch.world.get("mail").calls == ["mark"]  # type: ignore[attr-defined]
    entries = ActionJournal(orch.store, run_id).load().entries
    assert entries["m.1.1"].status == "done" and "idempotent" in entries["m.1.1"].note
    assert entries["m.2.1"].status == "reused" and entries["m.2.1"].reuses == "m.1.1"


async def test_resume_asks_before_repeating_an_unanswered_call(tmp_path: Path) -> None:
    orch, run_id = await _crashed_run(tmp_path, "send")
    assert len(SERVER) == 1  # the mail went out before the crash
    with pytest.raises(DecisionNeededError) as info:
        await orch.resume(run_id)
    assert "m.1.1" in str(info.value) and "mail.send" in str(info.value)
    saved = orch.store.load_run(run_id)
    assert saved["status"] == "waiting" and "--done m.1.1" in saved["error"]
    assert orch.world.get("mail").calls == []  # type: ignore[attr-defined]

    again, _ = await _again(tmp_path, run_id)
    record = await again.resume(run_id, decisions={"m.1.1": "done"})
    assert record.status == "succeeded"
    assert len(SERVER) == 1 and again.world.get("mail").calls == []  # type: ignore[attr-defined]


async def _again(tmp_path: Path, run_id: str) -> tuple[Orchestrator, str]:
    steward = steward_fn([MAIL_ANN], lambda s, m: verdict(True, key_info="ok"))
    return make(tmp_path, steward, send_then_finish), run_id


async def test_a_run_id_in_use_is_refused(tmp_path: Path) -> None:
    steward = steward_fn([MAIL_ANN], lambda s, m: verdict(True, key_info="ok"))
    orch = make(tmp_path, steward, send_then_finish)
    await orch.run("Mail 'hi' to ann", run_id="same")
    with pytest.raises(Exception, match="run id 'same' is taken"):
        await orch.run("Something else", run_id="same")
    assert orch.store.load_run("same")["instruction"] == "Mail 'hi' to ann"
