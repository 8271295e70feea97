"""Specialists and their task tokens: the built-in apps, entry-point plugins, Python calls.

A specialist is one app-specialised staff agent. Its task token (``<app:NAME>``) is the whole
routing vocabulary: the steward's plan can only name registered tokens, and the router maps a
token back to its specialist. Third parties add specialists through the ``steward.agents``
entry-point group; an entry point loads to a ``Specialist``, a list of them, or a callable that
returns either.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from apps.base import App
from core.errors import UnknownAgentError

log = logging.getLogger("steward.agents")

ENTRY_POINT_GROUP = "steward.agents"
_NAME = re.compile(r"^[a-z][a-z0-9_\-]*$")

AppFactory = Callable[[dict[str, Any]], App]


def token_for(name: str) -> str:
    """The task token of the app ``name``."""
    return f"<app:{name}>"


def mcp_token(name: str) -> str:
    """The task token of the MCP server ``name`` (``[mcp.NAME]`` in the config file)."""
    return f"<mcp:{name}>"


MCP_SOURCE = "mcp"
"""``Specialist.source`` of an MCP server."""


def mcp_specialist(app: App) -> Specialist:
    """The specialist of a started MCP server's app (``apps.mcp.McpApp``): token
    ``<mcp:NAME>``, the app itself for any (empty) initial state."""

    def factory(state: dict[str, Any]) -> App:
        if state:
            raise ValueError(f"{app.name} is an MCP server: it takes no initial state, give {{}}")
        return app

    return Specialist(
        name=app.name,
        description=app.description,
        app_factory=factory,
        source=MCP_SOURCE,
        token=mcp_token(app.name),
    )


@dataclass(frozen=True)
class Specialist:
    """An app-specialised staff agent: which app, how to build it, and what to tell the model.

    ``app_factory`` receives the app's initial state from the scenario (``{}`` when the
    scenario gives none) and returns the live ``App``.
    """

    name: str
    """App name, lower case: ``messaging``, ``travel``, ``weather``."""
    description: str
    """One paragraph the steward reads when it recruits."""
    app_factory: AppFactory
    notes: str = ""
    """Practical tips for the staff agent (log in first, ids are integers...)."""
    model: str | None = None
    """Served model name for this specialist (a vLLM alias or LoRA adapter); default: the run's."""
    source: str = "builtin"
    """Where it came from: ``builtin``, ``entry-point:NAME``, ``python``."""
    token: str = field(default="")
    """Task token; defaults to ``<app:NAME>``."""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(
                f"specialist name {self.name!r} must be lower case letters, digits, _ or -"
            )
        if not self.token:
            object.__setattr__(self, "token", token_for(self.name))

    def describe(self) -> dict[str, Any]:
        """JSON-ready description (for ``steward agents --json``)."""
        return {
            "name": self.name,
            "task_token": self.token,
            "description": self.description,
            "model": self.model,
            "source": self.source,
        }


class Registry:
    """Task token -> specialist. Lookups by token or by app name."""

    def __init__(self, specialists: list[Specialist] | None = None) -> None:
        self._by_token: dict[str, Specialist] = {}
        self.errors: list[str] = []
        """Plugins that failed to load, one line each (shown by ``steward agents``)."""
        for spec in specialists or []:
            self.register(spec)

    def register(self, specialist: Specialist, *, replace: bool = False) -> None:
        """Add a specialist; a second one with the same token needs ``replace=True``."""
        if specialist.token in self._by_token and not replace:
            raise ValueError(f"task token {specialist.token} is already registered")
        self._by_token[specialist.token] = specialist

    def get(self, key: str) -> Specialist:
        """The specialist with this task token or app name."""
        spec = self._find(key)
        if spec is None:
            known = ", ".join(sorted(self._by_token)) or "none"
            raise UnknownAgentError(f"no specialist for {key!r}; registered: {known}")
        return spec

    def _find(self, key: str) -> Specialist | None:
        spec = self._by_token.get(key) or self._by_token.get(token_for(key))
        if spec is None:  # an app whose token is not <app:NAME> (an MCP server's <mcp:NAME>)
            spec = next((s for s in self._by_token.values() if s.name == key), None)
        return spec

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._find(key) is not None

    def extended(self, specialists: list[Specialist]) -> Registry:
        """A new registry with this one's specialists (and load errors) plus ``specialists``;
        this one is left as it is. A name already taken is a ``ValueError``."""
        taken = {s.name for s in self._by_token.values()}
        for spec in specialists:
            if spec.name in taken:
                raise ValueError(f"app name {spec.name!r} is already taken")
            taken.add(spec.name)
        registry = Registry([*self._by_token.values(), *specialists])
        registry.errors = list(self.errors)
        return registry

    def __iter__(self) -> Iterator[Specialist]:
        return iter(sorted(self._by_token.values(), key=lambda s: s.token))

    def __len__(self) -> int:
        return len(self._by_token)

    @property
    def tokens(self) -> list[str]:
        return sorted(self._by_token)

    @property
    def names(self) -> list[str]:
        return sorted(s.name for s in self._by_token.values())

    def load_entry_points(self) -> None:
        """Load every ``steward.agents`` entry point; failures are kept in ``errors``."""
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = ep.load()
                if callable(loaded) and not isinstance(loaded, Specialist):
                    loaded = loaded()
                items = loaded if isinstance(loaded, list | tuple) else [loaded]
                for item in items:
                    if not isinstance(item, Specialist):
                        raise TypeError(f"expected a Specialist, got {type(item).__name__}")
                    source = f"entry-point:{ep.name}"
                    self.register(
                        Specialist(
                            name=item.name,
                            description=item.description,
                            app_factory=item.app_factory,
                            notes=item.notes,
                            model=item.model,
                            source=source,
                            token=item.token,
                        ),
                        replace=True,
                    )
            except Exception as exc:  # a broken plugin must not break the others
                msg = f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}"
                log.warning(msg)
                self.errors.append(msg)


def builtin_specialists() -> list[Specialist]:
    """The eight stateful BFCL apps, each one specialist."""
    from apps import BFCL_APPS, make_bfcl_app

    def factory(name: str) -> AppFactory:
        return lambda state: make_bfcl_app(name, state)

    return [
        Specialist(
            name=name,
            description=info.description,
            app_factory=factory(name),
            notes=info.notes,
        )
        for name, info in BFCL_APPS.items()
    ]


_DEFAULT: Registry | None = None


def default_registry(*, refresh: bool = False) -> Registry:
    """Built-ins plus entry-point plugins, loaded lazily and once per process."""
    global _DEFAULT
    if _DEFAULT is None or refresh:
        registry = Registry(builtin_specialists())
        registry.load_entry_points()
        _DEFAULT = registry
    return _DEFAULT


def register(specialist: Specialist, *, replace: bool = False) -> None:
    """Register a specialist from Python, in the default registry."""
    default_registry().register(specialist, replace=replace)
