"""BFCL tool docs -> JSON Schema."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from apps import BFCL_APPS, make_bfcl_app
from apps.schema import bfcl_tool, strip_app_prefix, to_json_schema

BFCL_ONLY_TYPES = {"dict", "float", "tuple", "any", "int", "bool", "str", "list"}


def all_types(schema: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        kind = schema.get("type")
        if isinstance(kind, str):
            found.add(kind)
        elif isinstance(kind, list):
            found.update(kind)
        for key, value in schema.items():
            if key == "properties":
                for sub in value.values():
                    found |= all_types(sub)
            elif key in ("items", "additionalProperties"):
                found |= all_types(value)
            elif key == "prefixItems":
                for sub in value:
                    found |= all_types(sub)
    return found


@pytest.mark.parametrize("name", list(BFCL_APPS))
def test_every_tool_schema_is_valid_json_schema(name: str) -> None:
    app = make_bfcl_app(name)
    assert app.tools
    for tool in app.tools:
        Draft202012Validator.check_schema(tool.parameters)
        params = tool.parameters
        assert params["type"] == "object"
        assert params["additionalProperties"] is False
        assert set(params["required"]) <= set(params["properties"])
        assert not all_types(params) & BFCL_ONLY_TYPES, tool.name
        assert not tool.description.startswith("This tool belongs to")
        assert tool.description


@pytest.mark.parametrize("name", list(BFCL_APPS))
def test_schemas_match_the_python_signatures(name: str) -> None:
    app = make_bfcl_app(name)
    for tool in app.tools:
        signature = inspect.signature(getattr(app.instance, tool.name))
        required = {p.name for p in signature.parameters.values() if p.default is p.empty}
        assert set(tool.parameters["properties"]) == set(signature.parameters)
        assert set(tool.parameters["required"]) == required


def test_type_mapping() -> None:
    spec = {
        "type": "dict",
        "properties": {
            "ratio": {"type": "float", "description": "A ratio."},
            "pair": {"type": "tuple", "items": {"type": "integer"}},
            "anything": {"type": "any", "description": "Whatever."},
            "nested": {
                "type": "dict",
                "properties": {"flag": {"type": "boolean"}, "tags": {"type": "array"}},
                "required": ["flag"],
            },
            "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
        },
        "required": ["ratio", "pair"],
    }
    assert to_json_schema(spec, top_level=True) == {
        "type": "object",
        "properties": {
            "ratio": {"type": "number", "description": "A ratio."},
            "pair": {"type": "array", "items": {"type": "integer"}},
            "anything": {"description": "Whatever."},
            "nested": {
                "type": "object",
                "properties": {"flag": {"type": "boolean"}, "tags": {"type": "array"}},
                "required": ["flag"],
            },
            "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
        },
        "required": ["ratio", "pair"],
        "additionalProperties": False,
    }


def test_python_none_default_becomes_nullable() -> None:
    schema = to_json_schema({"type": "string", "default": "None", "description": "d"})
    assert schema == {"type": ["string", "null"], "default": None, "description": "d"}
    validator = Draft202012Validator(schema)
    assert validator.is_valid(None)
    assert validator.is_valid("x")


def test_fixed_tuple_items_become_prefix_items() -> None:
    schema = to_json_schema({"type": "tuple", "items": [{"type": "float"}, {"type": "str"}]})
    assert schema == {"type": "array", "prefixItems": [{"type": "number"}, {"type": "string"}]}


def test_bfcl_tool_strips_the_app_prefix() -> None:
    doc = {
        "name": "ls",
        "description": "This tool belongs to the Gorilla file system. Tool description: List it.",
        "parameters": {"type": "dict", "properties": {}, "required": []},
    }
    tool = bfcl_tool(doc)
    assert tool.description == "List it."
    assert tool.parameters == {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }
    assert strip_app_prefix("Plain text.") == "Plain text."


def test_ticket_ids_accept_strings_as_bfcl_data_does() -> None:
    app = make_bfcl_app("tickets")
    schema = next(t for t in app.tools if t.name == "close_ticket").parameters
    assert schema["properties"]["ticket_id"]["type"] == ["integer", "string"]
