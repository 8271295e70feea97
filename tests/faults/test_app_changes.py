"""What a run changed: the record's ``apps`` (state before and after) and ``show --diff``."""

from __future__ import annotations

import json
from pathlib import Path

from modelclient.stub import StubServer
from tests.faults.conftest import BFCL_CALLS, invoke, scenario_file, stdout_json, write_config
from tests.faults.router import Router


def test_the_record_has_each_apps_state_before_and_after_and_show_diff_reads_them(
    tmp_path: Path, stub: StubServer
) -> None:
    Router(calls=BFCL_CALLS).install(stub)
    config = write_config(tmp_path / "models.toml", stub.url)
    scenario = scenario_file(tmp_path / "scenario.json", apps=("messaging", "posting", "math"))
    args = [
        "--approve=auto",
        "--scenario",
        str(scenario),
        "--config",
        str(config),
        "--no-memory",
        "-q",
        "--json",
    ]
    result = invoke("run", "shape=fanout n=3", *args)  # math, messaging, posting
    assert result.exit_code == 0, result.output
    printed = stdout_json(result)
    shown = stdout_json(invoke("show", printed["run_id"], "--json"))
    assert printed["apps"] == shown["apps"]
    apps = shown["apps"]
    assert set(apps) == {"messaging", "posting", "math"}
    assert apps["math"]["before"] == apps["math"]["after"]
    tweets = apps["posting"]["after"]["state"]["tweets"]
    assert len(json.dumps(tweets)) > len(json.dumps(apps["posting"]["before"]["state"]["tweets"]))

    diff = invoke("show", printed["run_id"], "--diff")
    assert diff.exit_code == 0
    text = diff.stdout
    assert "math: unchanged" in text
    assert "posting: 2 change(s)" in text
    assert (
        "added tweets.2: id=2, username='alice_travels', content='hello from the fault tests'"
        in text
    )
    assert "changed tweet_counter: 2 -> 3" in text
    assert "messaging:" in text and "added inbox[" in text and "{" not in text.split("messaging")[1]


def test_diff_of_a_run_without_app_states_is_a_one_line_error(tmp_path: Path) -> None:
    from memory.runs import RunStore

    RunStore().save_run({"run_id": "old1", "instruction": "x", "status": "failed"})
    result = invoke("show", "old1", "--diff")
    assert result.exit_code == 2
    assert "has no app states to compare" in result.output
