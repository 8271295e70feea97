"""Canned answers from a JSON-lines file: ``steward run --model script:FILE``.

One line per model call (a re-ask is a call), each line one JSON value:

- an object is the answer's JSON (``{"nodes": [...]}`` for a plan, ``{"tool": ...}`` for an
  action, ``{"success": true, ...}`` for a verdict);
- a string is the raw text of the answer (``"not json"`` to see a re-ask);
- an object with exactly the keys ``answer`` and ``role`` and/or ``purpose`` is an answer meant
  only for calls of that role (``steward`` or a task token like ``<app:posting>``) and purpose
  (``plan``, ``replan``, ``act``, ``evaluate``, ``answer``, ``summarize``); its ``answer`` is an
  object or a string as above.

Each request takes the first unused line meant for it (untagged lines are meant for any
request). Subtasks run at the same time, so their requests may come in either order: tag the
lines of parallel subtasks (``"role": "<app:travel>"``) and each subtask gets its own in
order. Blank lines are skipped. A run with memory on makes one more call after a verified
success, the steward's ``summarize`` (a script without it writes a plain summary instead).

The answers go through the same parse, validate and re-ask loop as a real server's
(:class:`ScriptModel` is a :class:`~modelclient.testing.ScriptedModel`-like test model); usage is
estimated from word counts. No server is contacted.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import RunError, UserError
from modelclient.base import ChatMessage, Completion
from modelclient.engine import CallTally, Reply, Tracer
from modelclient.testing import _TestModel

PREFIX = "script:"
"""``--model script:FILE`` names a script file instead of a served model."""

_TAGS = frozenset({"role", "purpose"})
_REQUEST: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar("script_request")


class ScriptError(UserError):
    """A script file that cannot be read or is not JSON lines of answers (the message names the
    file, the line and why)."""


class ScriptRanOutError(RunError):
    """The run asked for more answers than its script has (for that role and purpose). No
    agent retries on it and no fallback hides it: the run stops at once (status ``error``),
    except in the optional memory summary, which falls back to a plain one."""

    @staticmethod
    def said(message: str) -> bool:
        """Whether ``message`` (a recorded call's ``error``) is this error's."""
        return message.startswith("script ") and " ran out after " in message


@dataclass(frozen=True)
class ScriptLine:
    """One answer of a script."""

    answer: str | dict[str, Any]
    """The answer: JSON (a dict) or raw text."""
    role: str | None = None
    """Only for calls of this role, if given."""
    purpose: str | None = None
    """Only for calls of this purpose, if given."""
    line: int = 0
    """Its line number in the file (1-based)."""

    def fits(self, role: str, purpose: str) -> bool:
        """Whether a request of ``role`` and ``purpose`` may take this answer."""
        return (self.role is None or self.role == role) and (
            self.purpose is None or self.purpose == purpose
        )


def script_path(model: str | None) -> str | None:
    """``FILE`` of a ``script:FILE`` model name; ``None`` for any other name."""
    if model is None or not model.startswith(PREFIX):
        return None
    return model[len(PREFIX) :]


def parse_line(text: str, number: int, source: str = "script") -> ScriptLine:
    """One line of a script; ``ScriptError`` saying where and why if it is not an answer."""
    where = f"{source} line {number}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScriptError(
            f"{where}: not JSON ({exc.msg} at column {exc.colno}); each line is one JSON "
            'value: an object (the answer\'s JSON) or a string (raw text), e.g. {"tool": "finish"}'
        ) from None
    role = purpose = None
    if isinstance(value, dict) and len(value) > 1 and set(value) - _TAGS == {"answer"}:
        role, purpose = value.get("role"), value.get("purpose")
        for key, tag in (("role", role), ("purpose", purpose)):
            if tag is not None and not (isinstance(tag, str) and tag):
                raise ScriptError(f"{where}: {key!r} must be a non-empty string")
        value = value["answer"]
    if not isinstance(value, dict | str):
        raise ScriptError(
            f"{where}: {_kind(value)} is not an answer; give an object (the answer's JSON) "
            "or a string (the raw text)"
        )
    return ScriptLine(answer=value, role=role, purpose=purpose, line=number)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return {list: "an array", int: "a number", float: "a number"}.get(type(value), "a value")


def load_script(path: str | Path) -> list[ScriptLine]:
    """The answers of a script file (see the module docstring for the format).

    Raises ``ScriptError`` (a ``UserError``) when the file is missing, unreadable, not UTF-8,
    empty, or has a line that is not an answer."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScriptError(f"script file {file} not found") from None
    except UnicodeDecodeError:
        raise ScriptError(f"script file {file} is not UTF-8 text") from None
    except OSError as exc:
        raise ScriptError(f"cannot read script file {file}: {exc.strerror or exc}") from None
    lines = [
        parse_line(raw, number, str(file))
        for number, raw in enumerate(text.splitlines(), 1)
        if raw.strip()
    ]
    if not lines:
        raise ScriptError(f"script file {file} has no answers (one JSON value per line)")
    return lines


class ScriptModel(_TestModel):
    """Plays a script's answers: each request takes the first unused line meant for its role
    and purpose. Raises :class:`ScriptRanOutError` when none is left."""

    def __init__(
        self,
        lines: Sequence[ScriptLine],
        source: str = "script",
        *,
        max_reasks: int = 2,
        tracer: Tracer | None = None,
    ) -> None:
        name = f"{PREFIX}{source}"
        super().__init__(name, max_reasks=max_reasks, tracer=tracer, overhead_chars=0)
        self.lines = list(lines)
        self.source = source
        self._used = [False] * len(self.lines)

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> ScriptModel:
        """A model playing the script at ``path`` (``ScriptError`` if it is not a script)."""
        return cls(load_script(path), str(path), **kwargs)

    @property
    def used(self) -> int:
        """Answers given so far."""
        return sum(self._used)

    def for_role(self, role: str) -> ScriptModel:
        """This model, for every role (so it can stand in for a ``ModelPool``)."""
        return self

    async def aclose(self) -> None:
        """Nothing to close (a ``ModelPool`` stand-in)."""

    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        schema: dict[str, Any] | None = None,
        schema_name: str = "output",
        role: str = "",
        purpose: str = "",
        validate: bool = True,
    ) -> Completion:
        token = _REQUEST.set((role, purpose))
        try:
            return await super().complete(
                messages,
                schema=schema,
                schema_name=schema_name,
                role=role,
                purpose=purpose,
                validate=validate,
            )
        finally:
            _REQUEST.reset(token)

    async def _answer(
        self,
        messages: list[ChatMessage],
        schema: dict[str, Any] | None,
        schema_name: str,
        tally: CallTally,
    ) -> Reply:
        role, purpose = _REQUEST.get(("", ""))
        for index, line in enumerate(self.lines):
            if not self._used[index] and line.fits(role, purpose):
                self._used[index] = True
                self._start(messages, schema, schema_name, tally)
                return self._finish(line.answer, tally)
        left = len(self.lines) - self.used
        others = f"; {left} line(s) for other roles or purposes unused" if left else ""
        raise ScriptRanOutError(
            f"script {self.source} ran out after {self.used} answers "
            f"(no line left for the {role or 'unnamed'} {purpose or 'request'} call{others})"
        )
