"""``ModelPool``: the models of every role, sharing clients, limits and probes."""

from __future__ import annotations

from types import TracebackType

from modelclient.config import EndpointConfig, ModelsConfig
from modelclient.connections import Connections
from modelclient.engine import Tracer
from modelclient.openai_model import OpenAIModel
from modelclient.probe import ProbeResult


class ModelPool:
    """Hands out one ``OpenAIModel`` per distinct resolved endpoint.

    Roles whose endpoints resolve to the same settings share a model object; every model on a
    base URL shares one HTTP client and one concurrency semaphore, and one balancer spreads
    the requests of every model over its replicas (``EndpointConfig.base_urls``). Use one pool
    per event loop and close it (``await pool.aclose()`` or ``async with``).
    """

    def __init__(
        self,
        config: ModelsConfig | None = None,
        *,
        tracer: Tracer | None = None,
        persist_probes: bool = True,
    ) -> None:
        self.config = config or ModelsConfig()
        self.tracer = tracer
        self.persist_probes = persist_probes
        self._connections = Connections()
        self._models: dict[EndpointConfig, OpenAIModel] = {}
        self._roles: dict[str, OpenAIModel] = {}

    def for_role(self, role: str) -> OpenAIModel:
        """The model for ``role`` (``steward`` or a task token); unknown roles get the default."""
        model = self._roles.get(role)
        if model is None:
            model = self._roles[role] = self.for_endpoint(self.config.resolve(role))
        return model

    def for_endpoint(self, endpoint: EndpointConfig) -> OpenAIModel:
        """The pooled model for an explicit endpoint config."""
        model = self._models.get(endpoint)
        if model is None:
            model = OpenAIModel(
                endpoint,
                tracer=self.tracer,
                connections=self._connections,
                persist_probes=self.persist_probes,
            )
            self._models[endpoint] = model
        return model

    async def probe(self, role: str = "steward", *, force: bool = False) -> ProbeResult:
        """Probe the endpoint serving ``role`` (cached unless ``force``)."""
        return await self.for_role(role).probe(force=force)

    async def aclose(self) -> None:
        """Close the shared HTTP clients."""
        await self._connections.aclose()

    async def __aenter__(self) -> ModelPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
