"""The process dies (SIGKILL) in the middle of a parallel stage, and two runs share one data
folder. Real ``steward`` processes against the stub server."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from memory.runs import RunStore
from modelclient.stub import StubServer
from tests.faults.conftest import (
    BFCL_CALLS,
    invoke,
    scenario_file,
    stdout_json,
    write_config,
)
from tests.faults.router import Router

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and fork semantics")

STEWARD = str(Path(sys.executable).parent / "steward")
PARALLEL = "shape=fanout n=2"  # s1 on <app:messaging>, s2 on <app:posting>, at the same time
JOINED = "shape=join n=3"  # s1 and s2 as above, then s3 on <app:messaging> needs both


def spawn(*args: str) -> subprocess.Popen[str]:
    """``steward ARGS`` in a new process, with this test's data folder (from the environment)."""
    env = {**os.environ, "STEWARD_NO_AUTOSTART": "1"}
    return subprocess.Popen(
        [STEWARD, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def home() -> Path:
    return Path(os.environ["STEWARD_HOME"])


def subtask_statuses(run_id: str | None = None) -> tuple[str, dict[str, str]]:
    """(run id, subtask id -> status) of the newest run, read straight from the run store."""
    path = home() / "runs.db"
    if not path.exists():
        return "", {}
    try:
        with sqlite3.connect(path, timeout=5) as db:
            row = db.execute("select run_id from runs order by created_at desc limit 1").fetchone()
            if row is None:
                return "", {}
            rows = db.execute(
                "select subtask_id, status from details where run_id = ?", [row[0]]
            ).fetchall()
    except sqlite3.OperationalError:  # the store is being created
        return "", {}
    return row[0], dict(rows)


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def final_apps(run_id: str) -> dict[str, Any]:
    """Each app's state after the last subtask that used it (s3 for messaging, s2 for posting)."""
    store = RunStore(home() / "runs.db")
    try:
        return {
            "messaging": store.load_snapshot(run_id, "after:s3", "messaging")["state"],
            "posting": store.load_snapshot(run_id, "after:s2", "posting")["state"],
        }
    finally:
        store.close()


def test_sigkill_in_a_parallel_stage_then_resume(tmp_path: Path, stub: StubServer) -> None:
    router = Router(calls=BFCL_CALLS, delays={"post_tweet": 60.0}).install(stub)
    config = str(write_config(tmp_path / "models.toml", stub.url, timeout_s=90))
    scenario = str(scenario_file(tmp_path / "scenario.json"))
    common = ["--config", config, "--no-memory", "-q", "--json", "--approve=auto"]
    proc = spawn("run", JOINED, "--scenario", scenario, *common)
    try:
        # s1 (messaging) has finished while s2 (posting) waits on its first model call
        wait_for(
            lambda: (
                subtask_statuses()[1] == {"s1": "succeeded", "s2": "running", "s3": "pending"}
                and router.count("act", "step 2") == 1
            ),
            timeout=60,
            what="s1 to finish while s2 runs",
        )
        time.sleep(0.5)  # let the checkpoint of s1's write land (it follows the run record)
        assert proc.poll() is None
    finally:
        proc.kill()  # SIGKILL: no finally blocks, no last save
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    run_id, statuses = subtask_statuses()
    assert statuses == {"s1": "succeeded", "s2": "running", "s3": "pending"}
    router.delays.clear()
    before = {s: router.count(subtask=f"step {s}") for s in (1, 2, 3)}

    resumed = invoke("resume", run_id, "--config", config, "-q", "--json")
    assert resumed.exit_code == 0, resumed.output
    record = stdout_json(resumed)
    assert record["status"] == "succeeded"
    assert router.count(subtask="step 1") == before[1]  # the finished subtask was not repeated
    assert router.count("act", "step 2") == 1 + 2  # s2 again: its action, then finish
    by_id = {s["id"]: s for s in record["subtasks"]}
    assert by_id["s1"]["attempts"] == 1 and by_id["s3"]["status"] == "succeeded"
    assert before[3] == 0 and router.count("act", "step 3") == 2

    # the same instruction, uninterrupted, ends with the same apps: s3 found s1's message
    fresh = invoke("run", JOINED, "--scenario", scenario, *common)
    assert fresh.exit_code == 0, fresh.output
    assert final_apps(run_id) == final_apps(stdout_json(fresh)["run_id"])
    apps = final_apps(run_id)
    posted = [t[1]["content"] for t in apps["posting"]["tweets"]["v"]]
    assert posted.count("hello from the fault tests") == 1
    assert json.dumps(apps["messaging"]).count("hello from the fault tests") == 2


def test_two_runs_at_once_in_one_data_folder(tmp_path: Path, stub: StubServer) -> None:
    Router(calls=BFCL_CALLS).install(stub, answers=2000)
    stub.latency_s = 0.05
    config = str(write_config(tmp_path / "models.toml", stub.url))
    scenario = str(scenario_file(tmp_path / "scenario.json"))
    procs = [
        spawn("run", f"{PARALLEL} run {i}", "--scenario", scenario, "--config", config, "-q",
              "--json", "--approve", "auto")
        for i in range(2)
    ]  # fmt: skip
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    ids = {json.loads(out)["run_id"] for out, _ in outputs}
    listed = json.loads(invoke("runs", "--json").stdout)["runs"]
    assert {r["run_id"] for r in listed} == ids
    assert all(r["status"] == "succeeded" for r in listed)
    for run_id in ids:
        record = stdout_json(invoke("show", run_id, "--json"))
        assert [s["status"] for s in record["subtasks"]] == ["succeeded", "succeeded"]
        assert record["usage"]["calls"] >= 8
