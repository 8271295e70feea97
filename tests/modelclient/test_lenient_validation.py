"""``complete(..., validate=False)``: JSON that breaks the schema comes back with its errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.errors import ModelOutputError
from modelclient import ChatMessage, FunctionModel, OpenAIModel, ScriptedModel, StubServer, validate

MakeModel = Callable[..., OpenAIModel]

SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "string", "maxLength": 4}, "token": {"enum": ["<app:a>"]}},
    "required": ["id", "token"],
    "additionalProperties": False,
}
BAD = {"id": "much-too-long", "token": "<app:zzz>"}
GOOD = {"id": "s1", "token": "<app:a>"}
HI = [ChatMessage(role="user", content="plan it")]


async def test_json_that_breaks_the_schema_is_returned_with_its_errors() -> None:
    model = ScriptedModel([BAD])
    out = await model.complete(HI, schema=SCHEMA, validate=False)
    assert out.data == BAD
    assert out.schema_errors == validate(SCHEMA, BAD)
    assert len(out.schema_errors) == 2 and "is not one of" in " ".join(out.schema_errors)
    assert out.record.usage.calls == 1 and out.record.error is None
    assert model.calls[0].schema == SCHEMA  # the schema is still sent


async def test_validating_is_the_default() -> None:
    model = ScriptedModel([BAD, GOOD])
    out = await model.complete(HI, schema=SCHEMA)
    assert out.data == GOOD and out.schema_errors == []
    assert out.record.usage.calls == 2
    with pytest.raises(ModelOutputError, match="does not match the schema"):
        await ScriptedModel([BAD], max_reasks=0).complete(HI, schema=SCHEMA)


async def test_text_that_is_not_json_is_still_asked_again() -> None:
    model = FunctionModel(lambda msgs, schema: "sorry" if len(msgs) == 1 else BAD)
    out = await model.complete(HI, schema=SCHEMA, validate=False)
    assert out.data == BAD and out.schema_errors
    assert out.record.usage.calls == 2
    assert "no JSON object" in model.calls[1].messages[-1].content
    with pytest.raises(ModelOutputError, match="no JSON object"):
        await ScriptedModel(["no", "still no"], max_reasks=1).complete(
            HI, schema=SCHEMA, validate=False
        )


async def test_valid_json_has_no_errors() -> None:
    out = await ScriptedModel([GOOD]).complete(HI, schema=SCHEMA, validate=False)
    assert out.data == GOOD and out.schema_errors == []


@pytest.mark.parametrize("mode", ["json_schema", "json_object"])
async def test_the_real_client_still_sends_the_schema(
    stub: StubServer, make_model: MakeModel, mode: str
) -> None:
    stub.push(BAD)
    out = await make_model(structured=mode).complete(
        HI, schema=SCHEMA, schema_name="plan", validate=False
    )
    assert out.data == BAD and out.schema_errors == validate(SCHEMA, BAD)
    assert len(stub.requests) == 1
    sent = stub.requests[0]
    if mode == "json_schema":
        assert sent["response_format"]["json_schema"]["schema"] == SCHEMA
    else:
        assert '"<app:a>"' in sent["messages"][0]["content"]
