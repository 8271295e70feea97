"""Convert BFCL tool documentation into JSON Schema and ``Tool`` objects.

BFCL describes a tool as ``{"name", "description", "parameters", "response"}`` where
``parameters`` looks like JSON Schema but uses Python-flavoured types: ``"dict"``, ``"float"``,
``"tuple"``, ``"any"``... and writes a Python ``None`` default as the string ``"None"``.
``to_json_schema`` maps that onto Draft 2020-12 JSON Schema; ``bfcl_tool`` builds a ``Tool``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from apps.base import Tool

# BFCL type name -> JSON Schema type; "any" (and unknown names) mean "no constraint".
TYPE_MAP: dict[str, str] = {
    "dict": "object",
    "object": "object",
    "float": "number",
    "number": "number",
    "double": "number",
    "integer": "integer",
    "int": "integer",
    "long": "integer",
    "string": "string",
    "str": "string",
    "char": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "tuple": "array",
    "set": "array",
    "null": "null",
    "none": "null",
}

_KEEP = ("description", "enum", "default", "format", "minimum", "maximum", "pattern")


def to_json_schema(spec: dict[str, Any], *, top_level: bool = False) -> dict[str, Any]:
    """Convert one BFCL parameter spec (recursively) into a JSON Schema.

    ``top_level`` marks a tool's whole argument object: it gets ``type: object``,
    ``properties``, ``required`` and ``additionalProperties: false`` (a tool rejects arguments
    its method does not take). A default of ``"None"`` becomes ``null`` and makes the type
    nullable, which is what the Python method means by it.
    """
    out: dict[str, Any] = {}
    raw_type = spec.get("type")
    json_type: str | list[str] | None = None
    if isinstance(raw_type, str):
        json_type = TYPE_MAP.get(raw_type.lower())
    elif isinstance(raw_type, list):
        mapped = [TYPE_MAP[t.lower()] for t in raw_type if t.lower() in TYPE_MAP]
        json_type = list(dict.fromkeys(mapped)) or None
    if top_level:
        json_type = "object"
    for key in _KEEP:
        if key in spec:
            out[key] = spec[key]
    if out.get("default") == "None" and json_type != "null":
        out["default"] = None
        if isinstance(json_type, str):
            json_type = [json_type, "null"]
        elif isinstance(json_type, list) and "null" not in json_type:
            json_type = [*json_type, "null"]
    if json_type is not None:
        out = {"type": json_type, **out}
    if "enum" in out and isinstance(json_type, list) and "null" in json_type:
        out["enum"] = [*out["enum"], None] if None not in out["enum"] else out["enum"]
    if _has(json_type, "object") or "properties" in spec:
        props = spec.get("properties") or {}
        out["properties"] = {name: to_json_schema(sub) for name, sub in props.items()}
        required = [r for r in spec.get("required", []) if r in props]
        if required:
            out["required"] = required
        if top_level:
            out["required"] = required
            out["additionalProperties"] = False
        elif isinstance(spec.get("additionalProperties"), dict):
            out["additionalProperties"] = to_json_schema(spec["additionalProperties"])
    if _has(json_type, "array") or "items" in spec:
        items = spec.get("items")
        if isinstance(items, dict):
            out["items"] = to_json_schema(items)
        elif isinstance(items, list):  # a tuple of fixed item types
            out["prefixItems"] = [to_json_schema(i) for i in items]
    return out


def _has(json_type: str | list[str] | None, name: str) -> bool:
    return json_type == name or (isinstance(json_type, list) and name in json_type)


def strip_app_prefix(description: str) -> str:
    """Drop BFCL's repeated ``"This tool belongs to ... Tool description: "`` prefix."""
    marker = "Tool description: "
    head, sep, tail = description.partition(marker)
    return tail.strip() if sep and head.startswith("This tool belongs to") else description.strip()


def bfcl_tool(doc: dict[str, Any]) -> Tool:
    """Build a ``Tool`` from one BFCL function doc entry."""
    params = doc.get("parameters") or {"type": "dict", "properties": {}}
    return Tool(
        name=doc["name"],
        description=strip_app_prefix(doc.get("description", "")),
        parameters=to_json_schema(params, top_level=True),
    )


def read_func_doc(path: str | Path) -> list[dict[str, Any]]:
    """Read a BFCL func doc file: one JSON object per (non-empty) line."""
    text = Path(path).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def bfcl_tools(docs: Iterable[dict[str, Any]]) -> list[Tool]:
    """Convert a sequence of BFCL function docs into ``Tool`` objects (same order)."""
    return [bfcl_tool(doc) for doc in docs]
