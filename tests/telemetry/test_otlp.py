"""With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, a run's spans go over OTLP/HTTP: a tiny local
receiver takes the exporter's POSTs and decodes them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip(
    "opentelemetry.exporter.otlp.proto.http", reason="the telemetry extra is not installed"
)

import telemetry
from memory.runs import RunStore
from telemetry import tracer as tracer_module
from tests.telemetry.receiver import Receiver, attributes
from tests.telemetry.runs import run
from tests.viewer.demo import INSTRUCTION, write_script

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", server.endpoint)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    monkeypatch.setattr(tracer_module, "_shared", None)  # a provider for this endpoint
    try:
        yield server
    finally:
        if tracer_module._shared is not None:
            tracer_module._shared.shutdown()
        server.stop()


def test_spans_are_exported_over_otlp_http(receiver: Receiver, tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.db")
    seen: list[str] = []
    on_event = telemetry.with_telemetry(lambda event: seen.append(event.kind), store)
    assert on_event is not None
    record = run(tmp_path, on_event, store)
    assert seen[0] == "run_started" and seen[-1] == "run_finished"  # the first callback too
    assert tracer_module._shared is not None and tracer_module._shared.force_flush(10_000)
    assert receiver.got.wait(10)
    spans = receiver.spans()
    names = sorted(s.name for s in spans)
    assert names.count("invoke_workflow steward") == 1
    assert names.count("invoke_agent <app:notes>") == 1 and "execute_tool send" in names
    root = next(s for s in spans if s.name == "invoke_workflow steward")
    found = attributes(root)
    assert found["gen_ai.conversation.id"] == record.run_id
    assert found["gen_ai.usage.input_tokens"] == record.usage.prompt_tokens
    assert root.start_time_unix_nano == int(record.started_at * 1e9)
    store.close()


def test_steward_run_exports_its_spans_when_the_endpoint_is_set(
    receiver: Receiver, tmp_path: Path
) -> None:
    """The command itself, in its own process: a scripted `steward run` with
    OTEL_EXPORTER_OTLP_ENDPOINT set sends its trace before the process exits."""
    script = write_script(tmp_path)
    args = ["run", INSTRUCTION, "--model", f"script:{script}", "--no-memory", "-q", "--json"]
    code = "import sys; from cli.main import cli; cli(sys.argv[1:])"
    env = {**os.environ, "STEWARD_APPROVE": "auto", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout[done.stdout.index("{") :])
    assert receiver.got.is_set()  # the process flushed its spans before it ended
    spans = receiver.spans()
    by_name: dict[str, int] = {}
    for span in spans:
        by_name[span.name] = by_name.get(span.name, 0) + 1
    assert by_name["invoke_workflow steward"] == 1
    assert by_name["invoke_agent <app:messaging>"] == 2
    assert by_name["invoke_agent <app:posting>"] == 1
    assert by_name["execute_tool send_message"] == 2  # the retried subtask's two attempts
    root = next(s for s in spans if s.name == "invoke_workflow steward")
    assert attributes(root)["gen_ai.conversation.id"] == record["run_id"]
    assert {s.trace_id for s in spans} == {root.trace_id}
    agents = [s for s in spans if s.name.startswith("invoke_agent")]
    assert {attributes(s)["steward.subtask_id"] for s in agents} == {"s1", "s2", "s3"}
    assert all(s.parent_span_id == root.span_id for s in agents)
    calls = [attributes(s) for s in spans if s.name.startswith("chat ")]
    assert len(calls) == len(record["steward_calls"]) + sum(
        len(a["calls"]) + (1 if (a.get("verdict") or {}).get("call") else 0)
        for s in record["subtasks"]
        for a in s["history"]
    )
    assert all(c["gen_ai.request.model"] for c in calls)
