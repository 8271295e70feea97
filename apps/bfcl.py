"""The eight stateful BFCL apps behind Steward's ``App`` protocol.

``make_bfcl_app("travel", state)`` builds a ``BfclApp`` around a fresh ``TravelAPI`` loaded
with ``state`` (BFCL's ``initial_config`` format for that class). ``bfcl_eval`` is imported
lazily, on the first app built.

Error results. BFCL tools usually report failure by returning ``{"error": "..."}`` rather than
raising. ``BfclApp.call`` treats a result as an *error result* when it is a dict whose
``"error"`` value is set and whose other values are all ``False``/``None`` (e.g.
``{"booking_status": False, "error": "Insufficient funds"}``), or a one-item list holding such a
dict or an ``"Error: ..."`` string. For an error result it sets ``last_call_error`` and raises
``ToolResultError`` (a ``core.ToolError``; its text is the error message and ``.result`` keeps
the raw observation), so the staff agent sees a tool error. Build the app with
``raise_error_results=False`` to get the raw dict back instead (``last_call_error`` is still
set). Exceptions raised inside a tool become ``ToolError`` with the exception's text.

Snapshots. ``snapshot()`` returns ``{"app", "class", "hidden", "state"}`` where ``state`` is the
instance's whole ``__dict__`` (public and private attributes) in the tagged JSON encoding of
``apps.codec``: int dict keys, sets, datetimes, the exact ``random.Random`` state and the file
system's ``Directory``/``File`` tree (with shared nodes and parent links) all come back equal.
"""

from __future__ import annotations

import contextlib
import copy
import decimal
import functools
import importlib
import inspect
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from apps.base import App, Tool
from apps.bfcl_catalog import BFCL_APPS, BFCL_MODULE_PREFIX, BfclAppInfo
from apps.codec import decode_state, encode_state, to_jsonable
from apps.schema import bfcl_tools, read_func_doc
from core.errors import ToolError, UnknownAgentError

if TYPE_CHECKING:  # jsonschema is imported on the first app built, like bfcl_eval
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

logger = logging.getLogger("steward.apps")


class ToolResultError(ToolError):
    """A BFCL tool returned an error result; ``result`` is the raw (JSON-able) observation."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class _Spec:
    """Everything about one BFCL app class that does not change between instances."""

    info: BfclAppInfo
    cls: type
    tools: tuple[Tool, ...]
    validators: dict[str, Draft202012Validator]
    mutable_defaults: dict[str, dict[str, Any]]
    state_classes: dict[str, type]


def _unknown_app(name: str) -> UnknownAgentError:
    return UnknownAgentError(f"unknown app {name!r}; known apps: {', '.join(BFCL_APPS)}")


@functools.cache
def _spec(name: str) -> _Spec:
    from jsonschema import Draft202012Validator

    info = BFCL_APPS.get(name)
    if info is None:
        raise _unknown_app(name)
    module = importlib.import_module(f"{BFCL_MODULE_PREFIX}.{info.module}")
    cls = getattr(module, info.class_name)
    doc_path = files("bfcl_eval").joinpath("data", "multi_turn_func_doc", info.func_doc)
    tools = tuple(
        _widen(t, info.widen_types.get(t.name, {})).model_copy(
            update={"sensitive": t.name in info.sensitive}
        )
        for t in bfcl_tools(read_func_doc(str(doc_path)))
    )
    mutable: dict[str, dict[str, Any]] = {}
    for tool in tools:
        params = inspect.signature(getattr(cls, tool.name)).parameters.values()
        mutable[tool.name] = {
            p.name: p.default for p in params if isinstance(p.default, list | dict | set)
        }
    state_classes = {
        obj.__name__: obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and obj.__module__ == module.__name__ and obj is not cls
    }
    return _Spec(
        info=info,
        cls=cls,
        tools=tools,
        validators={t.name: Draft202012Validator(t.parameters) for t in tools},
        mutable_defaults=mutable,
        state_classes=state_classes,
    )


def _widen(tool: Tool, types: dict[str, list[str]]) -> Tool:
    if not types:
        return tool
    schema = copy.deepcopy(tool.parameters)
    for arg, extra in types.items():
        prop = schema["properties"][arg]
        current = prop.get("type", [])
        current = [current] if isinstance(current, str) else list(current)
        prop["type"] = list(dict.fromkeys([*current, *extra]))
    return tool.model_copy(update={"parameters": schema})


def error_text(result: Any) -> str | None:
    """The error message if ``result`` is a BFCL error result (see module docs), else None."""
    if isinstance(result, list) and len(result) == 1:
        item = result[0]
        if isinstance(item, str) and item.lower().startswith("error"):
            return item
        result = item
    if not isinstance(result, dict) or "error" not in result:
        return None
    error = result["error"]
    if error is None or error is False or error == "":
        return None
    others = [v for k, v in result.items() if k != "error"]
    if all(v is None or v is False for v in others):
        return str(error)
    return None


@contextlib.contextmanager
def _numeric_guard() -> Iterator[None]:
    """Keep tools from changing process-wide decimal / mpmath precision."""
    mp = sys.modules.get("mpmath")
    dps = mp.mp.dps if mp is not None else None
    try:
        with decimal.localcontext():
            yield
    finally:
        if mp is not None and dps is not None:
            mp.mp.dps = dps


def _describe(error: ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "arguments"
    return f"{where}: {error.message}"


class BfclApp:
    """A BFCL app instance behind the ``App`` protocol (see the module docs for the rules)."""

    restorable = True
    """A simulated app: its snapshot holds every effect, so a failed attempt is rolled back."""

    def __init__(self, name: str, instance: Any, *, raise_error_results: bool = True) -> None:
        self._spec = _spec(name)
        self.name = name
        self.description = self._spec.info.description
        self.instance = instance
        """The raw BFCL object (for the benchmark harness and its checker)."""
        self.raise_error_results = raise_error_results
        self.last_call_error: str | None = None
        """The error of the last call (error result or exception), or None if it succeeded."""
        self._hidden: frozenset[str] = frozenset()

    @property
    def info(self) -> BfclAppInfo:
        """Catalogue entry: class name, description, notes."""
        return self._spec.info

    @property
    def notes(self) -> str:
        """Practical tips for an agent driving this app, one ``- `` bullet per line."""
        return self._spec.info.notes

    @property
    def tools(self) -> list[Tool]:
        """The tools a model may call (hidden tools left out). Do not mutate them."""
        return [t for t in self._spec.tools if t.name not in self._hidden]

    @property
    def all_tools(self) -> list[Tool]:
        """Every tool of the app, hidden or not."""
        return list(self._spec.tools)

    @property
    def hidden_tools(self) -> frozenset[str]:
        """Names of the tools currently withheld."""
        return self._hidden

    def set_hidden_tools(self, names: Iterable[str]) -> None:
        """Withhold these tools (replacing the previous set); names of other apps are ignored."""
        known = {t.name for t in self._spec.tools}
        self._hidden = frozenset(n for n in names if n in known)

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        """Validate ``args`` against the tool's schema, run the method, return a JSON-able result.

        Raises ``ToolError`` for an unknown or hidden tool, invalid arguments or an exception in
        the tool, and ``ToolResultError`` for an error result (unless ``raise_error_results`` is
        off).
        """
        validator = self._spec.validators.get(tool)
        if validator is None or tool in self._hidden:
            names = ", ".join(t.name for t in self.tools)
            raise ToolError(f"unknown tool {tool!r} for app {self.name}; available: {names}")
        if not isinstance(args, dict):
            raise ToolError(f"arguments of {tool} must be a JSON object")
        errors = sorted(validator.iter_errors(args), key=lambda e: list(e.absolute_path))
        if errors:
            detail = "; ".join(_describe(e) for e in errors[:3])
            raise ToolError(f"invalid arguments for {tool}: {detail}")
        kwargs = copy.deepcopy(args)
        for key, default in self._spec.mutable_defaults[tool].items():
            kwargs.setdefault(key, copy.deepcopy(default))
        logger.debug("%s.%s(%s)", self.name, tool, kwargs)
        with _numeric_guard():
            try:
                result = getattr(self.instance, tool)(**kwargs)
            except Exception as exc:
                message = str(exc) or type(exc).__name__
                self.last_call_error = message
                raise ToolError(message) from exc
            observation = to_jsonable(result)
        self.last_call_error = error_text(observation)
        if self.last_call_error is not None and self.raise_error_results:
            raise ToolResultError(self.last_call_error, observation)
        return observation

    def snapshot(self) -> dict[str, Any]:
        """The instance's whole state (see module docs), JSON-serialisable."""
        return {
            "app": self.name,
            "class": self._spec.info.class_name,
            "hidden": sorted(self._hidden),
            "state": encode_state(dict(vars(self.instance)), self._spec.state_classes),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Put a ``snapshot()`` back into the same instance; ``ValueError`` if it is not ours."""
        if state.get("class") != self._spec.info.class_name or "state" not in state:
            raise ValueError(
                f"not a snapshot of {self._spec.info.class_name} (app {self.name}): "
                f"class={state.get('class')!r}"
            )
        attrs = decode_state(state["state"], self._spec.state_classes)
        vars(self.instance).clear()
        vars(self.instance).update(attrs)
        self.set_hidden_tools(state.get("hidden", []))
        self.last_call_error = None


def make_bfcl_app(
    name: str,
    state: dict[str, Any] | None = None,
    *,
    long_context: bool = False,
    raise_error_results: bool = True,
) -> BfclApp:
    """Build app ``name`` (e.g. ``travel``) loaded with ``state`` in BFCL's initial_config format.

    ``state`` is copied, never aliased. Raises ``UnknownAgentError`` for an unknown name.
    """
    spec = _spec(name)
    instance = spec.cls()
    if hasattr(instance, "_load_scenario"):
        instance._load_scenario(copy.deepcopy(state or {}), long_context=long_context)
        # Break aliasing with module-level constants (BFCL's long-context extensions are
        # inserted by reference, and tools mutate them).
        fresh = copy.deepcopy(vars(instance))
        vars(instance).clear()
        vars(instance).update(fresh)
    return BfclApp(name, instance, raise_error_results=raise_error_results)


def bfcl_factories(
    *, long_context: bool = False, raise_error_results: bool = True
) -> dict[str, Callable[[dict[str, Any]], App]]:
    """App name -> factory(state) for every BFCL app, ready for ``World.build``."""

    def factory(name: str) -> Callable[[dict[str, Any]], App]:
        def build(state: dict[str, Any]) -> App:
            return make_bfcl_app(
                name, state, long_context=long_context, raise_error_results=raise_error_results
            )

        return build

    return {name: factory(name) for name in BFCL_APPS}
