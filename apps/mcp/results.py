"""From MCP's shapes to Steward's: listed tools become ``apps.Tool``, call results become
observations (or a ``ToolError``).

Kept free of the SDK's imports (it reads attributes), so it is cheap to import and to test.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from apps.base import Tool
from core.errors import ToolError

RESERVED = frozenset({"finish"})
"""Tool names a staff agent uses itself (``finish`` ends an attempt)."""


def to_tools(server: str, listed: list[Any]) -> tuple[list[Tool], list[str]]:
    """The usable tools of ``tools/list`` and one line per tool left out (naming the server
    and the tool: a schema that is not JSON Schema, a reserved or repeated name)."""
    tools: list[Tool] = []
    problems: list[str] = []
    seen: set[str] = set()
    for item in listed:
        name = str(item.name)
        problem = _tool_problem(name, item.input_schema, seen)
        if problem:
            problems.append(f"MCP server {server!r}: tool {name!r} left out: {problem}")
            continue
        seen.add(name)
        tools.append(to_tool(item))
    return tools, problems


def to_tool(item: Any) -> Tool:
    """One MCP tool as an ``apps.Tool``, its hints kept: ``readOnlyHint`` makes it read-only
    (and so idempotent), ``idempotentHint`` idempotent, ``destructiveHint`` destructive (MCP's
    default for a tool that is not read-only is destructive)."""
    hints = item.annotations
    read_only = bool(hints is not None and hints.read_only_hint)
    idempotent = read_only or bool(hints is not None and hints.idempotent_hint)
    said = None if hints is None else hints.destructive_hint
    destructive = not read_only and (said is None or bool(said))
    schema = dict(item.input_schema)
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    description = item.description or getattr(item, "title", None) or ""
    return Tool(
        name=str(item.name),
        description=str(description),
        parameters=schema,
        read_only=read_only,
        idempotent=idempotent,
        destructive=destructive,
    )


def _tool_problem(name: str, schema: Any, seen: set[str]) -> str:
    if name in RESERVED:
        return f"{name!r} is the staff agent's own action"
    if name in seen:
        return "listed twice"
    if not isinstance(schema, dict):
        return "its input schema is not a JSON object"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        return f"its input schema is not valid JSON Schema ({where or 'root'}: {exc.message[:120]})"
    if schema.get("type", "object") != "object":
        return f"its input schema must describe an object, not {schema.get('type')!r}"
    return ""


def observation(result: Any) -> Any:
    """What a ``tools/call`` result shows the model: its structured content if it has some,
    else its content (a single block as itself: text as a string). A result marked as an error
    raises ``ToolError`` with its text. Nothing is cut here: prompts cut long observations, the
    run record keeps them whole."""
    if result.is_error:
        text = _text(result.content)
        raise ToolError(text or "the tool reported an error and said nothing more")
    if result.structured_content is not None:
        return result.structured_content
    blocks = [_block(b) for b in result.content]
    if not blocks:
        return ""
    return blocks[0] if len(blocks) == 1 else blocks


def _text(content: list[Any]) -> str:
    return "\n".join(str(b.text) for b in content if getattr(b, "type", "") == "text")


def _block(block: Any) -> Any:
    if getattr(block, "type", "") == "text":
        return str(block.text)
    dump = getattr(block, "model_dump", None)
    if dump is None:
        return str(block)
    return dump(mode="json", exclude_none=True)
