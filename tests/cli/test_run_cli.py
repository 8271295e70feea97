"""The run-related CLI in-process: exit codes, one-line errors, JSON shape, records kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from modelclient.stub import StubServer, free_port


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(model="stub-model") as server:
        yield server


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def one_line_error(result: Result) -> str:
    out = result.output.strip()
    assert "Traceback" not in out
    lines = [line for line in out.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, out
    return lines[0]


def run_json(result: Result) -> dict[str, Any]:
    start = result.stdout.index("{")
    return dict(json.loads(result.stdout[start:]))


def test_agents_json_lists_the_eight_apps_with_distinct_tokens() -> None:
    result = invoke("agents", "--json")
    assert result.exit_code == 0
    agents = json.loads(result.stdout)["agents"]
    tokens = [a["task_token"] for a in agents]
    assert len(set(tokens)) == len(tokens)
    for name in (
        "file_system",
        "math",
        "messaging",
        "posting",
        "tickets",
        "trading",
        "travel",
        "vehicle",
    ):
        assert f"<app:{name}>" in tokens


def test_run_json_shape_and_record_kept(stub: StubServer) -> None:
    result = invoke(
        "run",
        "Send hi to Alice, then tweet it",
        "--base-url",
        stub.url,
        "--model",
        "stub-model",
        "--json",
        "-q",
        "--max-steps",
        "2",
    )
    assert result.exit_code in (0, 1), result.output
    record = run_json(result)
    assert record["run_id"]
    for node in record["graph"]["nodes"]:
        assert set(node) >= {"id", "task_token", "instruction", "needs"}
        assert node["task_token"].startswith("<app:")
    for sub in record["subtasks"]:
        assert set(sub) >= {"id", "status", "attempts", "usage"}
    assert "answer" in record
    assert record["usage"]["prompt_tokens"] > 0 and record["usage"]["completion_tokens"] > 0
    listed = json.loads(invoke("runs", "--json").stdout)["runs"]
    assert [r["run_id"] for r in listed] == [record["run_id"]]
    shown = json.loads(invoke("show", record["run_id"], "--json").stdout)
    assert shown["graph"] == record["graph"]
    text = invoke("show", record["run_id"][:6], "--mermaid")
    assert "flowchart TD" in text.stdout


@pytest.mark.parametrize(
    ("instruction", "expected"),
    [("", "empty"), ("   \n ", "empty"), ("x" * 20_001, "limit"), ("bad\x00bytes", "binary")],
)
def test_bad_instructions(instruction: str, expected: str) -> None:
    result = invoke("run", instruction, "--base-url", "http://127.0.0.1:9/v1")
    assert result.exit_code == 2
    assert expected in one_line_error(result)


def test_unknown_app_in_scenario(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"name": "x", "apps": {"fax": {}}}))
    result = invoke("run", "do it", "--scenario", str(path), "--base-url", "http://127.0.0.1:9/v1")
    assert result.exit_code == 2
    line = one_line_error(result)
    assert "fax" in line and "messaging" in line


@pytest.mark.parametrize("content", ["{not json", '{"apps": []}', '{"apps": {"travel": 5}}'])
def test_malformed_scenario(tmp_path: Path, content: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(content)
    result = invoke("run", "do it", "--scenario", str(path), "--base-url", "http://127.0.0.1:9/v1")
    assert result.exit_code == 2
    assert "s.json" in one_line_error(result)


def test_missing_scenario_file(tmp_path: Path) -> None:
    result = invoke("run", "do it", "--scenario", str(tmp_path / "nope.json"))
    assert result.exit_code == 2
    one_line_error(result)


def test_unreachable_server_names_the_url_and_the_fix() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = invoke("run", "Send hi to Alice", "--base-url", url, "-q")
    assert result.exit_code == 2
    line = one_line_error(result)
    assert url in line and "steward serve" in line
    runs = json.loads(invoke("runs", "--json").stdout)["runs"]
    assert len(runs) == 1  # the record is kept


def test_embedded_server_not_running_says_how_to_start_it() -> None:
    result = invoke("run", "Send hi to Alice", "-q", "--no-autostart")
    assert result.exit_code == 2
    assert "steward serve" in one_line_error(result)


def test_model_output_that_never_validates(stub: StubServer) -> None:
    """No plan, re-plan or action ever parses: the plans fall back to one subtask per app,
    every attempt fails, the run fails (exit 1) with its record."""
    stub.push(*(["this is not json at all"] * 50))
    result = invoke(
        "run", "Send hi to Alice", "--base-url", stub.url, "--model", "stub-model", "-q", "--json"
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    record = run_json(result)
    assert record["status"] == "failed" and record["fallbacks"] == ["apps", "apps"]
    runs = json.loads(invoke("runs", "--json").stdout)["runs"]
    assert runs and runs[0]["status"] == "failed"


def test_run_without_instruction_uses_the_scenarios_example(stub: StubServer) -> None:
    result = invoke(
        "run", "--base-url", stub.url, "--model", "stub-model", "--json", "-q", "--max-steps", "1"
    )
    assert result.exit_code in (0, 1), result.output
    assert run_json(result)["instruction"].startswith("Book the cheapest flight")


def test_memory_line_names_what_went_into_the_prompts() -> None:
    from cli.render import memory_line

    assert memory_line({}) == ""
    assert memory_line({"guidelines": [{"ids": []}]}) == ""
    line = memory_line(
        {
            "guidelines": [{"kind": "guideline", "ids": [3, 7]}],
            "expertise": {"s1": [{"ids": [4]}], "s2": [{"ids": []}]},
        }
    )
    assert line.startswith("memory: guidelines #3, #7 for the plan; expertise #4 for s1 (")


def test_run_with_hybrid_memory_retrieval(stub: StubServer) -> None:
    pytest.importorskip("tokenizers", reason='needs pip install "steward[embeddings]"')
    from memory import GuidelineEntry, MemoryStore, Provenance

    with MemoryStore() as store:  # the user's memory store
        seeded = store.add_guideline(
            GuidelineEntry(
                instruction="Send a greeting to Alice and post it as a tweet",
                graph={
                    "nodes": [
                        {
                            "id": "s1",
                            "task_token": "<app:messaging>",
                            "instruction": "Send hi to Alice",
                            "needs": [],
                        }
                    ]
                },
                guideline="message first, then tweet",
                provenance=Provenance(run_id="r0", model="m", source="run"),
            )
        )
    args = ["run", "Send hi to Alice, then tweet it", "--base-url", stub.url]
    args += ["--model", "stub-model", "--json", "-q", "--max-steps", "2"]
    result = invoke(*args, "--memory-retrieval", "hybrid")
    assert result.exit_code in (0, 1), result.output
    assert run_json(result)["retrieved"]["guidelines"][0]["ids"][0] == seeded
    with MemoryStore() as store:
        assert store.stats()["vectors"]["guideline"] >= 1  # searched by sentence similarity
    off = run_json(invoke(*args, "--no-memory"))["retrieved"]
    assert off["guidelines"] == [] and not any(off["expertise"].values())  # nothing retrieved


def test_json_prints_the_record_of_a_run_that_ended_in_error(
    stub: StubServer, tmp_path: Path
) -> None:
    """The server fails the plan call: exit 1, one error line on stderr naming the run, and
    the record (status, error) on stdout all the same."""
    stub.fail("503", times=1000)
    config = tmp_path / "models.toml"
    config.write_text(
        f'[model]\nbase_url = "{stub.url}"\nmodel = "stub-model"\nmax_retries = 0\n'
        'structured = "json_schema"\n'  # no probe: the plan call is the one that fails
    )
    args = ["run", "Send hi to Alice", "--config", str(config)]
    result = invoke(*args, "-q", "--json")
    assert result.exit_code == 1
    record = run_json(result)
    assert record["status"] == "error" and "503" in record["error"]
    assert f"steward show {record['run_id']}" in one_line_error(result)
    assert record["steward_calls"] and record["steward_calls"][0]["purpose"] == "plan"


def test_resume_refuses_a_call_said_both_done_and_not_done() -> None:
    result = invoke("resume", "r1", "--done", "s1.1.1", "--not-done", "s1.1.1")
    assert result.exit_code == 2
    assert "both --done and --not-done" in result.output


def test_progress_lines_say_when_a_call_was_refused_or_not_run_again() -> None:
    from cli.render import Progress
    from orchestrator.events import Event

    fmt = Progress(enabled=False).format
    step = {"tool": "send", "error": "refused: ...", "repeated": True}
    assert fmt(Event(kind="step", run_id="r", subtask_id="m", data={**step, "refused": True})) == (
        "m   -> send refused, not run: it repeats the previous call again"
    )
    reused = {"tool": "send", "error": None, "repeated": False, "reused": "m.1.1"}
    assert fmt(Event(kind="step", run_id="r", subtask_id="m", data=reused)) == (
        "m   -> send not run again: already done as m.1.1"
    )
    verdict = {"success": False, "failure_kind": "other", "attempt": 1, "status": "finished",
               "tips": "t", "rolled_back": True}  # fmt: skip
    line = fmt(Event(kind="verdict", run_id="r", subtask_id="m", data=verdict))
    assert line is not None and line.endswith("its effects were rolled back")
