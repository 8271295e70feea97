"""Example files: one JSON-lines file per role, in a folder, with a summary of what is there."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from training.examples import Example

SUMMARY = "examples.json"


class ExampleSet(BaseModel):
    """What an examples folder holds: examples per role and per purpose, and their files."""

    model_config = ConfigDict(extra="forbid")

    roles: dict[str, int] = Field(default_factory=dict)
    purposes: dict[str, dict[str, int]] = Field(default_factory=dict)
    files: dict[str, str] = Field(default_factory=dict)
    """Role -> its JSON-lines file (relative to the folder)."""
    sources: list[str] = Field(default_factory=list)
    duplicates: int = 0
    """Examples left out because the same prompt and answer were already there."""


def role_file(role: str) -> str:
    """``<app:messaging>`` -> ``messaging.jsonl``; ``steward`` -> ``steward.jsonl``."""
    bare = role.strip("<>").split(":", 1)[-1]
    return f"{bare}.jsonl"


def write_examples(folder: Path, examples: Iterable[Example]) -> ExampleSet:
    """Write ``examples`` into ``folder`` (one file per role, duplicates dropped, each file
    replaced atomically) and return the summary (also written as ``examples.json``)."""
    folder.mkdir(parents=True, exist_ok=True)
    by_role: dict[str, list[Example]] = {}
    seen: set[str] = set()
    summary = ExampleSet()
    for example in examples:
        key = hashlib.sha256(
            json.dumps([example.role, example.messages, example.answer]).encode()
        ).hexdigest()
        if key in seen:
            summary.duplicates += 1
            continue
        seen.add(key)
        by_role.setdefault(example.role, []).append(example)
        counts = summary.purposes.setdefault(example.role, {})
        counts[example.purpose] = counts.get(example.purpose, 0) + 1
        if example.source and example.source not in summary.sources:
            summary.sources.append(example.source)
    for role, items in sorted(by_role.items()):
        name = role_file(role)
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        tmp.write_text("".join(e.model_dump_json() + "\n" for e in items), encoding="utf-8")
        tmp.replace(folder / name)
        summary.roles[role] = len(items)
        summary.files[role] = name
    (folder / SUMMARY).write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    return summary


def read_examples(path: Path) -> list[Example]:
    """The examples of one role's file."""
    return [
        Example.model_validate_json(line)
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
