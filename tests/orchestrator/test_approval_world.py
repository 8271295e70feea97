"""Which calls need approval (tool marks, config patterns, the journal's rows), and the apps,
scripted agents and orchestrator factory the other approval tests share.

Every ``make`` call is a new "process": a new orchestrator, world, run store object and model
objects over the same files, so a test that drops one and makes another has killed the first
while it waited. ``OUTSIDE`` is the world outside Steward (a real mail server): what a
non-restorable mail app sent stays sent whatever process made it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agents import AgentSettings
from agents.registry import Registry, Specialist
from agents.settings import ApprovalPolicy, ApprovalSettings
from apps.base import Tool
from apps.scenario import Scenario
from apps.world import World
from core.errors import ToolError
from memory.runs import RunStore
from modelclient.base import ChatMessage
from modelclient.testing import FunctionModel
from orchestrator import Orchestrator
from tests.orchestrator.helpers import NotesApp, act, kind, last_user, verdict

OUTSIDE: list[dict[str, Any]] = []
"""Mails a non-restorable mail app sent (the outside world keeps them)."""

MAIL_PARAMS = {
    "type": "object",
    "properties": {"to": {"type": "string"}, "body": {"type": "string"}},
    "required": ["to", "body"],
    "additionalProperties": False,
}


class Crash(BaseException):
    """The process dies (nothing catches a BaseException on the way up, like SIGKILL)."""


class Mail:
    """Sends mail to the outside world (``OUTSIDE``): not restorable. ``send`` is sensitive."""

    name = "mail"
    description = "Send mail to people."
    restorable = False
    crash_in_send = False

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.calls: list[dict[str, Any]] = []

    @property
    def tools(self) -> list[Tool]:
        return [
            Tool(name="send", description="Send a mail.", parameters=MAIL_PARAMS, sensitive=True),
            Tool(name="inbox", description="Count mails sent.", read_only=True),
        ]

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        self.calls.append({"tool": tool, **args})
        if tool == "inbox":
            return {"sent": len(self.sent())}
        if tool != "send":
            raise ToolError(f"unknown tool {tool}")
        self.sent().append(dict(args))
        if Mail.crash_in_send:
            raise Crash("killed while the mail server answered")
        return {"sent": True, "count": len(self.sent())}

    def sent(self) -> list[dict[str, Any]]:
        return OUTSIDE

    def snapshot(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        pass


class LocalMail(Mail):
    """A simulated mail app: its outbox is its state (restorable)."""

    restorable = True

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        super().__init__(state)
        self.outbox: list[dict[str, Any]] = list((state or {}).get("outbox", []))

    def sent(self) -> list[dict[str, Any]]:
        return self.outbox

    def snapshot(self) -> dict[str, Any]:
        return {"outbox": [dict(m) for m in self.outbox]}

    def restore(self, state: dict[str, Any]) -> None:
        self.outbox = [dict(m) for m in state.get("outbox", [])]


def node(sid: str, app: str, text: str, needs: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"id": sid, "task_token": f"<app:{app}>", "instruction": text, "needs": list(needs)}


def plan(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"nodes": list(nodes)}


class Agents:
    """The steward and staff models of every process of one test, counting what they are
    asked. The staff mails when its subtask says "Mail X", notes when it says "Note", and
    finishes after the first observation or error."""

    def __init__(self, graph: dict[str, Any]) -> None:
        self.graph = graph
        self.proposals = 0
        """Model calls that proposed a ``send``."""
        self.prompts: list[str] = []
        """The last user message of every staff call."""
        self.evaluations = 0

    def steward(self, messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        k = kind(schema)
        if k == "plan":
            return self.graph
        if k == "evaluate":
            self.evaluations += 1
            return verdict(True, key_info="done")
        return {"answer": "All done."}

    def staff(self, messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        task = messages[1].content.splitlines()[0]
        last = last_user(messages)
        self.prompts.append(last)
        if last.startswith(("Observation:", "Error:", "Already done")):
            return act("finish", result=last[:60])
        if "Mail" in task:
            self.proposals += 1
            who = task.split("Mail ", 1)[1].split()[0]
            return act("send", to=who, body="hi")
        return act("add", text="x")


def make(
    tmp_path: Path,
    agents: Agents,
    policy: ApprovalPolicy = "ask",
    *,
    mail: type[Mail] = Mail,
    tools: list[str] | None = None,
    settings: AgentSettings | None = None,
) -> Orchestrator:
    """A new process: orchestrator, world and store objects over ``tmp_path``'s files."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    specialists = [
        Specialist(name="mail", description=Mail.description, app_factory=mail),
        Specialist(name="notes", description=NotesApp.description, app_factory=NotesApp),
    ]
    reg = Registry(specialists)
    scen = Scenario(name="t", description="", apps={"mail": {}, "notes": {}})
    steward = FunctionModel(agents.steward, name="steward")
    staff = FunctionModel(agents.staff, name="staff")
    return Orchestrator(
        registry=reg,
        models=lambda role: steward if role == "steward" else staff,
        world=World.build(scen, {s.name: s.app_factory for s in reg}),
        settings=settings or AgentSettings(),
        store=RunStore(tmp_path / "runs.db"),
        checkpoints=tmp_path / "checkpoints.db",
        run_settings={"scenario": scen.model_dump()},
        approval=ApprovalSettings(policy=policy, tools=tools or []),
    )


def sent(orchestrator: Orchestrator) -> list[dict[str, Any]]:
    app = orchestrator.world.get("mail")
    assert isinstance(app, Mail)
    return app.sent()


# -- which calls need approval ----------------------------------------------------------------


def test_the_bfcl_apps_mark_what_a_person_would_approve() -> None:
    from apps.bfcl import make_bfcl_app

    marked = {
        name: sorted(t.name for t in make_bfcl_app(name, {}).tools if t.sensitive)
        for name in ("file_system", "messaging", "posting", "trading", "travel", "math")
    }
    assert marked == {
        "file_system": ["rm", "rmdir"],
        "messaging": ["delete_message", "send_message"],
        "posting": ["comment", "post_tweet", "retweet"],
        "trading": ["cancel_order", "fund_account", "place_order", "withdraw_funds"],
        "travel": ["book_flight", "cancel_booking", "purchase_insurance"],
        "math": [],
    }


def test_a_python_method_is_marked_with_tool_hints() -> None:
    from apps.pyobject import PythonApp, tool_hints

    class Bank:
        @tool_hints(sensitive=True)
        def pay(self, to: str, amount: int) -> str:
            """Pay someone."""
            return "paid"

        def balance(self) -> int:
            """The balance."""
            return 3

    tools = {t.name: t for t in PythonApp(Bank(), name="bank").tools}
    assert tools["pay"].sensitive and not tools["balance"].sensitive


@pytest.mark.parametrize(
    ("pattern", "app", "tool", "covered"),
    [
        ("<app:trading>.*", "trading", "place_order", True),
        ("trading.place_*", "trading", "place_order", True),
        ("*.rm", "file_system", "rm", True),
        ("*.rm", "file_system", "rmdir", False),
        ("travel.*", "trading", "place_order", False),
    ],
)
def test_config_patterns_name_more_tools(pattern: str, app: str, tool: str, covered: bool) -> None:
    rules = ApprovalSettings(tools=[pattern])
    assert rules.covers(f"<app:{app}>", app, Tool(name=tool)) is covered


def test_mcp_destructive_tools_need_approval_too() -> None:
    assert ApprovalSettings().covers("<mcp:x>", "x", Tool(name="wipe", destructive=True))
    assert not ApprovalSettings().covers("<mcp:x>", "x", Tool(name="read", read_only=True))


def test_journal_rows_from_before_approvals_are_read(tmp_path: Path) -> None:
    """A run store made before approvals: the ``actions`` table has no ``approval`` column.
    Opening it adds the column; the old rows read as calls without approval."""
    import sqlite3

    from memory.journal import ActionJournal

    path = tmp_path / "runs.db"
    RunStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE actions (run_id TEXT NOT NULL, id TEXT NOT NULL, subtask_id TEXT, "
        "attempt INTEGER, seq INTEGER, app TEXT, tool TEXT, arguments TEXT, status TEXT, "
        "observation TEXT, error TEXT, reuses TEXT, idempotent INTEGER, read_only INTEGER, "
        "outcome TEXT, note TEXT, started_at REAL, ended_at REAL, PRIMARY KEY (run_id, id))"
    )
    conn.execute(
        "INSERT INTO actions VALUES ('r1', 's1.1.1', 's1', 1, 1, 'mail', 'send', "
        "'{\"to\": \"ann\"}', 'done', '{\"sent\": true}', NULL, NULL, 0, 0, 'succeeded', '', "
        "1.0, 2.0)"
    )
    conn.commit()
    conn.close()
    journal = ActionJournal(RunStore(path), "r1").load()
    entry = journal.entries["s1.1.1"]
    assert entry.status == "done" and entry.approval is None and entry.observation == {"sent": True}
    assert not entry.awaits_decision
