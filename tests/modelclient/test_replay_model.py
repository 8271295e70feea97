"""``ReplayModel``: recorded calls matched to requests by role, purpose and prompt; re-asks and
failures played back as they happened."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ModelOutputError, ServerError
from core.usage import CallRecord, Usage
from modelclient import ChatMessage, ReplayExhaustedError, ReplayModel, ScriptedModel
from modelclient.script import ScriptRanOutError

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"n": {"type": "integer"}},
    "required": ["n"],
}


def ask(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="system", content="count"), ChatMessage(role="user", content=text)]


async def recorded(answers: list[Any], text: str, *, purpose: str = "evaluate") -> CallRecord:
    """The record a real call loop makes of ``answers`` to ``ask(text)``."""
    model = ScriptedModel(answers, max_reasks=2)
    try:
        out = await model.complete(ask(text), schema=SCHEMA, role="steward", purpose=purpose)
    except (ModelOutputError, ServerError) as exc:
        assert isinstance(exc.record, CallRecord)
        return exc.record
    return out.record


async def test_a_request_gets_the_call_with_its_own_prompt_whatever_the_order() -> None:
    first = await recorded([{"n": 1}], "subtask a")
    second = await recorded([{"n": 2}], "subtask b")
    model = ReplayModel.of([("a", first), ("b", second)])
    b = await model.complete(ask("subtask b"), schema=SCHEMA, role="steward", purpose="evaluate")
    a = await model.complete(ask("subtask a"), schema=SCHEMA, role="steward", purpose="evaluate")
    assert (a.data, b.data) == ({"n": 1}, {"n": 2})
    assert model.diverged == [] and model.unused == []


async def test_a_changed_prompt_gets_the_most_similar_call_and_is_noted() -> None:
    first = await recorded([{"n": 1}], "subtask a: send the report to Alice")
    second = await recorded([{"n": 2}], "subtask b: book a flight to Paris")
    model = ReplayModel.of([("a", first), ("b", second)])
    out = await model.complete(
        ask("subtask b: book a flight to Rome"), schema=SCHEMA, role="steward", purpose="evaluate"
    )
    assert out.data == {"n": 2}
    assert [(d.purpose, d.matched) for d in model.diverged] == [("evaluate", "b")]


async def test_role_and_purpose_must_match() -> None:
    model = ReplayModel.of([("a", await recorded([{"n": 1}], "x", purpose="plan"))])
    with pytest.raises(ReplayExhaustedError, match="no answer for"):
        await model.complete(ask("x"), schema=SCHEMA, role="steward", purpose="evaluate")


async def test_reasks_are_played_back_answer_by_answer() -> None:
    call = await recorded(["not json", {"n": "two"}, {"n": 3}], "x")
    assert call.usage.calls == 3
    out = await ReplayModel.of([("a", call)]).complete(
        ask("x"), schema=SCHEMA, role="steward", purpose="evaluate"
    )
    assert out.data == {"n": 3}
    assert out.record.usage.calls == 3 and out.record.prompt == call.prompt
    assert (out.record.usage.prompt_tokens, out.record.mode) == (
        call.usage.prompt_tokens,
        "scripted",
    )


async def test_a_call_that_never_validated_fails_again_the_same_way() -> None:
    call = await recorded(["no", "no", "no"], "x")
    assert call.error and call.usage.calls == 3
    with pytest.raises(ModelOutputError, match="after 3 answer"):
        await ReplayModel.of([("a", call)]).complete(
            ask("x"), schema=SCHEMA, role="steward", purpose="evaluate"
        )


async def test_a_call_that_failed_waiting_for_an_answer_fails_again() -> None:
    dead = await recorded(["no", ServerError("HTTP 503")], "x")
    assert dead.usage.calls == 1
    with pytest.raises(ServerError, match="as recorded: HTTP 503"):
        await ReplayModel.of([("a", dead)]).complete(
            ask("x"), schema=SCHEMA, role="steward", purpose="evaluate"
        )
    ran_out = CallRecord(
        role="steward",
        purpose="answer",
        error="script s.jsonl ran out after 4 answers",
        prompt=[m.model_dump() for m in ask("x")],
        usage=Usage(calls=0),
    )
    with pytest.raises(ScriptRanOutError, match="ran out after 4 answers"):
        await ReplayModel.of([("a", ran_out)]).complete(ask("x"), role="steward", purpose="answer")


async def test_prompts_leave_the_room_the_recorded_client_took_for_the_schema() -> None:
    """A run recorded in json_object mode had the schema text in its prompts: the replay
    reports the same overhead, so long prompts are cut where they were."""
    from modelclient import schema_prompt

    call = (await recorded([{"n": 1}], "x")).model_copy(update={"mode": "json_object"})
    model = ReplayModel.of([("a", call)])
    overhead = await model.prompt_overhead(SCHEMA, "evaluate")
    assert overhead >= len(schema_prompt(SCHEMA))
    assert await model.prompt_overhead(SCHEMA, "plan") == 0  # no such calls: json_schema-like
    assert await model.prompt_overhead(None, "evaluate") == 0
