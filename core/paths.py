"""Where Steward keeps data (runs, memory) and caches (server venv, converted model)."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """``$STEWARD_HOME``, else ``$XDG_DATA_HOME/steward``, else ``~/.local/share/steward``."""
    env = os.environ.get("STEWARD_HOME")
    if env:
        path = Path(env)
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        path = Path(base) / "steward"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """``$STEWARD_CACHE``, else ``$XDG_CACHE_HOME/steward``, else ``~/.cache/steward``."""
    env = os.environ.get("STEWARD_CACHE")
    if env:
        path = Path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "steward"
    path.mkdir(parents=True, exist_ok=True)
    return path
