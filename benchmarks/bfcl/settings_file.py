"""The settings a benchmark folder was made with, kept beside its results so a later run with
other settings is refused instead of silently mixed in."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as ``{"settings.max_steps": 6, ...}``."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def changed_settings(
    path: Path, current: Mapping[str, Any], *, legacy: Mapping[str, Any] | None = None
) -> dict[str, tuple[Any, Any]]:
    """``key -> (saved, current)`` for every (flattened) setting that differs from the ones
    saved at ``path``: none when nothing is saved, all of them when the file is unreadable.
    ``legacy``: the value a setting had in effect before it was saved (files written before
    the setting existed)."""
    if not path.exists():
        return {}
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        saved = {}
    old = flatten(saved if isinstance(saved, dict) else {})
    new = flatten(current)
    if old:  # a setting saved files predate counts as what was in effect then
        old = {**{k: v for k, v in (legacy or {}).items() if k in new}, **old}
    return {
        k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)
    }


def save_settings(path: Path, current: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(current, indent=2), encoding="utf-8")
