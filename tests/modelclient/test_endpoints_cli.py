"""``steward endpoints``: each replica probed once now, and the live counters that running
processes publish (here: this test process, through its pool's balancer)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from cli.main import load_command
from modelclient import ChatMessage, EndpointConfig, ModelsConfig, StubServer
from modelclient.balance import live_dir, read_live
from modelclient.pool import ModelPool
from modelclient.stub import free_port

ROOT = Path(__file__).resolve().parents[2]
endpoints = load_command("cli.endpoints_cmd:endpoints")


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(endpoints, list(args))
    return result.exit_code, result.output


async def test_every_replica_probed_with_live_counters() -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with StubServer(latency_s=0.01) as a, StubServer(latency_s=0.01) as b:
        config = ModelsConfig(
            default=EndpointConfig(
                base_urls=[a.url, b.url, dead], model="stub-model", backoff_s=0.01
            )
        )
        async with ModelPool(config, persist_probes=False) as pool:
            for _ in range(6):
                await pool.for_role("steward").complete([ChatMessage(role="user", content="hi")])
        code, out = invoke(
            "--base-url", f"{a.url},{b.url},{dead}", "--model", "stub-model", "--json"
        )
        text_code, text = invoke("--base-url", f"{a.url},{b.url}", "--model", "other")
    assert code == 1  # a replica of the config is down
    data = json.loads(out)
    rows = {e["url"]: e for e in data["endpoints"]}
    assert [rows[u]["health"] for u in (a.url, b.url, dead)] == ["up", "up", "down"]
    assert rows[a.url]["models"] == {"stub-model": ["default"]}
    assert rows[a.url]["latency_ms"] is not None and rows[dead]["latency_ms"] is None
    live = {u: rows[u]["live"] for u in rows}
    assert live[a.url]["requests"] + live[b.url]["requests"] == 6
    assert live[dead]["errors"] == 1 and live[dead]["in_flight"] == 0
    assert [p["pid"] for p in data["processes"]] == [os.getpid()]
    assert text_code == 1 and "missing-model in" in text and "(does not serve other)" in text
    assert "live counters of 1 running process(es)" in text


def test_all_up_is_exit_0_and_no_live_counters_said_so() -> None:
    with StubServer() as a:
        code, out = invoke("--base-url", a.url, "--model", "stub-model")
    assert code == 0, out
    assert "probe now: up" in out
    assert "no running Steward process has sent requests" in out


def test_files_of_ended_processes_are_dropped(tmp_path: Path) -> None:
    folder = live_dir()
    folder.mkdir(parents=True, exist_ok=True)
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = folder / f"{ended.stdout.strip()}.json"
    stale.write_text(json.dumps({"pid": int(ended.stdout), "endpoints": []}))
    assert read_live() == []
    assert not stale.exists()


def test_the_command_is_light() -> None:
    """Nothing heavy imported to probe (as tests/cli/test_startup.py asks of light commands,
    and no Ray): the command starts fast."""
    heavy = ("openai", "ray", "langgraph", "numpy", "matplotlib", "benchmarks")
    code = f"import sys, cli.endpoints_cmd; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.stdout.strip() == "[]"
