"""Fixtures shared by every test package: an isolated data folder per test, no network but
loopback, and the ``vllm`` marker's opt-in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelclient.testing import block_network


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-vllm",
        action="store_true",
        default=False,
        help="also run tests marked `vllm` against the real local server (`steward serve`)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-vllm") or os.environ.get("STEWARD_RUN_VLLM"):
        return
    skip = pytest.mark.skip(reason="needs the real vLLM server: pass --run-vllm")
    for item in items:
        if "vllm" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Each test gets its own data folder; unit tests may talk to 127.0.0.1 (stub servers) but
    never to the network."""
    for var in (
        "STEWARD_CONFIG",
        "STEWARD_BASE_URL",
        "STEWARD_MODEL",
        "STEWARD_API_KEY",
        "STEWARD_MEMORY_DB",
        "STEWARD_MEMORY_RETRIEVAL",
        "STEWARD_APPROVE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("STEWARD_HOME", str(tmp_path / "steward-home"))
    if request.node.get_closest_marker("vllm"):
        yield  # the real server's state lives in the real cache folder
        return
    monkeypatch.setenv("STEWARD_CACHE", str(tmp_path / "steward-cache"))
    monkeypatch.setenv("STEWARD_NO_AUTOSTART", "1")
    with block_network():
        yield
