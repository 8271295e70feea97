"""``steward replay RUN_ID``: a recorded run again on its recorded answers, compared."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from agents.registry import Registry, Specialist, builtin_specialists
from apps.pyobject import PythonApp
from cli.main import cli
from memory.runs import RunStore
from modelclient.stub import StubServer
from tests.faults.conftest import BFCL_CALLS, scenario_file, write_config
from tests.faults.router import Router

PLAN = {
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
SEND = {
    "thought": "",
    "tool": "send_message",
    "arguments": {"receiver_id": "USR002", "message": "hi"},
}
TWEET = {"thought": "", "tool": "post_tweet", "arguments": {"content": "hi"}}
FINISH = {"thought": "", "tool": "finish", "result": "done"}
GOOD = {"success": True, "failure_kind": "none", "tips": "", "key_info": "done"}


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def stdout_json(result: Result) -> dict[str, Any]:
    return dict(json.loads(result.stdout[result.stdout.index("{") :]))


def run_ids() -> list[str]:
    return [r["run_id"] for r in json.loads(invoke("runs", "--json").stdout)["runs"]]


def scripted_run(tmp_path: Path, *extra: str, lines: list[Any] | None = None) -> str:
    """A run of two parallel subtasks (messaging, posting) played from a script."""
    lines = lines or [
        PLAN,
        {"role": "<app:posting>", "answer": TWEET},
        {"role": "<app:posting>", "answer": FINISH},
        {"role": "<app:messaging>", "answer": SEND},
        {"role": "<app:messaging>", "answer": FINISH},
        {"purpose": "evaluate", "answer": GOOD},
        {"purpose": "evaluate", "answer": GOOD},
        {"purpose": "answer", "answer": {"answer": "Sent and tweeted."}},
    ]
    script = tmp_path / "answers.jsonl"
    script.write_text("".join(json.dumps(line) + "\n" for line in lines))
    scenario = scenario_file(tmp_path / "scenario.json")
    args = [
        "run",
        "Send hi, tweet hi",
        "--approve=auto",
        "--model",
        f"script:{script}",
        "--scenario",
        str(scenario),
    ]
    memory = [] if "--memory-retrieval" in extra else ["--no-memory"]
    result = invoke(*args, "--json", "-q", *memory, *extra)
    assert result.exit_code == 0, result.output
    return str(stdout_json(result)["run_id"])


def replay(run_id: str, *args: str) -> tuple[Result, dict[str, Any]]:
    result = invoke("replay", run_id, "--json", "-q", *args)
    return result, stdout_json(result) if result.stdout.strip().startswith("{") else {}


def one_line_error(result: Result) -> str:
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


# -- identical ---------------------------------------------------------------------------------


def test_a_scripted_run_replays_identically(tmp_path: Path) -> None:
    run_id = scripted_run(tmp_path)
    result = invoke("replay", run_id, "-q")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("replay ") and f"of run {run_id}: identical" in result.output
    _, report = replay(run_id)
    assert report["identical"] and report["differences"] == [] and report["diverged"] == []
    assert report["actions"]["t"]["recorded"] == ['post_tweet({"content": "hi"})']
    assert report["actions"]["m"]["same"] and report["apps"]["posting"]["same"]
    assert report["status"] == {"recorded": "succeeded", "replayed": "succeeded"}
    # the replay is a run of its own, kept like any other
    again = report["replay_run_id"]
    assert again != run_id and again in run_ids()
    shown = stdout_json(invoke("show", again, "--json"))
    assert shown["settings"]["replay_of"] == run_id
    assert shown["settings"]["model"] == f"replay:{run_id}"


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(model="stub-model") as server:
        yield server


def test_a_parallel_run_on_a_server_replays_identically_with_no_server(
    stub: StubServer, tmp_path: Path
) -> None:
    """Two subtasks at once against a real HTTP stub, memory on; the replay needs no server
    (the stub is closed first) and matches the verdicts of both subtasks, whatever their order."""
    Router(calls=BFCL_CALLS).install(stub)
    config = write_config(tmp_path / "models.toml", stub.url)
    scenario = scenario_file(tmp_path / "scenario.json")
    args = [
        "run",
        "perf shape=fanout n=2",
        "--approve=auto",
        "--config",
        str(config),
        "--scenario",
        str(scenario),
    ]
    result = invoke(*args, "--json", "-q")
    assert result.exit_code == 0, result.output
    recorded = stdout_json(result)
    assert {s["task_token"] for s in recorded["subtasks"]} == {"<app:messaging>", "<app:posting>"}
    stub.stop()
    for _ in range(3):
        outcome, report = replay(recorded["run_id"])
        assert outcome.exit_code == 0, outcome.output
        assert report["identical"] and report["diverged"] == []
        assert sum(len(a["replayed"]) for a in report["actions"].values()) == 2


# -- differences -------------------------------------------------------------------------------


def _update_detail(run_id: str, subtask: str, change: Any) -> None:
    store = RunStore()
    rows = list(
        store.db.query(
            "select record from details where run_id = ? and subtask_id = ?", [run_id, subtask]
        )
    )
    record = json.loads(rows[0]["record"])
    change(record)
    store.db.execute(
        "update details set record = ? where run_id = ? and subtask_id = ?",
        [json.dumps(record), run_id, subtask],
    )
    store.close()


def test_a_tampered_answer_makes_a_different_replay(tmp_path: Path) -> None:
    run_id = scripted_run(tmp_path)
    bye = {**TWEET, "arguments": {"content": "bye"}}

    def tamper(record: dict[str, Any]) -> None:
        record["history"][0]["calls"][0]["output"] = json.dumps(bye)

    _update_detail(run_id, "t", tamper)
    result, report = replay(run_id)
    assert result.exit_code == 1
    assert not report["identical"]
    assert report["actions"]["t"]["replayed"] == ['post_tweet({"content": "bye"})']
    assert report["actions"]["m"]["same"] and report["apps"]["messaging"]["same"]
    assert not report["apps"]["posting"]["same"]
    assert any("'hi' -> 'bye'" in change for change in report["apps"]["posting"]["changes"])
    text = invoke("replay", run_id, "-q")
    assert text.exit_code == 1 and ": DIFFERENT" in text.output and "t actions:" in text.output


def test_a_tampered_initial_state_makes_a_different_replay(tmp_path: Path) -> None:
    run_id = scripted_run(tmp_path)
    store = RunStore()
    state = store.load_snapshot(run_id, "initial", "posting")
    state["state"]["username"] = "mallory"
    store.save_snapshot(run_id, "initial", "posting", state)
    store.close()
    result, report = replay(run_id)
    assert result.exit_code == 1
    assert report["actions"]["t"]["same"]  # the same answers came, so the same call was made
    assert not report["apps"]["posting"]["same"]
    assert any("mallory" in change for change in report["apps"]["posting"]["changes"])
    assert report["apps"]["messaging"]["same"]


# -- bad input: one line, exit 2, nothing written ----------------------------------------------


def test_a_run_that_does_not_exist() -> None:
    result = invoke("replay", "nope")
    assert result.exit_code == 2 and "no run 'nope'" in one_line_error(result)
    assert run_ids() == []


def _update_run(run_id: str, change: Any) -> None:
    store = RunStore()
    row = next(iter(store.db.query("select record from runs where run_id = ?", [run_id])))
    record = json.loads(row["record"])
    change(record)
    store.db.execute("update runs set record = ? where run_id = ?", [json.dumps(record), run_id])
    store.close()


def test_a_run_whose_apps_are_no_longer_registered(tmp_path: Path) -> None:
    run_id = scripted_run(tmp_path)
    _update_run(run_id, lambda r: r["settings"]["scenario"]["apps"].update({"fax": {}}))
    result = invoke("replay", run_id)
    assert result.exit_code == 2
    assert "fax, which are no longer registered" in one_line_error(result)
    assert run_ids() == [run_id]


def test_a_run_that_used_an_mcp_server_says_so(tmp_path: Path) -> None:
    run_id = scripted_run(tmp_path)

    def add_server(record: dict[str, Any]) -> None:
        record["settings"]["scenario"]["apps"]["files"] = {}
        record["settings"]["mcp"] = {"servers": {"files": {"transport": "stdio", "tools": []}}}

    _update_run(run_id, add_server)
    result = invoke("replay", run_id)
    assert result.exit_code == 2
    assert "used MCP server(s) files: their state lives outside Steward" in one_line_error(result)
    assert run_ids() == [run_id]


def test_a_run_recorded_without_prompts(stub: StubServer, tmp_path: Path) -> None:
    Router(calls=BFCL_CALLS).install(stub)
    config = write_config(tmp_path / "models.toml", stub.url, record_prompts=False)
    scenario = scenario_file(tmp_path / "scenario.json", ("posting",))
    args = [
        "run",
        "perf shape=fanout n=1",
        "--approve=auto",
        "--config",
        str(config),
        "--scenario",
        str(scenario),
    ]
    assert invoke(*args, "-q").exit_code == 0
    [run_id] = run_ids()
    result = invoke("replay", run_id)
    assert result.exit_code == 2 and "without its prompts" in one_line_error(result)
    assert run_ids() == [run_id]


def test_a_run_with_no_recorded_calls(tmp_path: Path) -> None:
    run_id = scripted_run(tmp_path)
    _update_run(run_id, lambda r: r.update(steward_calls=[]))
    store = RunStore()
    store.db.execute("delete from details where run_id = ?", [run_id])
    store.close()
    result = invoke("replay", run_id)
    assert result.exit_code == 2 and "no recorded model calls" in one_line_error(result)
    assert run_ids() == [run_id]


class Notes:
    def __init__(self, notes: list[str] | None = None) -> None:
        self.notes = list(notes or [])

    def add(self, text: str) -> int:
        """Add a note; returns how many there are."""
        self.notes.append(text)
        return len(self.notes)


def test_an_app_that_acts_on_the_outside_world_is_replayed_only_when_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = Specialist(
        name="notes",
        description="Notes",
        app_factory=lambda state: PythonApp(Notes(**state), name="notes", description="Notes"),
    )
    monkeypatch.setattr("agents.registry._DEFAULT", Registry([*builtin_specialists(), notes]))
    plan = {
        "nodes": [{"id": "n", "task_token": "<app:notes>", "instruction": "Note hi", "needs": []}]
    }
    add = {"thought": "", "tool": "add", "arguments": {"text": "hi"}}
    script = tmp_path / "answers.jsonl"
    script.write_text("\n".join(json.dumps(x) for x in (plan, add, FINISH, GOOD, {"answer": "ok"})))
    world = tmp_path / "notes.json"
    world.write_text(json.dumps({"name": "notes", "apps": {"notes": {}}}))
    args = ["run", "Note hi", "--model", f"script:{script}", "--scenario", str(world), "--json"]
    run_id = stdout_json(invoke(*args, "-q", "--no-memory"))["run_id"]
    refused = invoke("replay", run_id)
    assert refused.exit_code == 2
    assert "'notes' acts on the outside world" in one_line_error(refused)
    assert run_ids() == [run_id]
    allowed, report = replay(run_id, "--allow-side-effects")
    assert allowed.exit_code == 0 and report["identical"]
    monkeypatch.setattr("agents.registry._DEFAULT", Registry(builtin_specialists()))
    gone = invoke("replay", run_id)
    assert gone.exit_code == 2 and "notes, which are no longer registered" in one_line_error(gone)


def test_reasks_and_memory_are_replayed_as_recorded(tmp_path: Path) -> None:
    """A re-asked action and a plan prompt with a remembered guideline: the replay sends the
    same prompts (none diverges) and makes as many model calls."""
    from memory import GuidelineEntry, MemoryStore, Provenance

    with MemoryStore() as memory:
        memory.add_guideline(
            GuidelineEntry(
                instruction="Send hi and tweet hi",
                graph=PLAN,
                guideline="message and tweet at once",
                provenance=Provenance(run_id="r0", model="m", source="run"),
            )
        )
    lines = [
        PLAN,
        {"role": "<app:posting>", "answer": "not json"},
        {"role": "<app:posting>", "answer": TWEET},
        {"role": "<app:posting>", "answer": FINISH},
        {"role": "<app:messaging>", "answer": SEND},
        {"role": "<app:messaging>", "answer": FINISH},
        {"purpose": "evaluate", "answer": GOOD},
        {"purpose": "evaluate", "answer": GOOD},
        {"purpose": "answer", "answer": {"answer": "Sent and tweeted."}},
    ]
    run_id = scripted_run(tmp_path, "--memory-retrieval", "fts", lines=lines)
    recorded = stdout_json(invoke("show", run_id, "--json"))
    assert recorded["retrieved"]["guidelines"][0]["ids"]  # the plan's prompt had a guideline
    result, report = replay(run_id)
    assert result.exit_code == 0 and report["identical"] and report["diverged"] == []
    replayed = stdout_json(invoke("show", report["replay_run_id"], "--json"))
    assert replayed["usage"]["calls"] == recorded["usage"]["calls"] == 9  # the summary had none
    assert replayed["retrieved"]["guidelines"] == recorded["retrieved"]["guidelines"]
