"""A person approves sensitive actions before they happen; the run waits for them durably.

Scripted models; each ``make`` is a new process over the same files (see
``test_approval_world``), so dropping an orchestrator that waits is killing its process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.errors import UserError
from memory.journal import ActionJournal
from orchestrator import Orchestrator
from orchestrator.approval import ApprovalDecision, ApprovalNeededError
from tests.orchestrator.test_approval_world import (
    OUTSIDE,
    Agents,
    LocalMail,
    Mail,
    make,
    node,
    plan,
    sent,
)

ANN = plan(node("m", "mail", "Mail ann 'hi'"))
MAIL_AND_NOTE = plan(node("m", "mail", "Mail ann 'hi'"), node("n", "notes", "Note x"))


@pytest.fixture(autouse=True)
def _clean() -> None:
    OUTSIDE.clear()
    Mail.crash_in_send = False


async def stop(orchestrator: Orchestrator, instruction: str = "Mail ann") -> ApprovalNeededError:
    """Run until it stops for approval; the error it stopped with."""
    with pytest.raises(ApprovalNeededError) as info:
        await orchestrator.run(instruction)
    return info.value


def journal(orchestrator: Orchestrator, run_id: str) -> ActionJournal:
    return ActionJournal(orchestrator.store, run_id).load()


@pytest.mark.parametrize("mail", [Mail, LocalMail], ids=["outside", "restorable"])
async def test_approve_gives_the_same_final_state_as_auto(tmp_path: Path, mail: type[Mail]) -> None:
    auto_agents = Agents(MAIL_AND_NOTE)
    auto = make(tmp_path / "auto", auto_agents, "auto", mail=mail)
    auto_record = await auto.run("Mail ann and note x")
    auto_state = auto.world.snapshot()
    auto_sent = list(sent(auto))
    OUTSIDE.clear()

    agents = Agents(MAIL_AND_NOTE)
    first = make(tmp_path / "ask", agents, mail=mail)
    waiting = await stop(first, "Mail ann and note x")
    assert waiting.exit_code == 4 and [a.tool for a in waiting.pending] == ["send"]
    assert sent(first) == []  # nothing sent while it waits
    again = make(tmp_path / "ask", agents, mail=mail)
    record = await again.resume(str(waiting.run_id), approvals={"m.1.1": ApprovalDecision()})
    assert record.status == auto_record.status == "succeeded"
    assert again.world.snapshot() == auto_state and sent(again) == auto_sent
    assert sent(again) == [{"to": "ann", "body": "hi"}]
    assert agents.proposals == auto_agents.proposals == 1  # the model was not asked again
    assert [a.decision for a in record.approvals] == ["approved"]
    assert record.approvals[0].status == "done" and record.approvals[0].by == "user"
    step = record.subtasks[0].history[0].steps[0]
    assert step.approval == "approved" and step.action_id == "m.1.1"


async def test_the_stop_is_recorded_with_the_pending_approval(tmp_path: Path) -> None:
    orchestrator = make(tmp_path, Agents(MAIL_AND_NOTE))
    waiting = await stop(orchestrator)
    saved = orchestrator.store.load_run(str(waiting.run_id))
    assert saved["status"] == "waiting" and "steward approve" in saved["error"]
    (approval,) = saved["approvals"]
    assert approval["decision"] == "pending" and approval["proposed"] == {"to": "ann", "body": "hi"}
    assert approval["instruction"] == "Mail ann 'hi'" and approval["app"] == "mail"
    m = next(s for s in saved["subtasks"] if s["id"] == "m")
    assert m["status"] == "waiting" and m["history"][-1]["status"] == "waiting"
    assert m["history"][-1]["steps"][-1]["approval"] == "pending"


async def test_deny_leaves_the_app_untouched_and_the_denial_is_in_the_record(
    tmp_path: Path,
) -> None:
    agents = Agents(ANN)
    waiting = await stop(make(tmp_path, agents))
    again = make(tmp_path, agents)
    decision = ApprovalDecision(approve=False, reason="ann is on holiday")
    record = await again.resume(str(waiting.run_id), approvals={"m.1.1": decision})
    assert sent(again) == [] and again.world.get("mail").calls == []  # type: ignore[attr-defined]
    (approval,) = record.approvals
    assert (approval.decision, approval.reason, approval.by) == (
        "denied",
        "ann is on holiday",
        "user",
    )
    assert approval.approved is None and approval.status == "denied" and approval.decided_at > 0
    assert "Error: denied by the user: ann is on holiday" in agents.prompts
    step = record.subtasks[0].history[0].steps[0]
    assert step.approval == "denied" and step.error == "denied by the user: ann is on holiday"
    assert journal(again, record.run_id).entries["m.1.1"].status == "denied"


async def test_a_parallel_sibling_finishes_while_the_other_subtask_waits(tmp_path: Path) -> None:
    agents = Agents(MAIL_AND_NOTE)
    first = make(tmp_path, agents)
    waiting = await stop(first)
    saved = first.store.load_run(str(waiting.run_id))
    status = {s["id"]: s["status"] for s in saved["subtasks"]}
    assert status == {"m": "waiting", "n": "succeeded"}
    assert first.world.get("notes").notes == {"N1": "x"}  # type: ignore[attr-defined]
    again = make(tmp_path, agents)
    evaluations = agents.evaluations
    record = await again.resume(str(waiting.run_id), approvals={"m.1.1": ApprovalDecision()})
    assert record.status == "succeeded"
    assert again.world.get("notes").calls == 0  # type: ignore[attr-defined]  # not run again
    assert again.world.get("notes").notes == {"N1": "x"}  # type: ignore[attr-defined]
    assert agents.evaluations == evaluations + 1  # only the mail's verdict is new


async def test_what_needs_the_waiting_subtask_starts_after_the_approval(tmp_path: Path) -> None:
    chain = plan(node("m", "mail", "Mail ann 'hi'"), node("n", "notes", "Note x", ("m",)))
    agents = Agents(chain)
    first = make(tmp_path, agents)
    waiting = await stop(first)
    saved = first.store.load_run(str(waiting.run_id))
    assert {s["id"]: s["status"] for s in saved["subtasks"]} == {"m": "waiting", "n": "pending"}
    assert first.world.get("notes").calls == 0  # type: ignore[attr-defined]
    record = await make(tmp_path, agents).resume(
        str(waiting.run_id), approvals={"m.1.1": ApprovalDecision()}
    )
    assert record.status == "succeeded"
    assert [s.status for s in record.subtasks] == ["succeeded", "succeeded"]


async def test_a_subtask_on_the_same_app_waits_for_the_one_that_keeps_it(tmp_path: Path) -> None:
    """Two independent subtasks on the mail app: while the first waits, it keeps the app;
    the second starts after the approval, and each mail is sent once."""
    two = plan(node("a", "mail", "Mail ann 'hi'"), node("b", "mail", "Mail bob 'hi'"))
    agents = Agents(two)
    first = make(tmp_path, agents)
    waiting = await stop(first)
    assert [a.id for a in waiting.pending] == ["a.1.1"]
    assert first.store.load_run(str(waiting.run_id))["subtasks"][1]["status"] == "pending"
    with pytest.raises(ApprovalNeededError) as second:
        await make(tmp_path, agents).resume(
            str(waiting.run_id), approvals={"a.1.1": ApprovalDecision()}
        )
    assert [a.id for a in second.value.pending] == ["b.1.1"]
    last = make(tmp_path, agents)
    record = await last.resume(str(waiting.run_id), approvals={"b.1.1": ApprovalDecision()})
    assert record.status == "succeeded" and [m["to"] for m in sent(last)] == ["ann", "bob"]
    assert agents.proposals == 2


async def test_two_approvals_in_one_run(tmp_path: Path) -> None:
    chain = plan(node("a", "mail", "Mail ann 'hi'"), node("b", "mail", "Mail bob 'hi'", ("a",)))
    agents = Agents(chain)
    waiting = await stop(make(tmp_path, agents))
    run_id = str(waiting.run_id)
    with pytest.raises(ApprovalNeededError) as again:
        await make(tmp_path, agents).resume(run_id, approvals={"a.1.1": ApprovalDecision()})
    assert [a.id for a in again.value.pending] == ["b.1.1"]
    last = make(tmp_path, agents)
    record = await last.resume(
        run_id, approvals={"b.1.1": ApprovalDecision(changes={"body": "hello"})}
    )
    assert record.status == "succeeded"
    assert sent(last) == [{"to": "ann", "body": "hi"}, {"to": "bob", "body": "hello"}]
    assert [(a.id, a.decision) for a in record.approvals] == [
        ("a.1.1", "approved"),
        ("b.1.1", "approved"),
    ]
    assert record.approvals[1].proposed == {"to": "bob", "body": "hi"}
    assert record.approvals[1].approved == {"to": "bob", "body": "hello"}
    assert record.subtasks[1].history[0].steps[0].approval == "edited"


async def test_edited_arguments_are_validated(tmp_path: Path) -> None:
    agents = Agents(ANN)
    waiting = await stop(make(tmp_path, agents))
    run_id = str(waiting.run_id)
    again = make(tmp_path, agents)
    for changes in ({"body": 3}, {"cc": "bob"}):
        with pytest.raises(UserError, match="do not fit the tool's schema"):
            await again.resume(run_id, approvals={"m.1.1": ApprovalDecision(changes=changes)})
        entry = journal(again, run_id).entries["m.1.1"]
        assert entry.status == "proposed" and entry.arguments == {"to": "ann", "body": "hi"}
    record = await make(tmp_path, agents).resume(
        run_id, approvals={"m.1.1": ApprovalDecision(changes={"to": "ann@example.com"})}
    )
    assert OUTSIDE == [{"to": "ann@example.com", "body": "hi"}]
    assert record.approvals[0].approved == {"to": "ann@example.com", "body": "hi"}


async def test_an_approval_for_a_run_that_is_not_waiting_is_refused(tmp_path: Path) -> None:
    agents = Agents(ANN)
    waiting = await stop(make(tmp_path, agents))
    run_id = str(waiting.run_id)
    await make(tmp_path, agents).resume(run_id, approvals={"m.1.1": ApprovalDecision()})
    late = make(tmp_path, agents)
    with pytest.raises(UserError, match=r"no action m\.1\.1 waits for approval"):
        await late.resume(run_id, approvals={"m.1.1": ApprovalDecision()})
    assert OUTSIDE == [{"to": "ann", "body": "hi"}]  # not sent twice
    with pytest.raises(UserError, match="needs a reason"):
        waiting2 = await stop(make(tmp_path / "other", Agents(ANN)))
        await make(tmp_path / "other", Agents(ANN)).resume(
            str(waiting2.run_id), approvals={"m.1.1": ApprovalDecision(approve=False)}
        )


async def test_a_run_resumed_without_a_decision_stops_again_without_asking_the_model(
    tmp_path: Path,
) -> None:
    agents = Agents(MAIL_AND_NOTE)
    waiting = await stop(make(tmp_path, agents))
    calls = len(agents.prompts)
    with pytest.raises(ApprovalNeededError):
        await make(tmp_path, agents).resume(str(waiting.run_id))
    assert len(agents.prompts) == calls and OUTSIDE == []


@pytest.mark.parametrize(
    ("policy", "outcome"),
    [("auto", [{"to": "ann", "body": "hi"}]), ("deny", [])],
)
async def test_a_run_may_go_on_under_another_policy(
    tmp_path: Path, policy: Any, outcome: list[dict[str, Any]]
) -> None:
    agents = Agents(ANN)
    waiting = await stop(make(tmp_path, agents))
    record = await make(tmp_path, agents, policy).resume(str(waiting.run_id))
    assert outcome == OUTSIDE and record.approvals[0].by == "policy"


async def test_policy_deny_refuses_at_once_and_the_agent_is_told(tmp_path: Path) -> None:
    agents = Agents(ANN)
    record = await make(tmp_path, agents, "deny").run("Mail ann")
    assert OUTSIDE == [] and record.status == "succeeded"  # the scripted judge is lenient
    assert record.approvals[0].decision == "denied" and record.approvals[0].by == "policy"
    assert any(p.startswith("Error: denied: sensitive actions are not run") for p in agents.prompts)


async def test_a_call_denied_once_is_not_asked_about_again(tmp_path: Path) -> None:
    """The retry proposes the very same mail: it is denied at once, with the person's reason,
    and the run does not stop again."""
    agents = Agents(ANN)
    judge = agents.steward

    def strict(messages: Any, schema: Any) -> Any:
        out = judge(messages, schema)
        return {**out, "success": False, "failure_kind": "other"} if "success" in out else out

    agents.steward = strict  # type: ignore[method-assign]
    waiting = await stop(make(tmp_path, agents))
    record = await make(tmp_path, agents).resume(
        str(waiting.run_id), approvals={"m.1.1": ApprovalDecision(approve=False, reason="no")}
    )
    assert OUTSIDE == [] and record.status == "failed"
    assert [(a.id, a.decision, a.reason) for a in record.approvals[:2]] == [
        ("m.1.1", "denied", "no"),
        ("m.2.1", "denied", "no"),
    ]
    assert agents.prompts.count("Error: denied by the user: no") >= 2


async def test_config_patterns_make_other_tools_wait(tmp_path: Path) -> None:
    agents = Agents(plan(node("n", "notes", "Note x")))
    waiting = await stop(make(tmp_path, agents, tools=["<app:notes>.add"]), "Note x")
    assert [(a.app, a.tool) for a in waiting.pending] == [("notes", "add")]
