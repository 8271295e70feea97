"""Structured-output modes per request kind, and the room the schema takes in the prompt."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelclient import (
    ChatMessage,
    Completion,
    FunctionModel,
    ModelPool,
    ModelsConfig,
    OpenAIModel,
    ScriptedModel,
    StubServer,
    load_probe,
    probes_path,
    prompt_overhead,
    schema_prompt,
)
from modelclient.config import EndpointConfig
from modelclient.probe import known_probe

MakeModel = Callable[..., OpenAIModel]

PLAN = {
    "type": "object",
    "properties": {"nodes": {"type": "array", "items": {"type": "string"}}},
    "required": ["nodes"],
    "additionalProperties": False,
}
ACTION = {
    "type": "object",
    "properties": {"tool": {"enum": ["send", "finish"]}},
    "required": ["tool"],
    "additionalProperties": False,
}
HI = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="hi")]


class PickyStub(StubServer):
    """Refuses (400) ``json_schema`` output for schemas named ``picky`` only, as a server
    does for a schema feature its decoder lacks."""

    def _respond(self, body: dict[str, Any], failure: Any) -> Any:
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema" and fmt["json_schema"]["name"] == "picky":
            return 400, {"error": {"message": "unsupported schema", "type": "BadRequestError"}}
        return super()._respond(body, failure)


def fast(url: str, **fields: Any) -> EndpointConfig:
    return EndpointConfig(base_url=url, **{"backoff_s": 0.001, "timeout_s": 2.0, **fields})


def kinds(stub: StubServer) -> list[tuple[str, str | None]]:
    """(schema name, response format type) of each non-probe request."""
    out = []
    for body in stub.requests:
        fmt = body.get("response_format") or {}
        name = (fmt.get("json_schema") or {}).get("name", "")
        if name != "probe" and "tools" not in body and "probe-ok" not in str(body):
            out.append((name, fmt.get("type")))
    return out


async def test_a_refusal_changes_only_that_kind_and_never_the_probe_file() -> None:
    with PickyStub() as stub:
        async with OpenAIModel(fast(stub.url)) as model:
            assert (await model.probe()).mode == "json_schema"
            saved = probes_path().read_bytes()
            first = await model.complete(HI, schema=PLAN, schema_name="picky")
            assert first.record.mode == "json_object" and first.record.attempts == 2
            again = await model.complete(HI, schema=PLAN, schema_name="picky")
            assert again.record.mode == "json_object" and again.record.attempts == 1
            other = await model.complete(HI, schema=ACTION, schema_name="action")
            assert other.record.mode == "json_schema"
            # the kind is the name *and* the schema: the same name with another schema, or
            # the same schema under another name, keeps the probed mode
            renamed = await model.complete(HI, schema=PLAN, schema_name="plan")
            assert renamed.record.mode == "json_schema"
            assert await model.structured_mode(PLAN, "picky") == "json_object"
            assert await model.structured_mode(ACTION, "picky") == "json_schema"
            assert await model.structured_mode() == "json_schema"
            result = await model.probe()
            assert (result.mode, result.json_schema, result.json_object) == (
                "json_schema",
                True,
                True,
            )
        assert probes_path().read_bytes() == saved  # the cache file is untouched
        cached = load_probe(stub.url, model.name)
        assert cached is not None and cached.mode == "json_schema"
        known = known_probe(stub.url, model.name)
        assert known is not None and known.mode == "json_schema"
        assert kinds(stub) == [
            ("picky", "json_schema"),
            ("", "json_object"),
            ("", "json_object"),
            ("action", "json_schema"),
            ("plan", "json_schema"),
        ]


async def test_a_refused_kind_is_shared_by_the_roles_of_one_endpoint() -> None:
    with PickyStub() as stub:
        async with ModelPool(ModelsConfig(default=fast(stub.url))) as pool:
            steward, staff = pool.for_role("steward"), pool.for_role("<app:a>")
            done = await steward.complete(HI, schema=PLAN, schema_name="picky")
            assert done.record.mode == "json_object"
            assert (await staff.complete(HI, schema=PLAN, schema_name="picky")).record.attempts == 1
            assert (await staff.complete(HI, schema=ACTION)).record.mode == "json_schema"
            await pool.probe(force=True)  # a new probe forgets the refusals
            again = await staff.complete(HI, schema=PLAN, schema_name="picky")
            assert again.record.attempts == 2


async def test_overhead_is_the_schema_text_outside_json_schema_mode(
    stub: StubServer, make_model: MakeModel
) -> None:
    for mode in ("json_object", "repair"):
        model = make_model(structured=mode)
        overhead = await model.prompt_overhead(ACTION, "action")
        assert overhead == len("\n\n" + schema_prompt(ACTION))
        await model.complete(HI, schema=ACTION, schema_name="action")
        sent = stub.requests[-1]["messages"][0]["content"]
        assert len(sent) - len(HI[0].content) == overhead
        assert await prompt_overhead(model, ACTION, "action") == overhead
        assert await model.prompt_overhead(None) == 0
    strict = make_model(structured="json_schema")
    assert await strict.prompt_overhead(ACTION, "action") == 0
    assert await prompt_overhead(strict, ACTION, "action") == 0


async def test_overhead_follows_the_probe_and_the_kind() -> None:
    with PickyStub() as stub:
        async with OpenAIModel(fast(stub.url)) as model:
            assert await model.prompt_overhead(PLAN, "picky") == 0  # probed: json_schema
            await model.complete(HI, schema=PLAN, schema_name="picky")  # falls back
            assert await model.prompt_overhead(PLAN, "picky") == len("\n\n" + schema_prompt(PLAN))
            assert await model.prompt_overhead(ACTION, "action") == 0


class Bare:
    """A third-party model with only ``complete`` (no ``prompt_overhead``)."""

    name = "bare"

    async def complete(self, messages: list[ChatMessage], **kwargs: Any) -> Completion:
        raise NotImplementedError


async def test_helper_and_test_models() -> None:
    assert await prompt_overhead(Bare(), ACTION, "action") == 0  # type: ignore[arg-type]
    assert await prompt_overhead(ScriptedModel([]), ACTION) == 0
    fallback = ScriptedModel([{"tool": "finish"}], overhead_chars=700)
    assert await prompt_overhead(fallback, ACTION, "action") == 700
    assert await prompt_overhead(fallback, None, "action") == 0
    function = FunctionModel(lambda m, s: {"tool": "send"}, overhead_chars=90)
    assert await function.prompt_overhead(ACTION) == 90
    done = await fallback.complete(HI, schema=ACTION)
    assert fallback.calls[0].messages == HI  # nothing is actually added
    assert done.data == {"tool": "finish"}
