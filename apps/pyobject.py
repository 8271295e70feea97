"""Turn any Python object into an ``App``: its public methods become tools.

    class Weather:
        def forecast(self, city: str, days: int = 1) -> dict:
            '''Forecast for a city.

            Args:
                city: City name, e.g. "Paris".
                days: How many days ahead.
            '''
            ...

    app = PythonApp(Weather(), name="weather", description="Weather forecasts")
    app.call("forecast", {"city": "Paris"})

Each tool's JSON Schema comes from the method's signature and type hints (through a pydantic
model, so arguments are validated and coerced the same way) and its description from the
docstring: the first paragraph describes the tool, an ``Args:`` section (Google style) or
``:param name:`` lines describe the parameters.

Decorate a method with ``tool_hints(read_only=..., idempotent=..., sensitive=...)`` to say
how it behaves as a tool, and pass ``restorable=True`` when the object keeps all its effects in its
attributes (nothing leaves the process).

Limits: only synchronous methods are tools; ``*args``/``**kwargs`` are not exposed.
``snapshot()`` stores ``vars(obj)`` with ``apps.codec`` (JSON values, containers, tuples, sets,
datetimes and ``random.Random`` state; instances of ``state_classes`` by their ``__dict__``); any
other attribute value makes ``snapshot()`` raise ``TypeError``. Class attributes and objects
without a ``__dict__`` are not part of the snapshot.
"""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from apps.base import Tool
from apps.codec import decode_state, encode_state, to_jsonable
from core.errors import ToolError

_ARGS_HEADER = re.compile(r"^\s*(?:Args|Arguments|Parameters|Params)\s*:\s*$")
_SECTION_HEADER = re.compile(r"^\s*[A-Z][A-Za-z]*(?: [A-Za-z]+)?\s*:\s*$")
_ENTRY = re.compile(r"^\s*\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")
_SCHEMA_MAPS = ("properties", "$defs", "patternProperties")
_HINTS = "__steward_tool_hints__"


@dataclass(frozen=True)
class _Method:
    tool: Tool
    model: type[BaseModel]
    params: list[tuple[str, str, bool]]  # (parameter name, field name, positional-only)


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a docstring into (summary paragraph, {parameter: description})."""
    text = inspect.cleandoc(doc or "")
    summary = " ".join(text.split("\n\n", 1)[0].split()) if text else ""
    if summary.lower().startswith(("args:", "arguments:", "parameters:", ":param")):
        summary = ""
    params: dict[str, str] = {}
    for match in re.finditer(r"^:param\s+(?:\S+\s+)?(\w+):\s*(.*)$", text, re.MULTILINE):
        params[match.group(1)] = match.group(2).strip()
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if _ARGS_HEADER.match(ln)), None)
    if start is not None:
        header_indent = _indent(lines[start])
        body: list[str] = []
        for line in lines[start + 1 :]:
            if line.strip() and (_SECTION_HEADER.match(line) or _indent(line) < header_indent):
                break
            if line.strip():
                body.append(line)
        base = min((_indent(ln) for ln in body), default=0)
        current: str | None = None
        for line in body:
            entry = _ENTRY.match(line)
            if _indent(line) == base and entry:
                current = entry.group(1)
                params[current] = entry.group(2).strip()
            elif current is not None:
                params[current] = f"{params[current]} {line.strip()}".strip()
    return summary, params


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_strip_titles(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: _strip_titles(v) for k, v in value.items()}
        elif key in _SCHEMA_LISTS or isinstance(value, dict):
            out[key] = _strip_titles(value)
        else:
            out[key] = value
    return out


def _build_method(obj: Any, name: str, func: Callable[..., Any]) -> _Method:
    signature = inspect.signature(func)
    try:
        hints = get_type_hints(func)
    except Exception:  # unresolvable forward references: fall back to raw annotations
        hints = {}
    summary, docs = parse_docstring(inspect.getdoc(func))
    fields: dict[str, Any] = {}
    params: list[tuple[str, str, bool]] = []
    for index, param in enumerate(signature.parameters.values()):
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(param.name, param.annotation)
        if annotation is inspect.Parameter.empty:
            annotation = Any
        default = ... if param.default is inspect.Parameter.empty else param.default
        field_name = f"p{index}"
        fields[field_name] = (
            annotation,
            Field(default, alias=param.name, description=docs.get(param.name)),
        )
        params.append((param.name, field_name, param.kind == param.POSITIONAL_ONLY))
    model = create_model(
        f"{type(obj).__name__}_{name}",
        __config__=ConfigDict(extra="forbid", populate_by_name=False),
        **fields,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-JSON defaults are left out of the schema
        schema = _strip_titles(model.model_json_schema())
    schema.setdefault("properties", {})
    schema.setdefault("required", [])
    schema["additionalProperties"] = False
    hints = getattr(func, _HINTS, {})
    tool = Tool(name=name, description=summary, parameters=schema, **hints)
    return _Method(tool, model, params)


def tool_hints(
    *, read_only: bool = False, idempotent: bool = False, sensitive: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare how a method behaves as a tool (see ``apps.Tool``)::

    class Mailer:
        @tool_hints(read_only=True)
        def inbox(self) -> list[dict]: ...

        @tool_hints(idempotent=True)
        def mark_read(self, message_id: str) -> None: ...

        @tool_hints(sensitive=True)  # a person approves each call first
        def send(self, to: str, body: str) -> None: ...
    """

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        hints = {"read_only": read_only, "idempotent": idempotent or read_only}
        if sensitive:
            hints["sensitive"] = True
        setattr(func, _HINTS, hints)
        return func

    return mark


def _public_methods(obj: Any) -> list[str]:
    names: list[str] = []
    for klass in reversed(type(obj).__mro__[:-1]):
        for name in vars(klass):
            if name.startswith("_") or name in names:
                continue
            static = inspect.getattr_static(obj, name)
            if isinstance(static, staticmethod | classmethod) or inspect.isfunction(static):
                names.append(name)
    names.extend(
        n
        for n, v in vars(obj).items()
        if not n.startswith("_") and n not in names and inspect.isroutine(v)
    )
    return [n for n in names if not inspect.iscoroutinefunction(getattr(obj, n))]


class PythonApp:
    """An ``App`` over any Python object (see the module docs)."""

    def __init__(
        self,
        obj: Any,
        name: str,
        description: str = "",
        tools: list[str] | None = None,
        *,
        state_classes: Iterable[type] = (),
        restorable: bool = False,
    ) -> None:
        """``restorable=True`` says the object's attributes hold every effect of its methods
        (an in-memory object), so a failed attempt can be rolled back (see ``apps.App``)."""
        self.obj = obj
        self.restorable = restorable
        self.name = name
        self.description = description or parse_docstring(type(obj).__doc__)[0]
        self._state_classes = {cls.__name__: cls for cls in state_classes}
        available = _public_methods(obj)
        chosen = available if tools is None else list(tools)
        missing = [t for t in chosen if t not in available]
        if missing:
            raise ValueError(
                f"{type(obj).__name__} has no public synchronous method {missing[0]!r}; "
                f"available: {', '.join(available) or '(none)'}"
            )
        self._methods = {n: _build_method(obj, n, getattr(obj, n)) for n in chosen}

    @property
    def tools(self) -> list[Tool]:
        """One tool per exposed method."""
        return [m.tool for m in self._methods.values()]

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        """Validate ``args`` with the method's signature, call it, return a JSON-able result.

        ``ToolError`` for an unknown tool, invalid arguments or an exception in the method.
        """
        method = self._methods.get(tool)
        if method is None:
            raise ToolError(
                f"unknown tool {tool!r} for app {self.name}; available: {', '.join(self._methods)}"
            )
        try:
            values = method.model.model_validate(args)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'/'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors()[:3]
            )
            raise ToolError(f"invalid arguments for {tool}: {problems}") from None
        positional = [getattr(values, f) for _, f, pos in method.params if pos]
        keywords = {p: getattr(values, f) for p, f, pos in method.params if not pos}
        try:
            result = getattr(self.obj, tool)(*positional, **keywords)
        except ToolError:
            raise
        except Exception as exc:
            raise ToolError(str(exc) or type(exc).__name__) from exc
        return to_jsonable(result)

    def snapshot(self) -> dict[str, Any]:
        """``vars(obj)`` in the tagged JSON encoding (``TypeError`` for unsupported values)."""
        attrs = dict(vars(self.obj)) if hasattr(self.obj, "__dict__") else {}
        return {"app": self.name, "state": encode_state(attrs, self._state_classes)}

    def restore(self, state: dict[str, Any]) -> None:
        """Replace the object's attributes with those of a ``snapshot()``."""
        if not hasattr(self.obj, "__dict__"):
            return
        attrs = decode_state(state.get("state", {}), self._state_classes)
        vars(self.obj).clear()
        vars(self.obj).update(attrs)
