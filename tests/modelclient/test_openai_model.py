"""OpenAIModel against the local stub server: modes, re-asks, retries, limits, records."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from core.errors import ConfigError, ModelOutputError, ServerError, ServerUnreachableError
from core.usage import CallRecord
from modelclient import (
    ChatMessage,
    EndpointConfig,
    Model,
    ModelPool,
    ModelsConfig,
    OpenAIModel,
    RoleOverride,
)
from modelclient.stub import StubServer, free_port

MakeModel = Callable[..., OpenAIModel]

SCHEMA = {
    "type": "object",
    "properties": {"token": {"enum": ["<app:a>", "<app:b>"]}, "n": {"type": "integer"}},
    "required": ["token", "n"],
    "additionalProperties": False,
}
GOOD = {"token": "<app:b>", "n": 2}
HI = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="hi")]


def fast(base_url: str, **fields: Any) -> EndpointConfig:
    """An endpoint with tiny backoff and timeout."""
    return EndpointConfig(base_url=base_url, **{"backoff_s": 0.001, "timeout_s": 2.0, **fields})


def chat_requests(stub: StubServer) -> list[dict[str, Any]]:
    """Requests that are not the probe's."""
    return [r for r in stub.requests if "probe" not in str(r)]


async def test_text_call_records_usage(stub: StubServer, make_model: MakeModel) -> None:
    model = make_model()
    assert isinstance(model, Model)
    out = await model.complete(HI, role="steward", purpose="answer")
    assert out.text == "Hello from the stub."
    assert out.data is None
    rec = out.record
    assert (rec.role, rec.purpose, rec.model, rec.mode) == ("steward", "answer", model.name, "text")
    assert rec.usage.prompt_tokens > 0 and rec.usage.completion_tokens > 0
    assert rec.usage.calls == 1 and rec.attempts == 1
    assert rec.usage.latency_s > 0 and rec.started_at > 0
    assert rec.prompt == [m.model_dump() for m in HI]
    assert rec.output == out.text and rec.error is None
    sent = stub.requests[0]
    assert sent["temperature"] == 0.0 and sent["max_tokens"] == EndpointConfig().max_tokens


async def test_frequency_penalty_is_sent_only_when_set(
    stub: StubServer, make_model: MakeModel
) -> None:
    await make_model().complete(HI)
    await make_model(frequency_penalty=0.3).complete(HI)
    assert "frequency_penalty" not in stub.requests[0]
    assert stub.requests[1]["frequency_penalty"] == 0.3


async def test_record_prompts_off(stub: StubServer, make_model: MakeModel) -> None:
    out = await make_model(record_prompts=False).complete(HI)
    assert out.record.prompt is None


@pytest.mark.parametrize(
    ("caps", "mode"),
    [
        ({}, "json_schema"),
        ({"json_schema": "reject"}, "json_object"),
        ({"json_schema": "ignore"}, "json_object"),
        ({"json_schema": "reject", "json_object": "reject"}, "repair"),
        ({"json_schema": "ignore", "json_object": "ignore"}, "repair"),
    ],
)
async def test_probe_picks_best_honoured_mode(
    stub: StubServer, make_model: MakeModel, caps: dict[str, Any], mode: str
) -> None:
    for key, value in caps.items():
        setattr(stub, key, value)
    model = make_model()
    result = await model.probe()
    assert result.mode == mode
    assert result.json_schema is (mode == "json_schema")
    assert result.tool_calls is True
    out = await model.complete(HI, schema=SCHEMA, schema_name="plan step")
    assert out.record.mode == mode
    assert out.data["token"] in ("<app:a>", "<app:b>")
    sent = chat_requests(stub)[-1]
    system = sent["messages"][0]["content"]
    if mode == "json_schema":
        assert sent["response_format"]["json_schema"]["name"] == "plan_step"
        assert sent["response_format"]["json_schema"]["strict"] is True
        assert system == "Be brief."
    else:
        assert system.startswith("Be brief.") and '"<app:a>"' in system
        assert ("response_format" in sent) is (mode == "json_object")


async def test_probe_runs_once_and_is_persisted(stub: StubServer, make_model: MakeModel) -> None:
    from modelclient import load_probe

    stub.tools = "reject"
    model = make_model()
    outs = await asyncio.gather(*(model.complete(HI, schema=SCHEMA) for _ in range(5)))
    assert all(o.data is not None for o in outs)
    assert len(stub.requests) == 3 + 5
    saved = load_probe(stub.url, model.name)
    assert saved is not None and saved.mode == "json_schema" and saved.tool_calls is False
    assert await model.probe() is await model.probe()


async def test_forced_mode_skips_probe(stub: StubServer, make_model: MakeModel) -> None:
    out = await make_model(structured="repair").complete(HI, schema=SCHEMA)
    assert out.record.mode == "repair"
    assert len(stub.requests) == 1


async def test_reask_after_invalid_json_then_success(
    stub: StubServer, make_model: MakeModel
) -> None:
    stub.push("I cannot do JSON, sorry.", {"token": "<app:z>", "n": 1}, GOOD)
    out = await make_model(structured="json_schema").complete(HI, schema=SCHEMA)
    assert out.data == GOOD
    assert out.record.usage.calls == 3 and out.record.attempts == 3
    third = stub.requests[2]["messages"]
    assert third[2] == {"role": "assistant", "content": "I cannot do JSON, sorry."}
    assert "no JSON object found" in third[3]["content"]
    assert "'<app:z>' is not one of" in third[-1]["content"]
    assert out.record.prompt is not None and len(out.record.prompt) == 6
    single = sum(len(m["content"].split()) for m in stub.requests[0]["messages"])
    assert out.record.usage.prompt_tokens > 3 * single


async def test_truncated_answer_is_reasked(stub: StubServer, make_model: MakeModel) -> None:
    stub.fail("truncated")
    out = await make_model(structured="json_schema").complete(HI, schema=SCHEMA)
    assert out.data is not None
    assert "cut off" in stub.requests[1]["messages"][-1]["content"]


async def test_a_second_cut_off_answer_stops_and_says_so(
    stub: StubServer, make_model: MakeModel
) -> None:
    stub.fail("truncated", times=5)
    with pytest.raises(ModelOutputError, match=r"after 2 answer\(s\).*cut off at the token limit"):
        await make_model(structured="json_schema", max_reasks=3).complete(HI, schema=SCHEMA)
    assert len(stub.requests) == 2  # no more re-asks after the second cut-off


async def test_model_output_error_after_max_reasks(stub: StubServer, make_model: MakeModel) -> None:
    records: list[CallRecord] = []
    model = make_model(structured="json_schema", max_reasks=1)
    model.tracer = records.append
    stub.push("nope", '{"token": 1}')
    with pytest.raises(ModelOutputError, match="is not one of"):
        await model.complete(HI, schema=SCHEMA, role="<app:a>")
    assert len(stub.requests) == 2
    (rec,) = records
    assert rec.error and rec.usage.calls == 2 and rec.role == "<app:a>"
    assert rec.output == '{"token": 1}'


@pytest.mark.parametrize("failure", ["500", "429", "empty_choices", "disconnect", "hang"])
async def test_transport_retries_then_success(
    stub: StubServer, make_model: MakeModel, failure: Any
) -> None:
    stub.fail(failure, times=2)
    out = await make_model(timeout_s=1.5).complete(HI)  # roomy: the machine may be busy
    assert out.text == "Hello from the stub."
    assert out.record.attempts == 3 and out.record.usage.calls == 1


async def test_retries_run_out(stub: StubServer, make_model: MakeModel) -> None:
    stub.fail("500", times=10)
    with pytest.raises(ServerError, match=r"kept failing after 3 tries \(HTTP 500") as info:
        await make_model(max_retries=2).complete(HI)
    assert not isinstance(info.value, ModelOutputError)  # not the model's fault
    assert (info.value.status, info.value.tries, info.value.url) == (500, 3, stub.url)
    assert len(stub.requests) == 3


async def test_client_errors_are_not_retried(make_model: MakeModel, stub: StubServer) -> None:
    stub.models = {"served-name"}
    with pytest.raises(ConfigError, match="no model 'smollm2-135m-instruct'"):
        await make_model().complete(HI)
    stub.fail("400")
    with pytest.raises(ModelOutputError, match=r"rejected the request \(400\)"):
        await make_model(model="served-name").complete(HI)
    assert len(stub.requests) == 2


async def test_unreachable_server_names_the_url() -> None:
    model = OpenAIModel(fast(f"http://127.0.0.1:{free_port()}/v1", max_retries=1))
    try:
        with pytest.raises(ServerUnreachableError) as info:
            await model.complete(HI)
    finally:
        await model.aclose()
    assert info.value.url == model.endpoint.base_url
    assert model.endpoint.base_url in str(info.value)
    assert "steward serve" in str(info.value)


async def test_400_mid_run_falls_back_and_is_remembered_for_the_kind(
    stub: StubServer, make_model: MakeModel
) -> None:
    model = make_model()
    assert (await model.probe()).mode == "json_schema"
    stub.json_schema = "reject"  # e.g. the server was restarted without structured outputs
    first = await model.complete(HI, schema=SCHEMA)
    assert first.record.mode == "json_object" and first.record.attempts == 2
    second = await model.complete(HI, schema=SCHEMA)
    assert second.record.mode == "json_object" and second.record.attempts == 1
    assert (await model.probe()).json_schema is True  # the probe result stays as probed


async def test_400_in_every_mode_does_not_downgrade(
    stub: StubServer, make_model: MakeModel
) -> None:
    model = make_model(structured="json_schema")
    stub.fail("400", times=3)
    with pytest.raises(ModelOutputError, match="400"):
        await model.complete(HI, schema=SCHEMA)
    assert [r.get("response_format", {}).get("type") for r in stub.requests] == [
        "json_schema",
        "json_object",
        None,
    ]
    assert (await model.complete(HI, schema=SCHEMA)).record.mode == "json_schema"


async def test_concurrency_limit_per_base_url(stub: StubServer) -> None:
    stub.latency_s = 0.05
    config = ModelsConfig(
        default=fast(stub.url, max_concurrency=2, structured="json_schema"),
        roles={"<app:b>": RoleOverride(model="other-model")},
    )
    async with ModelPool(config) as pool:
        a, b = pool.for_role("steward"), pool.for_role("<app:b>")
        assert a is not b
        calls = [m.complete(HI, schema=SCHEMA) for m in (a, b) for _ in range(4)]
        outs = await asyncio.gather(*calls)
    assert len(outs) == 8
    assert stub.max_in_flight == 2
    assert {r["model"] for r in stub.requests} == {"smollm2-135m-instruct", "other-model"}


async def test_pool_shares_models_clients_and_probes(stub: StubServer) -> None:
    records: list[CallRecord] = []
    config = ModelsConfig(
        default=fast(stub.url),
        roles={"steward": RoleOverride(max_tokens=64), "<app:x>": RoleOverride(temperature=0.0)},
    )
    async with ModelPool(config, tracer=records.append) as pool:
        assert pool.for_role("<app:x>") is pool.for_role("<app:y>")
        steward = pool.for_role("steward")
        assert steward is not pool.for_role("<app:x>")
        await steward.complete(HI, schema=SCHEMA, role="steward")
        await pool.for_role("<app:x>").complete(HI, schema=SCHEMA, role="<app:x>")
        assert len(pool._connections._clients) == 1
    assert len(stub.requests) == 3 + 2  # one probe for the shared (base_url, model)
    assert [r.role for r in records] == ["steward", "<app:x>"]
    assert stub.requests[-2]["max_tokens"] == 64


async def test_probe_is_reused_by_later_pools(stub: StubServer) -> None:
    for _ in range(2):
        async with ModelPool(ModelsConfig(default=fast(stub.url))) as pool:
            await pool.for_role("steward").complete(HI, schema=SCHEMA)
    assert len(stub.requests) == 3 + 2
    async with ModelPool(ModelsConfig(default=fast(stub.url))) as pool:
        await pool.probe(force=True)
    assert len(stub.requests) == 3 + 2 + 3
