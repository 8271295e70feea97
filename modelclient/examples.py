"""Build a small example instance of a JSON Schema (for stub servers and test models)."""

from __future__ import annotations

from typing import Any

_MAX_DEPTH = 24


def example_instance(schema: dict[str, Any], *, root: dict[str, Any] | None = None) -> Any:
    """A small value valid under common schemas: first enum value, every listed property,
    ``minItems`` items, numbers at their lower bound, local ``$ref``s followed.

    Not a full generator: ``pattern``, ``format``, ``not`` and ``uniqueItems`` are ignored.
    """
    return _example(schema, root if root is not None else schema, 0)


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    node: Any = root
    for part in ref.removeprefix("#").strip("/").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node if isinstance(node, dict) else {}


def _example(schema: Any, root: dict[str, Any], depth: int) -> Any:
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        return _example(_resolve(ref, root), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return _example(schema[key][0], root, depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(part)
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return _example({**merged, **rest}, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else None
    if kind == "object":
        properties = schema.get("properties", {})
        required = [k for k in schema.get("required", []) if k not in properties]
        out = {k: _example(v, root, depth + 1) for k, v in properties.items()}
        out.update({k: "example" for k in required})
        return out
    if kind == "array":
        count = int(schema.get("minItems", 0))
        prefix = schema.get("prefixItems", [])
        items = [_example(p, root, depth + 1) for p in prefix[:count]]
        items += [_example(schema.get("items", {}), root, depth + 1)] * (count - len(items))
        return items
    if kind == "string":
        text = "example"
        low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
        text = text.ljust(low, "x")
        return text[: int(high)] if high is not None else text
    if kind in ("integer", "number"):
        return _number(schema, kind)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return {}


def _number(schema: dict[str, Any], kind: str) -> int | float:
    value: float = 0
    if "minimum" in schema:
        value = schema["minimum"]
    elif "exclusiveMinimum" in schema:
        value = schema["exclusiveMinimum"] + 1
    elif "maximum" in schema and schema["maximum"] < 0:
        value = schema["maximum"]
    elif "exclusiveMaximum" in schema and schema["exclusiveMaximum"] <= 0:
        value = schema["exclusiveMaximum"] - 1
    return int(value) if kind == "integer" else float(value)
