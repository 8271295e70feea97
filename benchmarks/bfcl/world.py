"""A task's world: its BFCL apps, built once from ``initial_config`` and shared by every turn,
behind wrappers that record each call that reached an app (what the checker must replay).

A call is recorded when the app's method ran: it returned, returned an error result
(``ToolResultError``) or raised inside the tool (a ``ToolError`` caused by the exception).
Calls the app refused before running (unknown or hidden tool, arguments invalid under the
schema) are not recorded: they changed nothing, so the checker must not see them either.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Any

from apps import BFCL_CLASS_TO_APP, BfclApp, Tool, ToolResultError, World, make_bfcl_app
from benchmarks.bfcl.calls import Call
from benchmarks.bfcl.data import BfclTask
from core.errors import ToolError

log = logging.getLogger("steward.benchmarks")


@dataclass(frozen=True)
class LoggedCall:
    """A call that ran on an app."""

    app: str
    call: Call


class CallLog:
    """Calls in the order they ran, across every app of a task."""

    def __init__(self) -> None:
        self.calls: list[LoggedCall] = []

    def mark(self) -> int:
        """A position to read from later (``since``)."""
        return len(self.calls)

    def since(self, mark: int) -> list[LoggedCall]:
        return list(self.calls[mark:])


class RecordingApp:
    """An ``App`` that forwards to a ``BfclApp`` and logs every call that ran."""

    def __init__(self, inner: BfclApp, log_: CallLog) -> None:
        self.inner = inner
        self.log = log_
        self.name = inner.name
        self.description = inner.description

    @property
    def tools(self) -> list[Tool]:
        return self.inner.tools

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        try:
            result = self.inner.call(tool, args)
        except ToolResultError:
            self._record(tool, args)
            raise
        except ToolError as exc:
            if exc.__cause__ is not None:  # raised inside the tool: it ran
                self._record(tool, args)
            raise
        self._record(tool, args)
        return result

    def _record(self, tool: str, args: dict[str, Any]) -> None:
        self.log.calls.append(LoggedCall(self.name, Call(tool, copy.deepcopy(args))))

    def snapshot(self) -> dict[str, Any]:
        return self.inner.snapshot()

    def restore(self, state: dict[str, Any]) -> None:
        self.inner.restore(state)


class TaskWorld:
    """The apps of one task, the call log, and which functions are visible at each turn.

    ``excluded_function`` is hidden for the whole task; ``missed_function`` entries are hidden
    until their turn (or shown from the start with ``reveal_all``, for compound mode).
    """

    def __init__(self, task: BfclTask, *, reveal_all: bool = False) -> None:
        self.task = task
        self.log = CallLog()
        self.apps: dict[str, BfclApp] = {}
        for class_name in task.involved_classes:
            name = BFCL_CLASS_TO_APP[class_name]
            self.apps[name] = make_bfcl_app(
                name, task.initial_config.get(class_name, {}), long_context=task.long_context
            )
        self.world = World({n: RecordingApp(a, self.log) for n, a in self.apps.items()})
        self._excluded = set(task.excluded_function)
        self._held = {n for names in task.missed_function.values() for n in names}
        if reveal_all:
            self._held.clear()
        self._apply()

    def begin_turn(self, index: int) -> list[str]:
        """Show the functions that come back at turn ``index``; returns their names."""
        back = [n for n in self.task.missed_function.get(index, []) if n in self._held]
        self._held.difference_update(back)
        self._apply()
        if back:
            log.debug("%s turn %d: functions back: %s", self.task.id, index, back)
        return back

    def _apply(self) -> None:
        hidden = self._excluded | self._held
        for app in self.apps.values():
            app.set_hidden_tools(hidden)
