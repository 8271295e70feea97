"""A server that keeps failing raises ``ServerError``, never ``ModelOutputError``; probes too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from core.errors import ModelOutputError, RunError, ServerError, UserError
from modelclient import ChatMessage, EndpointConfig, OpenAIModel, StubServer, probes_path
from modelclient.stub import Failure

MakeModel = Callable[..., OpenAIModel]

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
HI = [ChatMessage(role="user", content="hi")]


def test_server_error_is_a_run_error_but_not_bad_model_output() -> None:
    assert issubclass(ServerError, RunError)
    assert not issubclass(ServerError, ModelOutputError | UserError)
    error = ServerError("down", "run-1", url="http://x/v1", status=503, tries=3)
    assert (str(error), error.run_id, error.url, error.status, error.tries) == (
        "down",
        "run-1",
        "http://x/v1",
        503,
        3,
    )


@pytest.mark.parametrize(
    ("failure", "status", "says"),
    [
        ("503", 503, "HTTP 503: injected 503"),
        ("500", 500, "HTTP 500"),
        ("429", 429, "HTTP 429"),
        ("empty_choices", None, "no choices"),
        ("hang", None, "timed out after 0.3s"),
    ],
)
async def test_retries_spent_on_a_failing_server_raise_server_error(
    stub: StubServer, make_model: MakeModel, failure: Failure, status: int | None, says: str
) -> None:
    stub.fail(failure, times=10)
    model = make_model(max_retries=1, timeout_s=0.3, structured="json_schema")
    with pytest.raises(ServerError) as info:
        await model.complete(HI, schema=SCHEMA)
    error = info.value
    assert not isinstance(error, ModelOutputError)
    assert (error.status, error.tries, error.url) == (status, 2, stub.url)
    assert says in str(error) and "after 2 tries" in str(error)
    hint = "lower max_concurrency" if status == 429 else "check the server's log"
    assert hint in str(error)
    assert len(stub.requests) == 2  # the transport's retries only: no re-ask, no other mode
    record: Any = error.record
    assert record is not None and record.attempts == 2 and says in record.error


async def test_one_try_is_one_try(stub: StubServer, make_model: MakeModel) -> None:
    stub.fail("503")
    with pytest.raises(ServerError, match=r"after 1 try \("):
        await make_model(max_retries=0).complete(HI)


async def test_a_probe_on_a_dead_server_raises_and_caches_nothing(
    stub: StubServer, make_model: MakeModel
) -> None:
    stub.fail("503", times=100)
    model = make_model(max_retries=1)
    with pytest.raises(ServerError, match="HTTP 503"):
        await model.complete(HI, schema=SCHEMA)
    assert len(stub.requests) == 3 * 2  # three probe requests, each tried twice
    assert not probes_path().exists()
    stub._failures.clear()
    assert (await model.complete(HI, schema=SCHEMA)).record.mode == "json_schema"


class ToolCrashStub(StubServer):
    """Answers 500 to every request with ``tools``, as some servers do without tool support."""

    def _respond(self, body: dict[str, Any], failure: Any) -> Any:
        if body.get("tools"):
            return 500, {"error": {"message": "tools need --jinja", "type": "ServerError"}}
        return super()._respond(body, failure)


async def test_a_probe_feature_the_server_fails_on_is_not_honoured() -> None:
    with ToolCrashStub() as stub:
        endpoint = EndpointConfig(base_url=stub.url, backoff_s=0.001, max_retries=1)
        async with OpenAIModel(endpoint) as model:
            result = await model.probe()
    assert (result.mode, result.json_schema, result.tool_calls) == ("json_schema", True, False)
