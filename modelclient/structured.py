"""Pure helpers for structured output: pull JSON out of model text, validate it, describe schemas.

Nothing here evaluates model text: repairs are done by a small string-aware scanner.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

SCHEMA_MARKER = "valid under this JSON Schema:"
"""Text that precedes the schema in :func:`schema_prompt` (the stub server looks for it)."""

_FENCE = re.compile(r"```[ \t]*(?:json5?|JSON)?[ \t]*\r?\n?(.*?)```", re.DOTALL)
_LITERALS = {"True": "true", "False": "false", "None": "null"}
_MAX_STARTS = 32
_MAX_ERRORS = 8
_MAX_MESSAGE = 300
_VALIDATORS: dict[str, Validator] = {}
_MAX_CACHED = 512


class JSONExtractError(ValueError):
    """No JSON value could be read from the text; the message says why."""


def extract_json(text: str) -> Any:
    """Return the first JSON value found in ``text``.

    Tries, in order: the whole text; the contents of code fences; the first balanced ``{...}``
    or ``[...]`` in the text. Each candidate is read as strict JSON first, then after repairs
    (comments, trailing commas, Python literals ``True``/``False``/``None``), then, as a last
    resort, with single-quoted strings turned into double-quoted ones. Raises
    :class:`JSONExtractError` when nothing parses.
    """
    stripped = text.strip()
    if not stripped:
        raise JSONExtractError("the answer is empty; expected a JSON object")
    candidates = [stripped, *(m.group(1).strip() for m in _FENCE.finditer(text))]
    errors: list[str] = []
    for candidate in candidates:
        ok, value, error = _parse_with_repairs(candidate)
        if ok:
            return value
        errors.append(error)
    starts = [i for i, ch in enumerate(text) if ch in "{["][:_MAX_STARTS]
    if not starts:
        raise JSONExtractError("no JSON object found in the answer")
    bracket_error: str | None = None
    for start in starts:
        for quotes in ('"', "\"'"):
            end = _balanced_end(text, start, quotes)
            if end is None:
                continue
            ok, value, error = _parse_with_repairs(text[start:end])
            if ok:
                return value
            bracket_error = bracket_error or error
    if bracket_error is None:
        raise JSONExtractError("the JSON in the answer is incomplete (unbalanced brackets)")
    raise JSONExtractError(f"the answer is not valid JSON ({bracket_error})")


def _parse_with_repairs(candidate: str) -> tuple[bool, Any, str]:
    try:
        return True, json.loads(candidate, strict=False), ""
    except json.JSONDecodeError as exc:
        error = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    for single_quotes in (False, True):
        repaired = _repair(candidate, single_quotes=single_quotes)
        if repaired == candidate:
            continue
        try:
            return True, json.loads(repaired, strict=False), ""
        except json.JSONDecodeError:
            pass
    return False, None, error


def _balanced_end(text: str, start: int, quotes: str) -> int | None:
    """Index just past the bracket closing the one at ``start``, skipping quoted strings."""
    depth = 0
    quote: str | None = None
    i = start
    n = len(text)
    while i < n:
        ch = text[i]
        if quote is not None:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in quotes:
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _repair(text: str, *, single_quotes: bool) -> str:
    """Rewrite near-JSON into JSON outside of string literals; never evaluates anything."""
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"' or (single_quotes and ch == "'"):
            end, literal = _read_string(text, i)
            out.append(literal)
            i = end
        elif text.startswith("//", i):
            newline = text.find("\n", i)
            i = n if newline < 0 else newline
        elif text.startswith("/*", i):
            close = text.find("*/", i + 2)
            i = n if close < 0 else close + 2
        elif ch == ",":
            j = i + 1
            while j < n and text[j].isspace():
                j += 1
            if j >= n or text[j] not in "}]":
                out.append(ch)
            i += 1
        elif ch.isalpha() or ch == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            out.append(_LITERALS.get(word, word))
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _read_string(text: str, start: int) -> tuple[int, str]:
    """Read a quoted string at ``start``; return (end index, the string as a JSON literal)."""
    quote = text[start]
    i = start + 1
    chars: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if quote == "'" and nxt == "'":
                chars.append("'")
            elif quote == "'" and nxt == '"':
                chars.append('\\"')
            else:
                chars.append(ch + nxt)
            i += 2
            continue
        if ch == quote:
            return i + 1, '"' + "".join(chars) + '"'
        chars.append('\\"' if ch == '"' else ch)
        i += 1
    return i, quote + "".join(chars)


def _validator(schema: dict[str, Any]) -> Validator:
    key = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    cached = _VALIDATORS.get(key)
    if cached is not None:
        return cached
    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"invalid JSON Schema: {exc.message}") from None
    validator: Validator = cls(schema)
    if len(_VALIDATORS) >= _MAX_CACHED:
        _VALIDATORS.clear()
    _VALIDATORS[key] = validator
    return validator


def _path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def validate(schema: dict[str, Any], data: Any) -> list[str]:
    """Human-readable reasons why ``data`` is invalid under ``schema``; empty if valid.

    Validators are compiled once per distinct schema (Draft 2020-12 unless ``$schema`` says
    otherwise). Raises ``ValueError`` if the schema itself is invalid.
    """
    errors = sorted(_validator(schema).iter_errors(data), key=lambda e: list(map(str, e.path)))
    out = []
    for error in errors[:_MAX_ERRORS]:
        message = error.message
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        out.append(f"at {_path(error.absolute_path)}: {message}")
    if len(errors) > _MAX_ERRORS:
        out.append(f"... and {len(errors) - _MAX_ERRORS} more errors")
    return out


def schema_prompt(schema: dict[str, Any]) -> str:
    """Instructions that ask for one JSON value valid under ``schema`` (for prompts)."""
    dumped = json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
    return (
        "Reply with one JSON object and nothing else: no prose, no code fences. "
        f"It must be {SCHEMA_MARKER}\n{dumped}"
    )


def schema_in_prompt(text: str) -> dict[str, Any] | None:
    """The schema that :func:`schema_prompt` put into ``text`` (the last one), if any."""
    at = text.rfind(SCHEMA_MARKER)
    if at < 0:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text[at + len(SCHEMA_MARKER) :].lstrip())
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def reask_prompt(problem: str, *, truncated: bool = False) -> str:
    """The user message sent after an invalid answer; states the exact problem."""
    if truncated:
        problem += " (your answer was cut off at the token limit: answer more briefly)"
    return (
        f"Your previous answer was rejected: {problem}. "
        "Reply again with only the corrected JSON object."
    )
