"""A scripted demo run for the viewer tests: three subtasks on two apps, two of them in
parallel, a retry after a failed verdict, and a tweet whose text is HTML with a script."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from cli.main import cli

INSTRUCTION = "Find Bob's id, tweet the news, then message Bob the tweet id"
HOSTILE = "<script>document.title='pwned'</script><img src=x onerror=alert(1)> off to LA"
"""The tweet's text: HTML and a script that the view must show as text, never run."""


def _act(tool: str, **arguments: Any) -> dict[str, Any]:
    return {"thought": f"call {tool}", "tool": tool, "arguments": arguments}


def _finish(result: str) -> dict[str, Any]:
    return {"thought": "done", "tool": "finish", "result": result}


def _verdict(success: bool, key_info: str = "", tips: str = "") -> dict[str, Any]:
    kind = "none" if success else "wrong_result"
    return {"success": success, "failure_kind": kind, "tips": tips, "key_info": key_info}


def _for(role: str, answer: Any) -> dict[str, Any]:
    return {"role": role, "answer": answer}


def _purpose(purpose: str, answer: Any) -> dict[str, Any]:
    return {"purpose": purpose, "answer": answer}


PLAN = {
    "nodes": [
        {"id": "s1", "task_token": "<app:messaging>", "instruction": "Find Bob's user id",
         "needs": []},
        {"id": "s2", "task_token": "<app:posting>", "instruction": f"Tweet '{HOSTILE}'",
         "needs": []},
        {"id": "s3", "task_token": "<app:messaging>",
         "instruction": "Send Bob the id of the tweet", "needs": ["s1", "s2"]},
    ]
}  # fmt: skip

MESSAGING, POSTING = "<app:messaging>", "<app:posting>"


def script_lines() -> list[dict[str, Any]]:
    """The model's answers, tagged so that the parallel subtasks each get their own."""
    good = _verdict(True, key_info="done")
    return [
        _purpose("plan", PLAN),
        _for(MESSAGING, _act("get_user_id", user="Bob")),
        _for(MESSAGING, _finish("Bob is USR002")),
        _for(POSTING, _act("post_tweet", content=HOSTILE)),
        _for(POSTING, _finish("tweeted")),
        _purpose("evaluate", good),
        _purpose("evaluate", good),
        _for(MESSAGING, _act("send_message", receiver_id="USR009", message="tweet 0")),
        _for(MESSAGING, _finish("sent")),
        _purpose("evaluate", _verdict(False, tips="Bob is USR002, not USR009")),
        _for(MESSAGING, _act("send_message", receiver_id="USR002", message="tweet 0")),
        _for(MESSAGING, _finish("sent to USR002")),
        _purpose("evaluate", _verdict(True, key_info="message sent to USR002")),
        _purpose("answer", {"answer": "Tweeted and told Bob."}),
    ]


def write_script(folder: Path, lines: list[dict[str, Any]] | None = None) -> Path:
    """The script file for ``--model script:FILE``."""
    path = folder / "demo-answers.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines or script_lines()))
    return path


def demo_run(folder: Path) -> str:
    """Make the demo run in the current data folder; its run id."""
    script = write_script(folder)
    args = ["run", INSTRUCTION, "--model", f"script:{script}", "--no-memory", "-q", "--json"]
    # posting a tweet may need a person's approval: this run approves by itself
    result = CliRunner().invoke(cli, args, catch_exceptions=False, env={"STEWARD_APPROVE": "auto"})
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout[result.stdout.index("{") :])["run_id"])
