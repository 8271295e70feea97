"""Fixtures for the memory tests: data folders redirected to tmp, entry factories."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memory import MemoryStore


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("STEWARD_HOME", str(home / "steward"))
    monkeypatch.delenv("STEWARD_MEMORY_DB", raising=False)


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    with MemoryStore(":memory:") as s:
        yield s


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "memory.db"
