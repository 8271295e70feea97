"""What the models of one pool share: HTTP clients, per-replica concurrency limits, the replica
balancer and what each endpoint's probe found."""

from __future__ import annotations

import asyncio
import hashlib
import json
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelclient.balance import Balancer, publish
from modelclient.config import EndpointConfig, StructuredMode
from modelclient.probe import ProbeResult, known_probe

if TYPE_CHECKING:  # openai is imported lazily: it takes half a second
    import openai

_MAX_KINDS = 1024  # request kinds whose refused modes are remembered per endpoint

SchemaKey = tuple[str, str]
"""One request kind: (schema name, hash of the schema)."""


def schema_key(schema: dict[str, Any], schema_name: str) -> SchemaKey:
    """The request kind of a structured call: its schema name and a hash of its schema."""
    dumped = json.dumps(schema, sort_keys=True, separators=(",", ":"), default=str)
    return schema_name, hashlib.sha256(dumped.encode()).hexdigest()[:16]


def probe_target(endpoint: EndpointConfig) -> str:
    """What one probe stands for: the base URL, or the replica set (its URLs joined by
    commas). Replicas serve the same model, so they are probed once, through the balancer."""
    return ",".join(endpoint.base_urls)


@dataclass
class ProbeState:
    """In-process knowledge about one (base URL or replica set, model): its probe, and per
    request kind the structured-output modes the server refused (HTTP 400) for it while a
    later mode worked.

    A refusal never changes the probe result: another schema may well be accepted in the
    probed mode.
    """

    result: ProbeResult | None = None
    refused: dict[SchemaKey, set[StructuredMode]] = field(default_factory=dict)

    def refuse(self, key: SchemaKey, modes: list[StructuredMode]) -> None:
        """Remember that ``modes`` were refused for the request kind ``key``."""
        if key not in self.refused and len(self.refused) >= _MAX_KINDS:
            del self.refused[next(iter(self.refused))]  # the oldest kind
        self.refused.setdefault(key, set()).update(modes)


@dataclass
class _LoopConnections:
    """What belongs to one event loop: HTTP clients, semaphores and probe locks."""

    clients: dict[tuple[str, str], openai.AsyncOpenAI] = field(default_factory=dict)
    semaphores: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    probe_locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)


class Connections:
    """One ``AsyncOpenAI`` client per (base URL, key), one semaphore per base URL (each replica
    has its own), one ``Balancer`` over the replicas, probe states.

    HTTP clients, semaphores and locks belong to the event loop they are used in, so they are
    kept per loop: the same pool (and the orchestrator holding it) works again under another
    ``asyncio.run``. Probe results and the balancer's counters are shared by all loops. Close
    it with ``aclose``.
    """

    def __init__(self) -> None:
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopConnections]
        self._loops = weakref.WeakKeyDictionary()
        self._probes: dict[tuple[str, str], ProbeState] = {}
        self.balancer = Balancer()
        """Chooses the replica of each request; its counters are what ``steward endpoints``
        shows of a running process."""

    def _here(self) -> _LoopConnections:
        return self._loops.setdefault(asyncio.get_running_loop(), _LoopConnections())

    @property
    def _clients(self) -> dict[tuple[str, str], openai.AsyncOpenAI]:
        """The running loop's clients."""
        return self._here().clients

    def client(self, endpoint: EndpointConfig, url: str | None = None) -> openai.AsyncOpenAI:
        """The shared client for ``url`` (default: the endpoint's first) and the endpoint's
        key, created on first use."""
        clients = self._here().clients
        key = (url or endpoint.base_url, endpoint.api_key)
        client = clients.get(key)
        if client is None:
            import openai

            client = openai.AsyncOpenAI(base_url=key[0], api_key=key[1], max_retries=0)
            clients[key] = client
        return client

    def semaphore(self, endpoint: EndpointConfig, url: str | None = None) -> asyncio.Semaphore:
        """The concurrency limit shared by every model on ``url`` (default: the endpoint's
        first base URL)."""
        semaphores = self._here().semaphores
        url = url or endpoint.base_url
        sem = semaphores.get(url)
        if sem is None:
            sem = semaphores[url] = asyncio.Semaphore(endpoint.max_concurrency)
        return sem

    def probe_lock(self, endpoint: EndpointConfig) -> asyncio.Lock:
        """The lock that lets one request at a time probe the endpoint's (replicas, model)."""
        locks = self._here().probe_locks
        key = (probe_target(endpoint), endpoint.model)
        lock = locks.get(key)
        if lock is None:
            lock = locks[key] = asyncio.Lock()
        return lock

    def probe_state(self, endpoint: EndpointConfig) -> ProbeState:
        """Probe knowledge for the endpoint's (base URL or replica set, model)."""
        key = (probe_target(endpoint), endpoint.model)
        state = self._probes.get(key)
        if state is None:
            state = self._probes[key] = ProbeState(result=known_probe(*key))
        return state

    async def aclose(self) -> None:
        """Close the running loop's clients; those of loops that have ended go with them. The
        balancer's last counters are published."""
        here = self._loops.pop(asyncio.get_running_loop(), None)
        for loop in [loop for loop in self._loops if loop.is_closed()]:
            del self._loops[loop]
        for client in (here.clients if here else {}).values():
            await client.close()
        if not self._loops:  # the last loop: the pool is done with
            self.balancer.close()
        else:
            publish(force=True)
