"""``steward run`` stops before a sensitive action and ``steward approve`` continues it, with the
shipped example (``examples/approval/``: a message to Bob, played from a ``script:`` file).

The run and the approval are separate processes (``steward`` started anew each time: the run's
process has exited while it waits); the bad-input cases run in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "approval"
RUN = ["run", "--scenario", str(EXAMPLE / "scenario.json"),
       "--model", f"script:{EXAMPLE / 'answers.jsonl'}", "--no-memory", "--json"]  # fmt: skip
MESSAGE = "See you at 3pm at the cafe."


def steward(*args: str) -> subprocess.CompletedProcess[str]:
    """``steward ARGS`` in a new process, without a terminal (stdin is not a TTY)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = "from cli.main import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, cwd=ROOT, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=120, check=False,
    )  # fmt: skip


def record_of(stdout: str) -> dict[str, Any]:
    return dict(json.loads(stdout[stdout.index("{") :]))


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def one_line_error(result: Result) -> str:
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def sent(record: dict[str, Any]) -> bool:
    return MESSAGE in json.dumps(record["apps"]["messaging"]["after"]["state"]["inbox"])


def waiting_run(*extra: str) -> str:
    result = invoke(*RUN, "-q", *extra)
    assert result.exit_code == 4, result.output
    return str(record_of(result.stdout)["run_id"])


def test_the_example_waits_then_approve_from_a_new_process_sends_the_message() -> None:
    first = steward(*RUN)
    assert first.returncode == 4, first.stderr
    assert "waiting for approval of 1 action(s)" in first.stderr
    record = record_of(first.stdout)
    assert record["status"] == "waiting" and not sent(record)
    (pending,) = record["approvals"]
    assert (pending["app"], pending["tool"], pending["decision"]) == (
        "messaging", "send_message", "pending",
    )  # fmt: skip
    assert pending["proposed"] == {"receiver_id": "USR002", "message": MESSAGE}
    run_id = record["run_id"]
    listed = json.loads(steward("runs", "--waiting", "--json").stdout)["runs"]
    assert [(r["run_id"], [p["tool"] for p in r["pending_approvals"]]) for r in listed] == [
        (run_id, ["send_message"])
    ]

    done = steward("approve", run_id, "--json")
    assert done.returncode == 0, done.stderr
    approved = record_of(done.stdout)
    assert approved["status"] == "succeeded" and sent(approved)
    (decision,) = approved["approvals"]
    assert (decision["decision"], decision["by"], decision["status"]) == (
        "approved",
        "user",
        "done",
    )
    assert decision["approved"] == decision["proposed"] and decision["decided_at"] > 0
    shown = steward("show", run_id)
    assert "s1.1.2 messaging.send_message(" in shown.stdout and "approved by you" in shown.stdout
    again = steward("approve", run_id)  # finished: refused, and nothing changes
    assert again.returncode == 2 and "already ended (succeeded)" in again.stderr
    assert record_of(steward("show", run_id, "--json").stdout)["approvals"] == [decision]


def test_with_approve_deny_the_run_ends_without_the_message() -> None:
    result = invoke(*RUN, "-q", "--approve", "deny")
    assert result.exit_code == 0, result.output
    record = record_of(result.stdout)
    assert record["status"] == "succeeded" and not sent(record)
    (denied,) = record["approvals"]
    assert (denied["decision"], denied["by"]) == ("denied", "policy")
    step = record["subtasks"][0]["history"][0]["steps"][1]
    assert step["approval"] == "denied" and step["error"].startswith("denied: sensitive actions")


def test_deny_with_a_reason_never_sends_and_the_agent_is_told() -> None:
    run_id = waiting_run()
    result = invoke("approve", run_id, "--deny", "not today", "--json", "-q")
    assert result.exit_code == 0, result.output
    record = record_of(result.stdout)
    assert not sent(record)
    (denied,) = record["approvals"]
    assert (denied["decision"], denied["reason"], denied["by"]) == ("denied", "not today", "user")
    step = record["subtasks"][0]["history"][0]["steps"][1]
    assert step["error"] == "denied by the user: not today"


def test_an_edited_argument_is_what_runs() -> None:
    run_id = waiting_run()
    result = invoke("approve", run_id, "--set", "message=See you at 4pm.", "--json", "-q")
    assert result.exit_code == 0, result.output
    record = record_of(result.stdout)
    assert "See you at 4pm." in json.dumps(record["apps"]["messaging"]["after"]) and not sent(
        record
    )
    (edited,) = record["approvals"]
    assert edited["proposed"]["message"] == MESSAGE
    assert edited["approved"] == {"receiver_id": "USR002", "message": "See you at 4pm."}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--set", "receiver_id=7"], "do not fit the tool's schema: receiver_id: 7 is not of type"),
        (["--deny"], "a denial needs a reason"),
        (["--deny", "  "], "a denial needs a reason"),
        (["--set", "nothing"], "give ARG=VALUE"),
        (["--action", "s9.1.1"], "no action s9.1.1 waits for approval"),
    ],
)
def test_bad_input_is_a_one_line_error_and_changes_nothing(args: list[str], expected: str) -> None:
    run_id = waiting_run()
    before = record_of(invoke("show", run_id, "--json").stdout)
    result = invoke("approve", run_id, *args, "-q")
    assert result.exit_code == 2 and expected in one_line_error(result)
    after = record_of(invoke("show", run_id, "--json").stdout)
    assert after == before and after["approvals"][0]["decision"] == "pending"
    assert invoke("approve", run_id, "-q").exit_code == 0  # it still waits, and goes on


def test_a_run_that_is_unknown_or_not_waiting_is_refused() -> None:
    unknown = invoke("approve", "feedbeef")
    assert unknown.exit_code == 2 and "no run" in one_line_error(unknown)
    plain = invoke(*RUN, "-q", "--approve", "auto")
    assert plain.exit_code == 0, plain.output
    run_id = record_of(plain.stdout)["run_id"]
    ended = invoke("approve", run_id)
    assert ended.exit_code == 2 and "already ended (succeeded)" in one_line_error(ended)


def test_on_a_terminal_the_person_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """``ask`` at a terminal: the call is shown (app, tool, arguments, instruction), and an
    edit that breaks the schema is asked again."""
    import cli.run_cmd

    monkeypatch.setattr(cli.run_cmd, "can_ask", lambda as_json: True)
    args = [a for a in RUN if a != "--json"]
    answers = "e\nreceiver_id=7\n\nmessage=At 5.\n\n"
    result = invoke(*args, "-q", input=answers)
    assert result.exit_code == 0, result.output
    shown = "approval needed [s1.1.2]: messaging.send_message"
    assert shown in result.output and "for subtask s1: Send Bob the message" in result.output
    assert 'message = "See you at 3pm at the cafe."' in result.output
    assert "that breaks the tool's schema" in result.output
    run_id = json.loads(invoke("runs", "--json").stdout)["runs"][0]["run_id"]
    record = record_of(invoke("show", run_id, "--json").stdout)
    assert record["approvals"][0]["approved"]["message"] == "At 5."
    assert "At 5." in json.dumps(record["apps"]["messaging"]["after"])


def test_killed_while_asking_at_a_terminal_then_approved_from_a_new_process() -> None:
    """The run waits at the terminal's prompt (its stop already checkpointed); it is killed
    there, and ``steward approve`` in another process sends the message, once."""
    import pty
    import select
    import signal

    controller, terminal = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [a for a in RUN if a != "--json"]
    proc = subprocess.Popen(
        [sys.executable, "-c", "from cli.main import main; main()", *args], env=env, cwd=ROOT,
        stdin=terminal, stderr=terminal, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(terminal)
    seen = b""
    try:
        while b"[a]pprove" not in seen:
            ready, _, _ = select.select([controller], [], [], 60)
            assert ready, f"no prompt; the terminal showed: {seen.decode(errors='replace')}"
            seen += os.read(controller, 4096)
        assert b"send_message" in seen and b"USR002" in seen
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        os.close(controller)
    listed = json.loads(steward("runs", "--waiting", "--json").stdout)["runs"]
    assert len(listed) == 1 and listed[0]["pending_approvals"][0]["tool"] == "send_message"
    done = steward("approve", listed[0]["run_id"], "--json")
    assert done.returncode == 0, done.stderr
    inbox = record_of(done.stdout)["apps"]["messaging"]["after"]["state"]["inbox"]
    assert json.dumps(inbox).count(MESSAGE) == 1


def test_the_config_and_the_environment_set_the_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[approval]\ntools = ["<app:messaging>.get_user_*"]\n')
    result = invoke(*RUN, "-q", "--config", str(config))
    assert result.exit_code == 4, result.output
    record = record_of(result.stdout)
    assert [(a["id"], a["tool"]) for a in record["approvals"]] == [("s1.1.1", "get_user_id")]
    assert record["settings"]["approval"]["tools"] == ["<app:messaging>.get_user_*"]

    monkeypatch.setenv("STEWARD_APPROVE", "auto")
    assert invoke(*RUN, "-q", "--config", str(config)).exit_code == 0
    config.write_text('[approval]\npolicy = "maybe"\n')
    bad = invoke(*RUN, "-q", "--config", str(config), "--approve", "deny")
    assert bad.exit_code == 0  # --approve wins over the environment and the file's policy
    monkeypatch.delenv("STEWARD_APPROVE")
    bad = invoke(*RUN, "-q", "--config", str(config))
    assert bad.exit_code == 2 and "approval policy: Input should be 'ask', 'auto' or 'deny'" in (
        one_line_error(bad)
    )
