"""The JSON Schema a staff agent's action is decoded under: one variant per tool of its app
(the tool's name as a constant and its own argument schema) plus ``finish``, with length caps
so constrained decoding cannot ramble until the token limit; and the check of a call's
arguments against its tool's schema (the model's, and a person's edits of a proposed call)."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from apps.base import Tool

FINISH = "finish"
"""The action that ends an attempt (its ``result`` is the staff agent's result)."""


def action_schema(tools: list[Tool], *, max_chars: int | None = None) -> dict[str, Any]:
    """JSON Schema of one action: one variant per tool (its name as a constant and its own
    argument schema) plus ``finish``. Under constrained decoding the model can only name a tool
    of this app, with arguments of the right shape; string lengths are capped so a weak model
    cannot ramble until the token limit."""
    thought = {"type": "string", "maxLength": 60}
    variants: list[dict[str, Any]] = [
        {
            "type": "object",
            "properties": {
                "thought": thought,
                "tool": {"const": t.name},
                "arguments": (
                    bounded(t.parameters or {"type": "object"}, max_chars)
                    if max_chars is not None
                    else t.parameters or {"type": "object"}
                ),
            },
            "required": ["thought", "tool", "arguments"],
            "additionalProperties": False,
        }
        for t in tools
    ]
    variants.append(
        {
            "type": "object",
            "properties": {
                "thought": thought,
                "tool": {"const": FINISH},
                "result": {"type": "string", "maxLength": 400},
            },
            "required": ["thought", "tool", "result"],
            "additionalProperties": False,
        }
    )
    return {"anyOf": variants}


MAX_ITEMS = 20


def bounded(schema: Any, max_chars: int = 160) -> Any:
    """A copy of a tool's argument schema with every string and array given a length cap, so
    constrained decoding cannot run to the token limit inside one value. Values that fit the
    caps validate exactly as before."""
    if isinstance(schema, list):
        return [bounded(item, max_chars) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: bounded(value, max_chars) for key, value in schema.items()}
    declared = out.get("type")  # may also be a property that happens to be named "type"
    kinds = (
        {declared}
        if isinstance(declared, str)
        else set(declared)
        if isinstance(declared, list) and all(isinstance(k, str) for k in declared)
        else set()
    )
    if "string" in kinds and "maxLength" not in out and "enum" not in out:
        out["maxLength"] = max_chars
    if "array" in kinds and "maxItems" not in out:
        out["maxItems"] = MAX_ITEMS
    return out


def validator_for(tool: Tool) -> Draft202012Validator | None:
    """A validator of ``tool``'s arguments; ``None`` when its schema is not valid JSON Schema
    (the app then checks its arguments itself)."""
    try:
        return Draft202012Validator(tool.parameters)
    except SchemaError:
        return None


def argument_problems(validator: Draft202012Validator | None, arguments: dict[str, Any]) -> str:
    """What is wrong with ``arguments`` (up to three problems, ``path: message``), or ``""``."""
    if validator is None:
        return ""
    errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))
    return "; ".join(
        f"{'/'.join(map(str, e.path)) or 'arguments'}: {e.message}" for e in errors[:3]
    )
