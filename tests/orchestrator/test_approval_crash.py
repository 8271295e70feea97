"""A kill while an approved call is under way: the call still happens exactly once.

Each ``make`` is a new process over the same files (see ``test_approval_world``); ``Crash`` is
a ``BaseException`` nothing catches on the way up, as a SIGKILL, raised by the mail app after
the mail went out.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from memory.journal import ActionJournal
from orchestrator.approval import ApprovalDecision, ApprovalNeededError
from orchestrator.interrupted import DecisionNeededError
from tests.orchestrator.test_approval_world import (
    OUTSIDE,
    Agents,
    Crash,
    LocalMail,
    Mail,
    make,
    node,
    plan,
    sent,
)

ANN = plan(node("m", "mail", "Mail ann 'hi'"))


@pytest.fixture(autouse=True)
def _clean() -> None:
    OUTSIDE.clear()
    Mail.crash_in_send = False


async def test_killed_during_an_approved_call_on_an_outside_app_a_person_settles_it(
    tmp_path: Path,
) -> None:
    agents = Agents(ANN)
    with pytest.raises(ApprovalNeededError) as waiting:
        await make(tmp_path, agents).run("Mail ann")
    run_id = str(waiting.value.run_id)
    Mail.crash_in_send = True
    with pytest.raises(Crash):
        await make(tmp_path, agents).resume(run_id, approvals={"m.1.1": ApprovalDecision()})
    Mail.crash_in_send = False
    assert OUTSIDE == [{"to": "ann", "body": "hi"}]  # it went out, then the process died
    with pytest.raises(DecisionNeededError, match=r"--done m\.1\.1"):
        await make(tmp_path, agents).resume(run_id)  # did it happen? only a person knows
    last = make(tmp_path, agents)
    record = await last.resume(run_id, decisions={"m.1.1": "done"})
    assert record.status == "succeeded" and OUTSIDE == [{"to": "ann", "body": "hi"}]
    assert record.approvals[0].decision == "approved" and agents.proposals == 1


async def test_killed_during_an_approved_call_on_a_restorable_app_it_runs_once(
    tmp_path: Path,
) -> None:
    agents = Agents(ANN)
    with pytest.raises(ApprovalNeededError) as waiting:
        await make(tmp_path, agents, mail=LocalMail).run("Mail ann")
    run_id = str(waiting.value.run_id)
    Mail.crash_in_send = True
    with pytest.raises(Crash):
        await make(tmp_path, agents, mail=LocalMail).resume(
            run_id, approvals={"m.1.1": ApprovalDecision()}
        )
    Mail.crash_in_send = False
    last = make(tmp_path, agents, mail=LocalMail)
    record = await last.resume(run_id)  # the app is restored to before it, and it runs again
    assert record.status == "succeeded" and sent(last) == [{"to": "ann", "body": "hi"}]
    entry = ActionJournal(last.store, run_id).load().entries["m.1.1"]
    assert entry.status == "done" and entry.approval is not None
    assert agents.proposals == 1  # the model was not asked again
