"""Fixtures of the viewer tests: the demo run, and headless chromium (the browser tests are
skipped, saying so, when it is not installed: ``bash scripts/install_chromium.sh``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memory.runs import RunStore
from tests.viewer.browser import Browser, find_chromium
from tests.viewer.demo import demo_run


@pytest.fixture
def demo(tmp_path: Path) -> str:
    """The demo run, in this test's data folder; its id."""
    return demo_run(tmp_path)


@pytest.fixture
def store(demo: str) -> Iterator[RunStore]:
    """The data folder's run store, holding the demo run."""
    runs = RunStore()
    yield runs
    runs.close()


@pytest.fixture(scope="session")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed: run bash scripts/install_chromium.sh")
    return binary


@pytest.fixture
def browser(chromium: str) -> Iterator[Browser]:
    page = Browser(chromium)
    try:
        yield page
    finally:
        page.close()
