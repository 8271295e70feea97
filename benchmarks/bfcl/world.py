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


LONG_CONTEXT_STRING_CHARS = 8000
"""Length a string argument may have in long_context tasks: their ground truth writes up to
6690 characters at once (a tweet or file of a long log), more than the staff agents' default
cap on string arguments."""


def with_string_cap(schema: Any, cap: int) -> Any:
    """A copy of a JSON Schema in which every string without a ``maxLength`` gets ``cap``
    (the staff agents keep an explicit ``maxLength`` instead of their own default)."""
    if isinstance(schema, list):
        return [with_string_cap(item, cap) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: with_string_cap(value, cap) for key, value in schema.items()}
    kind = out.get("type")
    kinds = {kind} if isinstance(kind, str) else set(kind) if isinstance(kind, list) else set()
    if "string" in kinds and "maxLength" not in out and "enum" not in out:
        out["maxLength"] = cap
    return out


class RecordingApp:
    """An ``App`` that forwards to a ``BfclApp`` and logs every call that ran.

    ``string_cap`` declares the longest string argument in the tools' schemas (see
    ``LONG_CONTEXT_STRING_CHARS``); ``None`` leaves the schemas as the app has them.
    """

    def __init__(self, inner: BfclApp, log_: CallLog, *, string_cap: int | None = None) -> None:
        self.inner = inner
        self.log = log_
        self.name = inner.name
        self.description = inner.description
        self.string_cap = string_cap
        self._capped: dict[str, Tool] = {}

    @property
    def tools(self) -> list[Tool]:
        if self.string_cap is None:
            return self.inner.tools
        out = []
        for tool in self.inner.tools:
            capped = self._capped.get(tool.name)
            if capped is None:
                params = with_string_cap(tool.parameters, self.string_cap)
                capped = self._capped[tool.name] = tool.model_copy(update={"parameters": params})
            out.append(capped)
        return out

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
        cap = LONG_CONTEXT_STRING_CHARS if task.long_context else None
        self.world = World(
            {n: RecordingApp(a, self.log, string_cap=cap) for n, a in self.apps.items()}
        )
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
