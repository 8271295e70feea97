"""``bench bfcl`` on a served model reports prompt tokens per call and the server's
prefix-cache hits (from its ``/metrics``), and a reader that copes with servers without them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from modelclient.metrics import CacheCounters, metrics_url, parse_counters, read_counters
from modelclient.stub import StubServer, free_port

PAGE = """# HELP vllm:prefix_cache_queries_total Prefix cache queries
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{engine="0",model_name="m"} 69971.0
vllm:prefix_cache_hits_total{engine="0",model_name="m"} 49024.0
vllm:prefix_cache_hits_created{engine="0",model_name="m"} 1.79e+09
"""


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(model="stub-model") as server:
        yield server


def test_counters_are_read_from_a_metrics_page() -> None:
    counters = parse_counters(PAGE)
    assert counters == CacheCounters(queried_tokens=69971, hit_tokens=49024)
    assert counters.hit_rate == pytest.approx(49024 / 69971)
    assert parse_counters("# nothing of vLLM here\nother_metric 3\n") is None
    assert metrics_url("http://127.0.0.1:8321/v1") == "http://127.0.0.1:8321/metrics"


def test_a_server_without_counters_gives_none(stub: StubServer) -> None:
    assert read_counters([f"http://127.0.0.1:{free_port()}/v1"]) is None  # nobody there
    assert read_counters([stub.url]) == CacheCounters()  # the stub counts from zero


def test_bench_bfcl_reports_the_prefix_cache_of_the_server(
    tmp_path: Path, stub: StubServer
) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["bench", "bfcl", "--limit", "1", "--agent", "single", "--base-url", stub.url,
         "--model", "stub-model", "--out", str(out), "--json", "-q"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    server = json.loads(result.stdout)["server"]
    assert server["prompt_tokens_per_call"] > 0
    assert server["prefix_cache_queried_tokens"] > 0
    assert 0 < server["prefix_cache_hit_tokens"] <= server["prefix_cache_queried_tokens"]
    assert server["prefix_cache_hit_rate"] == pytest.approx(
        server["prefix_cache_hit_tokens"] / server["prefix_cache_queried_tokens"], abs=1e-4
    )
    assert "## Model server (last invocation)" in (out / "results.md").read_text()
