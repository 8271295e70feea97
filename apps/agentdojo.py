"""AgentDojo's environments behind Steward's ``App`` protocol.

``agentdojo_apps("banking", env)`` splits one AgentDojo environment object into the apps of
``apps.agentdojo_catalog`` (bank, files, account), each with its own tools. Every tool runs
through AgentDojo's own runtime (``FunctionsRuntime.run_function`` on the shared environment):
arguments are validated by AgentDojo's own input models, nothing a model wrote is evaluated.
``agentdojo`` is imported lazily, on the first suite loaded; a missing package is a
``AgentDojoMissingError`` (a ``UserError``) that says how to install it.

State. An app's state is the environment fields its tools depend on (AgentDojo's ``Depends``):
``snapshot()`` dumps them to JSON, ``restore()`` validates them back into the same environment.
An app is ``restorable`` (a failed attempt is rolled back) only when no other app of the suite
depends on any of its fields: otherwise a restore could undo another app's work (the workspace
calendar emails its invitations through the inbox, the travel apps share one reservation).
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from apps.agentdojo_catalog import AGENTDOJO_APPS, AGENTDOJO_VERSION, SUITES, AgentDojoAppInfo
from apps.base import Tool
from apps.codec import to_jsonable
from core.errors import ToolError, UserError

INSTALL_HINT = "install it with `bash scripts/setup.sh` (see its AgentDojo step)"

READ_PREFIXES = ("get_", "search_", "read_", "list_", "check_")
NOT_READ_ONLY = frozenset({"get_unread_emails", "get_webpage"})
"""Tools named like readers that change state: reading unread mail marks it read; every page
fetched is logged in the web's request log."""


class AgentDojoMissingError(UserError):
    """The ``agentdojo`` package is not installed."""


class UnknownSuiteError(UserError):
    """A suite name AgentDojo does not have."""


@functools.cache
def load_suites() -> dict[str, Any]:
    """Suite name -> AgentDojo ``TaskSuite`` of ``AGENTDOJO_VERSION`` (imports agentdojo once)."""
    try:
        from agentdojo.task_suite.load_suites import get_suites
    except ImportError as exc:
        raise AgentDojoMissingError(f"AgentDojo is not installed ({exc}); {INSTALL_HINT}") from exc
    return dict(get_suites(AGENTDOJO_VERSION))


def load_suite(name: str) -> Any:
    """The AgentDojo ``TaskSuite`` called ``name``; ``UnknownSuiteError`` lists the others."""
    if name not in SUITES:
        raise UnknownSuiteError(f"unknown AgentDojo suite {name!r}; suites: {', '.join(SUITES)}")
    return load_suites()[name]


def default_environment(suite: str, injections: dict[str, str] | None = None) -> Any:
    """A fresh environment of ``suite`` with ``injections`` (vector -> text) filled in."""
    return load_suite(suite).load_and_inject_default_environment(dict(injections or {}))


def is_read_only(tool: str) -> bool:
    """Whether an AgentDojo tool only reads (see ``NOT_READ_ONLY``; checked by the tests)."""
    return tool.startswith(READ_PREFIXES) and tool not in NOT_READ_ONLY


def tool_of(function: Any) -> Tool:
    """A ``Tool`` from an AgentDojo ``Function``: its name, its own description and its input
    model's JSON Schema (references inlined, titles dropped, no other arguments allowed)."""
    schema = function.parameters.model_json_schema()
    defs = schema.pop("$defs", {})
    params = _clean(_inline(schema, defs))
    params["type"] = "object"
    params.setdefault("properties", {})
    params.setdefault("required", [])
    params["additionalProperties"] = False
    read_only = is_read_only(function.name)
    return Tool(
        name=function.name,
        description=function.description,
        parameters=params,
        read_only=read_only,
        idempotent=read_only,
    )


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    if isinstance(schema, list):
        return [_inline(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = _inline(copy.deepcopy(defs[ref.removeprefix("#/$defs/")]), defs)
        rest = {k: _inline(v, defs) for k, v in schema.items() if k != "$ref"}
        return {**target, **rest}
    return {key: _inline(value, defs) for key, value in schema.items()}


def _clean(schema: Any) -> Any:
    """Drop the ``title`` keywords pydantic writes (property names stay)."""
    if isinstance(schema, list):
        return [_clean(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _clean(sub) for name, sub in value.items()}
        else:
            out[key] = _clean(value)
    return out


def dependencies(function: Any, env_fields: list[str]) -> set[str]:
    """Environment fields an AgentDojo ``Function`` reads or writes (all of them when a
    dependency is a callable rather than a field name)."""
    found: set[str] = set()
    for dep in function.dependencies.values():
        name = dep.env_dependency
        found.update([name] if isinstance(name, str) else env_fields)
    return found


class AgentDojoApp:
    """Some of an AgentDojo suite's tools, run on the suite's shared environment object."""

    def __init__(
        self,
        suite: str,
        info: AgentDojoAppInfo,
        env: Any,
        functions: list[Any],
        *,
        restorable: bool = False,
    ) -> None:
        from agentdojo.functions_runtime import FunctionsRuntime

        self.suite = suite
        self.info = info
        self.name = info.name
        self.description = info.description
        self.notes = ""
        """No tips: AgentDojo is held out, so nothing learned from its tasks goes into prompts."""
        self.env = env
        """The suite's environment object, shared by all its apps (scored after the run)."""
        self.restorable = restorable
        self.runtime = FunctionsRuntime(functions)
        self._tools = [tool_of(f) for f in functions]
        names = list(type(env).model_fields)
        self.fields = sorted(set().union(*(dependencies(f, names) for f in functions)))
        """The environment fields this app's tools depend on: its snapshot."""
        self.last_call_error: str | None = None

    @property
    def tools(self) -> list[Tool]:
        """The app's tools (do not mutate them)."""
        return list(self._tools)

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        """Run ``tool`` through AgentDojo's runtime; its error message becomes a ``ToolError``."""
        if tool not in self.runtime.functions:
            names = ", ".join(t.name for t in self._tools)
            raise ToolError(f"unknown tool {tool!r} for app {self.name}; available: {names}")
        result, error = self.runtime.run_function(self.env, tool, dict(args))
        self.last_call_error = error
        if error is not None:
            raise ToolError(error)
        return to_jsonable(result)

    def snapshot(self) -> dict[str, Any]:
        """The app's fields of the environment, JSON-serialisable."""
        state = {f: getattr(self.env, f).model_dump(mode="json") for f in self.fields}
        return {"suite": self.suite, "app": self.name, "state": state}

    def restore(self, state: dict[str, Any]) -> None:
        """Put a ``snapshot()`` back into the shared environment; ``ValueError`` if not ours."""
        if (state.get("suite"), state.get("app")) != (self.suite, self.name):
            raise ValueError(
                f"not a snapshot of {self.suite}/{self.name}: "
                f"{state.get('suite')!r}/{state.get('app')!r}"
            )
        fields = type(self.env).model_fields
        for name, data in state.get("state", {}).items():
            kind = fields[name].annotation
            setattr(self.env, name, kind.model_validate(data))
        self.last_call_error = None


def agentdojo_apps(suite: str, env: Any, *, rollback: bool = True) -> dict[str, AgentDojoApp]:
    """The apps of ``suite`` over one environment object, in catalogue order.

    ``rollback=False`` makes every app non-restorable (a failed attempt's effects stay, as they
    would on real apps). ``ValueError`` if a tool of the suite belongs to no app or to two.
    """
    functions = {f.name: f for f in load_suite(suite).tools}
    infos = AGENTDOJO_APPS[suite]
    owners = [t for info in infos for t in info.tools]
    if sorted(owners) != sorted(functions):
        raise ValueError(f"the {suite} apps do not cover its tools exactly once")
    names = list(type(env).model_fields)
    deps = {
        info.name: set().union(*(dependencies(functions[t], names) for t in info.tools))
        for info in infos
    }
    apps: dict[str, AgentDojoApp] = {}
    for info in infos:
        others = set().union(*(d for name, d in deps.items() if name != info.name))
        apps[info.name] = AgentDojoApp(
            suite,
            info,
            env,
            [functions[t] for t in info.tools],
            restorable=rollback and not (deps[info.name] & others),
        )
    return apps


def holder_of(suite: str, field: str) -> str | None:
    """The app of ``suite`` whose own data is environment ``field`` (``None``: no app's)."""
    for info in AGENTDOJO_APPS[suite]:
        if field in info.holds:
            return info.name
    return None
