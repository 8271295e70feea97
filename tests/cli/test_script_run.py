"""``steward run --model script:FILE``: canned answers from a JSON-lines file, no server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from modelclient.base import ChatMessage
from modelclient.script import ScriptLine, ScriptModel, parse_line

PLAN = {
    "nodes": [{"id": "s1", "task_token": "<app:posting>", "instruction": "Tweet hi", "needs": []}]
}
TWEET = {"thought": "", "tool": "post_tweet", "arguments": {"content": "hi from a script"}}
FINISH = {"thought": "", "tool": "finish", "result": "tweeted"}
GOOD = {"success": True, "failure_kind": "none", "tips": "", "key_info": "tweet 0"}
ANSWER = {"answer": "Tweeted."}


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


class Raw(str):
    """A script line written as is (not JSON-encoded)."""


def script(tmp_path: Path, *lines: Any) -> str:
    path = tmp_path / "answers.jsonl"
    path.write_text("".join((x if isinstance(x, Raw) else json.dumps(x)) + "\n" for x in lines))
    return str(path)


def record_of(result: Result) -> dict[str, Any]:
    return dict(json.loads(result.stdout[result.stdout.index("{") :]))


def runs() -> list[dict[str, Any]]:
    return list(json.loads(invoke("runs", "--json").stdout)["runs"])


def tweeted(record: dict[str, Any], text: str) -> bool:
    return json.dumps({"content": text})[1:-1] in json.dumps(record["apps"]["posting"]["after"])


def test_a_script_plays_the_whole_run_without_a_server(tmp_path: Path) -> None:
    """STEWARD_NO_AUTOSTART is set and no server runs: a run that tried one would exit 2."""
    path = script(tmp_path, PLAN, TWEET, FINISH, GOOD, ANSWER)
    result = invoke(
        "run",
        "Tweet hi",
        "--approve=auto",
        "--model",
        f"script:{path}",
        "--json",
        "-q",
        "--no-memory",
    )
    assert result.exit_code == 0, result.output
    record = record_of(result)
    assert record["status"] == "succeeded" and record["answer"] == "Tweeted."
    assert record["settings"]["model"] == f"script:{path}"
    assert record["settings"]["base_url"] is None
    assert tweeted(record, "hi from a script")
    assert record["usage"]["calls"] == 5


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([PLAN, Raw("{oops")], "line 2: not JSON"),
        ([Raw("3")], "line 1: a number is not an answer"),
        ([Raw("[1, 2]")], "line 1: an array is not an answer"),
        ([{"role": 7, "answer": PLAN}], "line 1: 'role' must be a non-empty string"),
        ([{"role": "steward", "answer": 5}], "line 1: a number is not an answer"),
        ([Raw(""), Raw("  ")], "has no answers"),
    ],
)
def test_a_bad_script_is_a_one_line_error_and_nothing_is_written(
    tmp_path: Path, lines: list[Any], expected: str
) -> None:
    path = script(tmp_path, *lines)
    result = invoke("run", "Tweet hi", "--model", f"script:{path}", "--json")
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and expected in errors[0] and path in errors[0], result.output
    assert "Traceback" not in result.output
    assert runs() == []


def test_a_missing_script_file(tmp_path: Path) -> None:
    result = invoke("run", "Tweet hi", "--model", f"script:{tmp_path / 'nope.jsonl'}")
    assert result.exit_code == 2 and "not found" in result.output
    assert runs() == []


def test_a_script_takes_no_base_url(tmp_path: Path) -> None:
    path = script(tmp_path, PLAN)
    result = invoke("run", "x", "--model", f"script:{path}", "--base-url", "http://127.0.0.1:9/v1")
    assert result.exit_code == 2 and "takes no --base-url" in result.output


def test_a_script_that_runs_out_ends_the_run_with_its_record(tmp_path: Path) -> None:
    path = script(tmp_path, PLAN, TWEET)
    result = invoke(
        "run",
        "Tweet hi",
        "--approve=auto",
        "--model",
        f"script:{path}",
        "--json",
        "-q",
        "--no-memory",
    )
    assert result.exit_code == 1
    record = record_of(result)
    assert record["status"] == "error"
    assert record["error"].startswith(f"script {path} ran out after 2 answers")
    assert f"steward show {record['run_id']}" in result.output
    assert [r["status"] for r in runs()] == ["error"]


def test_running_out_at_the_answer_is_no_success(tmp_path: Path) -> None:
    """No fallback hides a script that is one line short, not even the answer's."""
    path = script(tmp_path, PLAN, TWEET, FINISH, GOOD)
    result = invoke(
        "run",
        "Tweet hi",
        "--approve=auto",
        "--model",
        f"script:{path}",
        "--json",
        "-q",
        "--no-memory",
    )
    assert result.exit_code == 1
    record = record_of(result)
    assert record["status"] == "error" and "ran out after 4 answers" in record["error"]


def test_invalid_answers_print_the_record_with_its_status(tmp_path: Path) -> None:
    """A script of answers that never validate: the run starts, so exit 1 (not 2), and
    --json prints the record with its status."""
    path = script(tmp_path, *(["not json at all"] * 60))
    result = invoke(
        "run",
        "Tweet hi",
        "--approve=auto",
        "--model",
        f"script:{path}",
        "--json",
        "-q",
        "--no-memory",
    )
    assert result.exit_code == 1
    record = record_of(result)
    assert record["status"] in ("failed", "error") and record["run_id"]
    assert all(c["mode"] == "scripted" for c in record["steward_calls"])


def test_tagged_lines_give_parallel_subtasks_their_own_answers(tmp_path: Path) -> None:
    """Two independent subtasks ask in no fixed order; lines tagged by role go to their own."""
    plan = {
        "nodes": [
            {
                "id": "m",
                "task_token": "<app:messaging>",
                "instruction": "Send hi to USR002",
                "needs": [],
            },
            {"id": "t", "task_token": "<app:posting>", "instruction": "Tweet hi", "needs": []},
        ]
    }
    send = {
        "thought": "",
        "tool": "send_message",
        "arguments": {"receiver_id": "USR002", "message": "hi"},
    }
    path = script(
        tmp_path,
        plan,
        {"role": "<app:posting>", "answer": TWEET},
        {"role": "<app:posting>", "answer": FINISH},
        {"role": "<app:messaging>", "answer": send},
        {"role": "<app:messaging>", "answer": FINISH},
        {"purpose": "evaluate", "answer": GOOD},
        {"purpose": "evaluate", "answer": GOOD},
        {"role": "steward", "purpose": "answer", "answer": ANSWER},
    )
    result = invoke(
        "run",
        "Send hi, tweet hi",
        "--approve=auto",
        "--model",
        f"script:{path}",
        "--json",
        "-q",
        "--no-memory",
    )
    assert result.exit_code == 0, result.output
    record = record_of(result)
    actions = {
        s["id"]: [step["action"]["tool"] for a in s["history"] for step in a["steps"]]
        for s in record["subtasks"]
    }
    assert actions == {"m": ["send_message", "finish"], "t": ["post_tweet", "finish"]}


def test_a_line_is_tagged_only_with_role_or_purpose_beside_answer() -> None:
    assert parse_line(json.dumps(ANSWER), 1) == ScriptLine(answer=ANSWER, line=1)
    tagged = parse_line('{"role": "steward", "purpose": "plan", "answer": "x"}', 2)
    assert (tagged.answer, tagged.role, tagged.purpose) == ("x", "steward", "plan")
    other = {"answer": "x", "role": "steward", "extra": 1}  # an answer, not a tag
    assert parse_line(json.dumps(other), 3).answer == other


async def test_each_request_takes_the_first_line_meant_for_it() -> None:
    model = ScriptModel(
        [
            ScriptLine("for travel", role="<app:travel>"),
            ScriptLine("anyone"),
            ScriptLine("a plan", purpose="plan"),
        ]
    )
    hi = [ChatMessage(role="user", content="hi")]
    first = await model.complete(hi, role="steward", purpose="plan")
    second = await model.complete(hi, role="steward", purpose="plan")
    third = await model.complete(hi, role="<app:travel>", purpose="act")
    assert [first.text, second.text, third.text] == ["anyone", "a plan", "for travel"]


def test_resuming_a_scripted_run_needs_a_script_for_the_rest(tmp_path: Path) -> None:
    path = script(tmp_path, PLAN, TWEET)
    run_id = record_of(
        invoke("run", "Tweet hi", "--approve=auto", "--model", f"script:{path}", "--json", "-q")
    )["run_id"]
    result = invoke("resume", run_id, "-q")
    assert result.exit_code == 2
    assert f"steward resume {run_id} --model script:FILE" in result.output
