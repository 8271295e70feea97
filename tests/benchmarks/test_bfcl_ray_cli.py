"""``steward bench bfcl --ray`` as a user runs it, in a process of its own: it starts a local
Ray cluster listening on 127.0.0.1 only, reports the run on it, and leaves no Ray process
behind when it exits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.benchmarks.procs import listening, marked, name, needs_proc
from tests.benchmarks.test_bfcl_ray import needs_ray

STEWARD = [sys.executable, "-c", "from cli.main import main; main()"]


@needs_ray
@needs_proc
def test_the_command_starts_a_local_cluster_and_stops_it(tmp_path: Path) -> None:
    marker = f"STEWARD_RAY_TEST={uuid.uuid4().hex}"  # passed down to every process it starts
    env = {
        **os.environ,
        "STEWARD_HOME": str(tmp_path / "home"),
        "STEWARD_CACHE": str(tmp_path / "cache"),
        marker.split("=")[0]: marker.split("=")[1],
    }
    args = ["bench", "bfcl", "--model", "oracle", "--limit", "3", "--concurrency", "2"]
    command = [*STEWARD, *args, "--ray", "--out", str(tmp_path / "out"), "--json", "-q"]
    seen: set[str] = set()  # Ray's processes seen while it ran
    addresses: set[str] = set()  # where they listened
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        run = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)
        deadline = time.monotonic() + 300
        while run.poll() is None and time.monotonic() < deadline:
            pids = set(marked(marker))
            seen.update(name(pid) for pid in pids)
            addresses.update(address for _, address, _ in listening(pids))
            time.sleep(0.2)
        run.kill()  # (it has ended, unless it ran over)
        run.wait()
    assert run.returncode == 0, err.read_text()
    summary = json.loads(out.read_text())
    assert summary["accuracy"] == 1.0 and summary["tasks"] == 3
    runner = summary["runner"]
    assert runner["kind"] == "ray" and runner["address"] == "local"
    assert (runner["cpus"], runner["tasks"]) == (2, 3)
    assert {"gcs_server", "raylet"} <= seen
    assert addresses == {"127.0.0.1"}
    deadline = time.monotonic() + 30
    while (left := marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.5)  # Ray's processes take a moment to exit after the driver
    assert not left, [(pid, name(pid)) for pid in left]
    again = subprocess.run(
        [*command[:-2], "-q"], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    assert "runner: Ray at local: nothing left to run, no cluster started" in again.stdout
