"""Helpers shared by the apps tests: BFCL ground truth parsing and state comparison."""

from __future__ import annotations

import ast
import inspect
import json
import random
from importlib.resources import files
from typing import Any


def bfcl_data(name: str) -> list[dict[str, Any]]:
    """Rows of a JSONL file under ``bfcl_eval/data`` (e.g. ``possible_answer/...``)."""
    text = files("bfcl_eval").joinpath("data", *name.split("/")).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def parse_call(text: str, method: Any = None) -> tuple[str, dict[str, Any]]:
    """``"f(1, b='x')"`` -> ``("f", {...})`` with literal arguments only (never ``eval``)."""
    node = ast.parse(text, mode="eval").body
    assert isinstance(node, ast.Call)
    func = node.func
    assert isinstance(func, ast.Name | ast.Attribute), text
    name = func.id if isinstance(func, ast.Name) else func.attr
    kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
    if node.args:
        assert method is not None, text
        names = [p for p in inspect.signature(method).parameters if p != "self"]
        for pname, value in zip(names, node.args, strict=False):
            kwargs[pname] = ast.literal_eval(value)
    return name, kwargs


def comparable(value: Any, _seen: set[int] | None = None) -> Any:
    """A detached copy of ``vars()`` data for ``==``: ``random.Random`` as its state, objects
    as (class name, their vars), a second visit of an object as a marker."""
    seen = set() if _seen is None else _seen
    if isinstance(value, random.Random):
        return ("Random", value.getstate())
    if isinstance(value, dict):
        return {k: comparable(v, seen) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(comparable(v, seen) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(comparable(v, seen) for v in value)
    if hasattr(value, "__dict__") and not isinstance(value, type):
        if id(value) in seen:
            return ("seen", type(value).__name__, getattr(value, "name", None))
        seen.add(id(value))
        return (type(value).__name__, comparable(vars(value), seen))
    return value
