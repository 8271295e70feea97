"""Canned, schema-valid answers for the perf stub, routed by the request's JSON Schema.

The plan's shape comes from the run's instruction, ``perf shape=fanout n=8`` (or ``chain``,
``join``, ``uneven``): ``fanout`` makes ``n`` independent subtasks, ``chain`` makes each subtask
need the one before, ``join`` makes the last subtask need all the others, ``uneven`` makes two
branches: ``s1 -> s2`` and, beside them, ``s3`` (whose app the bench serves slowly).
Subtask ``i`` goes to the ``i``-th task token of the schema's enum (round robin), so a fan-out
over as many apps as subtasks never waits on an app lock. A staff agent's first action calls
the app's first tool with no arguments; once it has seen an observation it finishes. Verdicts
are successes; the final answer is plain text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from modelclient.examples import example_instance
from modelclient.probe import PROBE_SCHEMA
from modelclient.structured import schema_in_prompt

_SHAPE = re.compile(r"shape=(fanout|chain|join|uneven)\s+n=(\d+)")
_VERDICT = json.dumps({"success": True, "failure_kind": "none", "tips": "", "key_info": "ok"})
_FINISH = json.dumps({"thought": "done", "tool": "finish", "result": "ok"})
_ANSWER = "Done: every subtask succeeded."


def plan_nodes(shape: str, n: int, tokens: list[str]) -> list[dict[str, Any]]:
    """The nodes of a ``fanout``, ``chain``, ``join`` or ``uneven`` plan of ``n`` subtasks
    (``uneven``: always 3) over ``tokens``."""
    if shape == "uneven":
        n = 3
    nodes = []
    for i in range(n):
        needs = [f"s{i}"] if (shape == "chain" or (shape == "uneven" and i == 1)) and i else []
        if shape == "join" and i == n - 1:
            needs = [f"s{j + 1}" for j in range(i)]
        nodes.append(
            {
                "id": f"s{i + 1}",
                "task_token": tokens[i % len(tokens)],
                "instruction": f"Touch the counter (step {i + 1})",
                "needs": needs,
            }
        )
    return nodes


def purpose_of(schema: dict[str, Any] | None) -> str:
    """``plan``, ``act``, ``evaluate``, ``answer``, ``probe`` or ``other``."""
    if schema is None:
        return "answer"
    if schema == PROBE_SCHEMA:
        return "probe"
    props = schema.get("properties") or {}
    if "nodes" in props:
        return "plan"
    if "tool" in props or any("tool" in (v.get("properties") or {}) for v in _variants(schema)):
        return "act"
    if "success" in props:
        return "evaluate"
    if set(props) == {"answer"}:
        return "answer"
    return "other"


def request_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The schema a chat request asks for: ``response_format``, else one in the prompt."""
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema")
    if isinstance(schema, dict):
        return schema
    for message in reversed(body.get("messages") or []):
        found = schema_in_prompt(str(message.get("content") or ""))
        if found is not None:
            return found
    return None


class Answers:
    """Computes the answer text for a request; plans are cached by shape and tokens."""

    def __init__(self) -> None:
        self._plans: dict[tuple[str, int, tuple[str, ...]], str] = {}

    def answer(self, body: dict[str, Any]) -> tuple[str, str]:
        """(purpose, content) for one chat request body."""
        schema = request_schema(body)
        purpose = purpose_of(schema)
        messages = body.get("messages") or []
        if purpose == "plan":
            assert schema is not None
            return purpose, self._plan(schema, messages)
        if purpose == "act":
            assert schema is not None
            return purpose, _action(schema, messages)
        if purpose == "evaluate":
            return purpose, _VERDICT
        if purpose == "probe":
            return purpose, json.dumps({"status": PROBE_SCHEMA["properties"]["status"]["enum"][0]})
        if purpose == "other":
            assert schema is not None
            return purpose, json.dumps(example_instance(schema))
        return purpose, _ANSWER if schema is None else json.dumps({"answer": _ANSWER})

    def _plan(self, schema: dict[str, Any], messages: list[dict[str, Any]]) -> str:
        items = schema["properties"]["nodes"].get("items") or {}
        tokens = list(items.get("properties", {}).get("task_token", {}).get("enum") or ["?"])
        text = " ".join(str(m.get("content") or "") for m in messages if m.get("role") == "user")
        match = _SHAPE.search(text)
        shape, n = (match.group(1), int(match.group(2))) if match else ("fanout", 1)
        key = (shape, n, tuple(tokens))
        cached = self._plans.get(key)
        if cached is None:
            cached = self._plans[key] = json.dumps({"nodes": plan_nodes(shape, n, tokens)})
        return cached


def _variants(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in schema.get("anyOf") or schema.get("oneOf") or [] if isinstance(v, dict)]


def action_tools(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(tool name, argument schema) of every tool an action schema allows, ``finish`` aside."""
    out: list[tuple[str, dict[str, Any]]] = []
    for variant in _variants(schema) or [schema]:
        props = variant.get("properties") or {}
        tool = props.get("tool") or {}
        names = [tool["const"]] if "const" in tool else list(tool.get("enum") or [])
        arguments = props.get("arguments") or {"type": "object"}
        out += [(name, arguments) for name in names if name != "finish"]
    return out


def _action(schema: dict[str, Any], messages: list[dict[str, Any]]) -> str:
    seen = any(
        str(m.get("content") or "").startswith(("Observation:", "Error:"))
        for m in messages[2:]
        if m.get("role") == "user"
    )
    tools = action_tools(schema)
    if seen or not tools:
        return _FINISH
    name, arguments = tools[0]
    return json.dumps({"thought": "", "tool": name, "arguments": example_instance(arguments)})
