"""BFCL call strings: parse the ground truth safely, format recorded calls for the checker.

Ground truth is written as Python call expressions (``"cd(folder='document')"``,
``"sort('final_report.pdf')"``). ``parse_call`` reads them with ``ast`` only: the callee must be
a bare name and every argument a literal (``ast.literal_eval``); nothing is ever evaluated.
Positional arguments are mapped to parameter names in signature order.

``format_call`` goes the other way for the calls our agents made: the checker ``eval``s these
strings, so they are built only from a known tool name and JSON-like values, and each one is
parsed back and compared before it is returned.
"""

from __future__ import annotations

import ast
import keyword
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class CallParseError(ValueError):
    """A call string that is not ``name(literal, ..., key=literal)`` or does not fit its tool."""


class CallFormatError(ValueError):
    """A tool name or argument value that cannot be written as a safe call string."""


@dataclass(frozen=True)
class Call:
    """One tool call: the tool's name and its keyword arguments."""

    tool: str
    args: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """The call as the checker reads it (see ``format_call``)."""
        return format_call(self.tool, self.args)


def parse_call(text: str, params: Mapping[str, Sequence[str]] | None = None) -> Call:
    """Parse one call string without evaluating it.

    ``params`` maps tool name -> parameter names in signature order; with it, positional
    arguments get their names and an unknown tool or argument is an error. Without it,
    positional arguments are an error.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise CallParseError(f"not a call expression: {text!r} ({exc.msg})") from None
    node = tree.body
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise CallParseError(f"not a call of a plain tool name: {text!r}")
    tool = node.func.id
    names: Sequence[str] | None = None
    if params is not None:
        if tool not in params:
            raise CallParseError(f"unknown tool {tool!r} in {text!r}")
        names = params[tool]
    args: dict[str, Any] = {}
    for index, arg in enumerate(node.args):
        if isinstance(arg, ast.Starred):
            raise CallParseError(f"*args are not allowed: {text!r}")
        if names is None:
            raise CallParseError(f"positional argument without a tool signature: {text!r}")
        if index >= len(names):
            raise CallParseError(f"{tool} takes {len(names)} argument(s); {text!r} gives more")
        args[names[index]] = _literal(arg, text)
    for kw in node.keywords:
        if kw.arg is None:
            raise CallParseError(f"**kwargs are not allowed: {text!r}")
        if kw.arg in args:
            raise CallParseError(f"argument {kw.arg!r} given twice in {text!r}")
        if names is not None and kw.arg not in names:
            raise CallParseError(f"{tool} has no argument {kw.arg!r} ({text!r})")
        args[kw.arg] = _literal(kw.value, text)
    return Call(tool, args)


def _literal(node: ast.expr, text: str) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise CallParseError(
            f"argument {ast.unparse(node)!r} is not a literal in {text!r}"
        ) from None
    try:
        return _plain(value)
    except CallFormatError as exc:
        raise CallParseError(f"{exc} in {text!r}") from None


def _plain(value: Any) -> Any:
    """``value`` as JSON-like data (tuples become lists); ``CallFormatError`` if impossible."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CallFormatError(f"non-finite number {value!r}")
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CallFormatError(f"dict key {key!r} is not a string")
            out[key] = _plain(item)
        return out
    raise CallFormatError(f"value of type {type(value).__name__} is not JSON-like")


def _name(text: str, what: str) -> str:
    if not isinstance(text, str) or not text.isidentifier() or keyword.iskeyword(text):
        raise CallFormatError(f"{what} {text!r} is not a plain identifier")
    return text


def format_call(tool: str, args: Mapping[str, Any]) -> str:
    """``tool(key=value, ...)`` with ``repr`` of JSON-like values; parsed back to check.

    Raises ``CallFormatError`` for a tool or argument name that is not an identifier and for
    values that are not JSON-like (non-finite floats, sets, objects...).
    """
    _name(tool, "tool name")
    clean = {_name(k, "argument name"): _plain(v) for k, v in args.items()}
    text = f"{tool}({', '.join(f'{k}={v!r}' for k, v in clean.items())})"
    try:
        back = parse_call(text)
    except CallParseError as exc:  # pragma: no cover - _plain admits only literals
        raise CallFormatError(str(exc)) from None
    if back.tool != tool or back.args != clean:  # pragma: no cover - defensive
        raise CallFormatError(f"call {text!r} does not read back as written")
    return text
