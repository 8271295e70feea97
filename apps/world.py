"""The world: the set of app instances a run acts on."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from apps.base import App
from apps.scenario import Scenario
from core.errors import UnknownAgentError

logger = logging.getLogger("steward.apps")

AppFactory = Callable[[dict[str, Any]], App]
"""Builds an app from its initial state."""


class World:
    """App name -> ``App``, with whole-world snapshots and one ``asyncio.Lock`` per app.

    Read it like a mapping (``world["travel"]``, ``"travel" in world``, ``for name in world``,
    ``world.apps`` for a real read-only ``Mapping``). Looking up an unknown name raises
    ``UnknownAgentError`` listing the names it has.
    """

    def __init__(self, apps: Mapping[str, App] | None = None) -> None:
        self._apps: dict[str, App] = dict(apps or {})
        # a lock belongs to the event loop it was first awaited in: one set per loop, so a
        # world (and the orchestrator holding it) can run again under another ``asyncio.run``
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]]
        self._locks = weakref.WeakKeyDictionary()

    @classmethod
    def build(cls, scenario: Scenario, factories: Mapping[str, AppFactory]) -> World:
        """Build every app the scenario names with ``factories[name](state)``."""
        apps: dict[str, App] = {}
        for name, state in scenario.apps.items():
            factory = factories.get(name)
            if factory is None:
                raise UnknownAgentError(
                    f"scenario {scenario.name!r} names app {name!r}, which no factory builds; "
                    f"known apps: {', '.join(sorted(factories))}"
                )
            apps[name] = factory(state)
        logger.debug("built world %s with apps %s", scenario.name, ", ".join(apps))
        return cls(apps)

    @property
    def apps(self) -> Mapping[str, App]:
        """A read-only view of name -> app."""
        return MappingProxyType(self._apps)

    @property
    def names(self) -> list[str]:
        """App names, in build order."""
        return list(self._apps)

    def add(self, app: App, name: str | None = None) -> None:
        """Add (or replace) an app under ``name`` (default ``app.name``)."""
        self._apps[name or app.name] = app

    def get(self, name: str) -> App:
        """The app called ``name``; ``UnknownAgentError`` (listing the names) if there is none."""
        app = self._apps.get(name)
        if app is None:
            raise UnknownAgentError(
                f"unknown app {name!r}; this world has: {', '.join(self._apps) or '(no apps)'}"
            )
        return app

    def __getitem__(self, name: str) -> App:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._apps

    def __iter__(self) -> Iterator[str]:
        return iter(self._apps)

    def __len__(self) -> int:
        return len(self._apps)

    def items(self) -> list[tuple[str, App]]:
        """(name, app) pairs."""
        return list(self._apps.items())

    def lock(self, name: str) -> asyncio.Lock:
        """The lock serialising actions on app ``name`` in the running event loop."""
        self.get(name)
        locks = self._locks.setdefault(asyncio.get_running_loop(), {})
        lock = locks.get(name)
        if lock is None:
            lock = locks[name] = asyncio.Lock()
        return lock

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every app's ``snapshot()``, by name."""
        return {name: app.snapshot() for name, app in self._apps.items()}

    def restore(self, states: Mapping[str, dict[str, Any]]) -> None:
        """Restore the apps named in ``states``; an unknown name raises ``UnknownAgentError``."""
        for name in states:
            self.get(name)
        for name, state in states.items():
            self._apps[name].restore(state)
