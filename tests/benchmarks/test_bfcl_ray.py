"""``steward bench bfcl --ray``: the tasks run as Ray tasks on a local cluster (2 CPUs), and
what comes back is what a local run writes: the same per-task results (the replay model),
resume, refusal of other settings, memory learned by the driver, run records; a worker that
dies is retried or its task named, never a finished result lost; bad input is one line.

Tests that need Ray skip when it is not installed (``pip install "steward[ray]"``). Ray 2.60
raised no warning here (``ray.wait`` runs in a thread, outside the event loop), so none is
filtered.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agents.settings import AgentSettings
from benchmarks.bfcl import BenchConfig, BfclTask, OracleSource
from benchmarks.bfcl.harness import Harness
from benchmarks.bfcl.models import PoolSource
from benchmarks.bfcl.oracle import OracleModels
from benchmarks.bfcl.ray_cluster import start_local
from benchmarks.bfcl.ray_shard import RayOptions
from cli.main import cli
from core.errors import RunError, UserError
from memory.runs import RunStore
from modelclient import EndpointConfig, ModelsConfig, StubServer
from modelclient.stub import free_port
from tests.benchmarks.procs import descendants, listening, needs_proc


def ray_installed() -> bool:
    try:
        return find_spec("ray") is not None
    except (ImportError, ValueError):  # ValueError: hidden (sys.modules["ray"] is None)
        return False


needs_ray = pytest.mark.skipif(
    not ray_installed(), reason='Ray is not installed: pip install "steward[ray]"'
)


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One local Ray cluster with 2 CPUs for the module, started as ``--ray`` starts one (on
    127.0.0.1); its workers get a private home. Shut down at the end of the module."""
    import ray

    home = tmp_path_factory.mktemp("ray-home")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("STEWARD_HOME", str(home / "home"))
        env.setenv("STEWARD_CACHE", str(home / "cache"))
        start_local(ray, 2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    # the test module travels by value: workers cannot import it by name
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        yield
    finally:
        ray.shutdown()


def config(out: Path, **fields: Any) -> BenchConfig:
    return BenchConfig.model_validate(
        {"category": "multi_turn_base", "limit": 4, "concurrency": 2, "out": out, **fields}
    )


def run(cfg: BenchConfig, source: Any = None, ray: RayOptions | None = None) -> Harness:
    harness = Harness(cfg, source or OracleSource(), ray=ray)
    asyncio.run(harness.run())
    return harness


def lines(harness: Harness) -> dict[str, dict[str, Any]]:
    """The JSONL results by task id, without times and run ids (which differ run to run)."""
    out = {}
    for line in harness.results_path.read_text().splitlines():
        data = json.loads(line)
        for key in ("started_at", "finished_at"):
            data.pop(key)
        data["totals"].pop("wall_s")
        for turn in data["turns"]:
            turn.pop("run_id")
            turn["totals"].pop("wall_s")
        out[data["id"]] = data
    return out


class CrashingSource(OracleSource):
    """The oracle, whose worker process dies on ``task_id``: once (a marker file remembers),
    or every time."""

    def __init__(self, marker: Path, task_id: str, *, always: bool = False) -> None:
        super().__init__()
        self.marker, self.task_id, self.always = marker, task_id, always

    def for_task(self, task: BfclTask, *, compound: bool, max_calls: int) -> OracleModels:
        if task.id == self.task_id and (self.always or not self.marker.exists()):
            self.marker.touch()
            os._exit(1)
        return super().for_task(task, compound=compound, max_calls=max_calls)


@needs_ray
@needs_proc
def test_the_local_cluster_listens_on_127_0_0_1_only(ray_cluster: None) -> None:
    ours = {os.getpid(), *descendants(os.getpid())}  # the driver listens too
    ray_sockets = [s for s in listening(ours) if s[0] in ("gcs_server", "raylet")]
    assert {s[0] for s in ray_sockets} == {"gcs_server", "raylet"}
    assert {address for _, address, _ in listening(ours)} == {"127.0.0.1"}


@needs_ray
def test_ray_results_equal_the_local_run(ray_cluster: None, tmp_path: Path) -> None:
    local = run(config(tmp_path / "local"))
    sharded = run(config(tmp_path / "ray"), ray=RayOptions())
    assert lines(sharded) == lines(local)
    assert sharded.ray_report is not None and sharded.ray_report.tasks == 4
    summary = json.loads(sharded.results_path.with_suffix(".summary.json").read_text())
    assert summary["accuracy"] == 1.0 and summary["tasks"] == 4
    # the driver learned, as a local run does, and keeps the workers' run records
    ledger_file = tmp_path / "ray/memory.db.learned.jsonl"
    ledger = [json.loads(x)["task"] for x in ledger_file.read_text().splitlines()]
    assert sorted(ledger) == sorted(lines(local))
    run_id = json.loads(sharded.results_path.read_text().splitlines()[0])["turns"][0]["run_id"]
    record = RunStore(tmp_path / "ray/runs.db").load_run(run_id)
    assert record["status"] == "succeeded" and record["apps"]


@needs_ray
def test_what_the_driver_learned_reaches_the_tasks_sent_after(
    ray_cluster: None, tmp_path: Path
) -> None:
    """One task at a time, with the replay's own entries offered: each task's prompts get the
    memory the tasks before it taught, on Ray as here."""
    settings = {"limit": 3, "concurrency": 1, "include_scripted": True}
    local = lines(run(config(tmp_path / "local", **settings)))
    sharded = lines(run(config(tmp_path / "ray", **settings), ray=RayOptions()))
    assert sharded == local
    assert sum(t["retrieved"] for r in sharded.values() for t in r["turns"]) > 0


@needs_ray
def test_resume_works_across_local_and_ray_and_other_settings_are_refused(
    ray_cluster: None, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run(config(out, limit=2), ray=RayOptions())
    local = run(config(out, limit=3))  # resumes: one more task, here
    assert len(lines(local)) == 3
    again = run(config(out, limit=4), ray=RayOptions())  # and one more, on Ray
    assert len(lines(again)) == 4 and again.ray_report is not None
    assert again.ray_report.tasks == 1
    nothing_left = run(config(out, limit=4), ray=RayOptions()).ray_report
    assert nothing_left is not None and (nothing_left.nodes, nothing_left.tasks) == (0, 0)
    other = config(out, limit=5, settings=AgentSettings(max_steps=5))
    with pytest.raises(UserError, match="other settings"):
        run(other, ray=RayOptions())


@needs_ray
def test_a_worker_killed_mid_task_is_retried(ray_cluster: None, tmp_path: Path) -> None:
    source = functools.partial(CrashingSource, tmp_path / "crashed", "multi_turn_base_1")
    harness = run(config(tmp_path / "out", limit=3), ray=RayOptions(source=source))
    assert (tmp_path / "crashed").exists()  # it did die once
    results = lines(harness)
    assert sorted(results) == ["multi_turn_base_0", "multi_turn_base_1", "multi_turn_base_2"]
    assert all(r["valid"] for r in results.values())


@needs_ray
def test_a_task_whose_worker_keeps_dying_is_named_and_the_rest_kept(
    ray_cluster: None, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    source = functools.partial(
        CrashingSource, tmp_path / "crashed", "multi_turn_base_1", always=True
    )
    with pytest.raises(RunError, match=r"1 task\(s\) lost their Ray worker 1 times"):
        run(config(out, limit=3), ray=RayOptions(source=source, max_retries=0))
    finished = config(out, limit=3)
    assert sorted(lines(Harness(finished, OracleSource()))) == [
        "multi_turn_base_0",
        "multi_turn_base_2",
    ]
    resumed = run(finished, ray=RayOptions())
    assert resumed.ray_report is not None and resumed.ray_report.tasks == 1
    assert len(lines(resumed)) == 3


@needs_ray
def test_served_models_on_replicas_from_ray_workers(ray_cluster: None, tmp_path: Path) -> None:
    """Workers build their own pool on the same config (two stub replicas here)."""
    with StubServer() as a, StubServer() as b:
        endpoint = EndpointConfig(base_urls=[a.url, b.url], backoff_s=0.01, max_retries=1)
        source = PoolSource(ModelsConfig(default=endpoint))
        cfg = config(
            tmp_path / "out", limit=2, settings=AgentSettings(max_steps=2), max_calls_per_turn=4
        )
        harness = run(cfg, source, ray=RayOptions())
        assert len(lines(harness)) == 2  # the stub's answers fail the tasks, but they finish
        assert a.requests and b.requests


@needs_ray
def test_all_replicas_down_stops_the_ray_run_with_a_clear_error(
    ray_cluster: None, tmp_path: Path
) -> None:
    dead = [f"http://127.0.0.1:{free_port()}/v1" for _ in range(2)]
    endpoint = EndpointConfig(base_urls=dead, backoff_s=0.01, max_retries=2)
    with pytest.raises(UserError, match=r"all 2 replicas of model .* are unreachable"):
        run(
            config(tmp_path / "out", limit=2),
            PoolSource(ModelsConfig(default=endpoint)),
            RayOptions(),
        )


@needs_ray
def test_cli_names_ray_in_the_summary(ray_cluster: None, tmp_path: Path) -> None:
    args = ["bench", "bfcl", "--model", "oracle", "--limit", "3", "--concurrency", "2"]
    result = CliRunner().invoke(cli, [*args, "--ray", "--out", str(tmp_path), "--json", "-q"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["accuracy"] == 1.0 and summary["tasks"] == 3
    assert summary["runner"]["kind"] == "ray" and summary["runner"]["tasks"] == 3


@needs_ray
def test_an_unreachable_address_is_one_line_and_exit_2(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    args = ["bench", "bfcl", "--model", "oracle", "--limit", "1", "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, [*args, "--ray", address])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: no Ray cluster answers at {address}")
    assert result.stderr.count("\n") == 1
    assert not list(tmp_path.iterdir())  # nothing written


def test_without_ray_installed_it_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    args = ["bench", "bfcl", "--model", "oracle", "--limit", "1", "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, [*args, "--ray"])
    assert result.exit_code == 2
    assert (
        result.stderr == 'Error: --ray needs Ray: pip install "steward[ray]" (or "ray==2.60.0")\n'
    )
