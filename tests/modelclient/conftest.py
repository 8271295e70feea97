"""Fixtures for the model client tests: a stub server and a model factory.

The root conftest already isolates data dirs and env and blocks the network.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from modelclient import EndpointConfig, OpenAIModel, StubServer

MakeModel = Callable[..., OpenAIModel]
"""``make_model(**endpoint_fields)``."""


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.fixture
async def make_model(stub: StubServer) -> AsyncIterator[MakeModel]:
    """Build ``OpenAIModel``s on the stub (fast retries); closed after the test."""
    made: list[OpenAIModel] = []

    def make(**fields: Any) -> OpenAIModel:
        fields = {"backoff_s": 0.001, "timeout_s": 2.0, **fields}
        model = OpenAIModel(EndpointConfig(base_url=stub.url, **fields))
        made.append(model)
        return model

    yield make
    for model in made:
        await model.aclose()
