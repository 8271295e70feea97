"""Scenarios: which apps exist and the state they start in.

A scenario file is JSON::

    {"name": "demo", "description": "...", "instruction": "...",
     "apps": {"travel": {...TravelAPI initial_config...}, "posting": {...}}}

Each app's state uses the format of that app (for BFCL apps, BFCL's ``initial_config`` of its
class).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import ScenarioError, UnknownAgentError


class Scenario(BaseModel):
    """A world to run instructions in: app name -> initial state."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    """Short name of the scenario."""
    description: str = ""
    """What the world holds, for people."""
    instruction: str | None = None
    """A default / example instruction that can be achieved in this world."""
    apps: dict[str, dict[str, Any]]
    """App name -> initial state in that app's own format."""


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = error.error_count() - 1
    extra = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
    return f"{where}: {first['msg']}{extra}"


def parse_scenario(data: Any, known_apps: Collection[str], *, source: str = "scenario") -> Scenario:
    """Validate already-parsed JSON ``data`` as a scenario; see ``load_scenario`` for errors."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{source}: {_one_line(exc)}") from None
    unknown = [name for name in scenario.apps if name not in known_apps]
    if unknown:
        raise UnknownAgentError(
            f"{source}: unknown app {unknown[0]!r}; known apps: {', '.join(sorted(known_apps))}"
        )
    return scenario


def load_scenario(path: str | Path, known_apps: Collection[str]) -> Scenario:
    """Read and validate a scenario file.

    Raises ``ScenarioError`` when the file is missing, unreadable, not JSON or has wrong fields
    or types (one line saying what and where), and ``UnknownAgentError`` when it names an app
    not in ``known_apps`` (the message lists the known names).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"scenario file {file} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario file {file}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            f"{file}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    return parse_scenario(data, known_apps, source=str(file))


def demo_scenario() -> Scenario:
    """The demo world shipped with Steward: all eight BFCL apps (``apps/data/demo.json``)."""
    from apps.bfcl_catalog import BFCL_APPS

    resource = files("apps.data").joinpath("demo.json")
    data = json.loads(resource.read_text(encoding="utf-8"))
    return parse_scenario(data, BFCL_APPS.keys(), source="apps/data/demo.json")
