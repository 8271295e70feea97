"""Without an OTLP endpoint, or without the SDK, telemetry is off and costs nothing: the
event callback is returned unchanged and no OpenTelemetry module is imported."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

import telemetry

ROOT = Path(__file__).resolve().parents[2]


def callback(event: object) -> None:
    return None


@pytest.fixture(autouse=True)
def _no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*telemetry.ENDPOINT_VARS, "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(telemetry, "_warned", False)


def test_without_an_endpoint_the_callback_is_unchanged() -> None:
    assert telemetry.with_telemetry(callback) is callback
    assert telemetry.with_telemetry(None) is None
    assert telemetry.telemetry_callback() is None


def test_sdk_disabled_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert telemetry.with_telemetry(callback) is callback


def test_an_endpoint_without_the_sdk_warns_once_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    for name in ("opentelemetry.sdk", *telemetry.MODULES):  # as if not installed
        monkeypatch.setitem(sys.modules, name, None)
    with caplog.at_level(logging.WARNING, logger="steward.telemetry"):
        assert telemetry.with_telemetry(callback) is callback
        assert telemetry.telemetry_callback() is None
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "pip install 'steward[telemetry]'" in warnings[0]


def test_importing_the_viewer_and_telemetry_imports_no_opentelemetry() -> None:
    code = (
        "import sys, json, telemetry, viewer, viewer.server, cli.ui_cmd, cli.show_html\n"
        "telemetry.with_telemetry(print)\n"
        "heavy = ('opentelemetry', 'langgraph', 'openai', 'benchmarks', 'orchestrator')\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(heavy))))"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env=env, check=True)  # fmt: skip
    assert json.loads(done.stdout) == []
