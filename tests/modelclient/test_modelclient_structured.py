"""extract_json, validate, schema_prompt and example_instance."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelclient import JSONExtractError, extract_json, schema_prompt, validate
from modelclient.examples import example_instance
from modelclient.structured import SCHEMA_MARKER, _validator, schema_in_prompt

PLAN = {
    "type": "object",
    "properties": {
        "token": {"type": "string", "enum": ["<app:a>", "<app:b>"]},
        "steps": {"type": "array", "items": {"type": "integer"}, "minItems": 1},
    },
    "required": ["token", "steps"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("  [1, 2]\n", [1, 2]),
        ('Sure!\n```json\n{"a": [1, 2,],}\n```\nDone.', {"a": [1, 2]}),
        ('```\n{"a": 1}\n```', {"a": 1}),
        ('Here you go: {"a": {"b": "}"}} hope it helps', {"a": {"b": "}"}}),
        ('I think [maybe] this: {"k": "v"}', {"k": "v"}),
        ('{"a": True, "b": None, "c": False}', {"a": True, "b": None, "c": False}),
        ('{"a": 1, // one\n "b": 2 /* two */}', {"a": 1, "b": 2}),
        ('{"text": "line one\nline two"}', {"text": "line one\nline two"}),
        ("{'a': 'it\\'s', 'b': \"x\"}", {"a": "it's", "b": "x"}),
        ("{'say': 'he said \"hi\"'}", {"say": 'he said "hi"'}),
        ('{"quote": "don\'t", "x": 1,}', {"quote": "don't", "x": 1}),
        ('{"True": "None"}', {"True": "None"}),
    ],
)
def test_extract_json(text: str, expected: Any) -> None:
    assert extract_json(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("no json here", "no JSON object"),
        ('{"a": 1, "b": ', "incomplete"),
        ("prose {bad: 1}", "not valid JSON"),
    ],
)
def test_extract_json_errors(text: str, message: str) -> None:
    with pytest.raises(JSONExtractError, match=message):
        extract_json(text)


def test_extract_json_never_evaluates() -> None:
    with pytest.raises(JSONExtractError):
        extract_json("__import__('os').system('echo hacked')")


def test_validate_messages() -> None:
    assert validate(PLAN, {"token": "<app:a>", "steps": [1]}) == []
    errors = validate(PLAN, {"token": "<app:c>", "steps": ["x"], "extra": 1})
    assert any("$.token" in e and "is not one of" in e for e in errors)
    assert any("$.steps[0]" in e and "is not of type 'integer'" in e for e in errors)
    assert any("Additional properties" in e for e in errors)
    assert validate(PLAN, {}) == [
        "at $: 'token' is a required property",
        "at $: 'steps' is a required property",
    ]


def test_validator_is_cached_per_schema() -> None:
    assert _validator(PLAN) is _validator(json.loads(json.dumps(PLAN)))


def test_invalid_schema_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="invalid JSON Schema"):
        validate({"type": "nonsense"}, 1)


def test_schema_prompt_carries_the_schema() -> None:
    text = schema_prompt(PLAN)
    assert SCHEMA_MARKER in text
    tail = text.split(SCHEMA_MARKER, 1)[1]
    assert json.loads(tail) == PLAN
    assert schema_in_prompt(f"You plan.\n\n{text}\n\nBe brief.") == PLAN
    assert schema_in_prompt("no schema here") is None


@pytest.mark.parametrize(
    "schema",
    [
        PLAN,
        {"type": "string", "minLength": 12},
        {"type": ["null", "integer"], "minimum": 3},
        {"anyOf": [{"type": "boolean"}, {"type": "string"}]},
        {
            "$defs": {"node": {"type": "object", "properties": {"id": {"type": "string"}}}},
            "type": "object",
            "properties": {
                "nodes": {"type": "array", "items": {"$ref": "#/$defs/node"}, "minItems": 2}
            },
            "required": ["nodes", "name"],
        },
        {"allOf": [{"type": "object"}, {"properties": {"x": {"const": 3}}}]},
    ],
)
def test_example_instance_is_valid(schema: dict[str, Any]) -> None:
    assert validate(schema, example_instance(schema)) == []
