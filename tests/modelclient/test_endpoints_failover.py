"""A replica killed in the middle of the work: every request, and every orchestrator run of a
batch on the perf world's cooperative stub model, still finishes on the other replicas.

The replicas are perf stubs (``benchmarks.perf.stub``), each its own process and port, so that
killing one closes its open connections too, as a crashed server does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from benchmarks.perf.stub import PerfStub, model_name
from benchmarks.perf.world import instruction, orchestrator
from modelclient import ChatMessage, EndpointConfig, ModelsConfig, OpenAIModel
from modelclient.pool import ModelPool

HI = [ChatMessage(role="user", content="hi")]


@pytest.fixture(scope="module")
def survivors() -> Iterator[list[PerfStub]]:
    with ThreadPoolExecutor(2) as pool:
        started = list(pool.map(lambda _: PerfStub().start(), range(2)))
    try:
        yield started
    finally:
        for stub in started:
            stub.stop()


@pytest.fixture
def stubs(survivors: list[PerfStub]) -> Iterator[list[PerfStub]]:
    """Three replicas: a fresh one (``stubs[0]``, the one each test kills) and two others."""
    victim = PerfStub().start()
    try:
        yield [victim, *survivors]
    finally:
        victim.stop()


def replicas(stubs: list[PerfStub], latency_ms: float) -> EndpointConfig:
    return EndpointConfig(
        base_urls=[s.url for s in stubs],
        model=model_name(latency_ms),
        structured="json_schema",
        max_retries=3,
        backoff_s=0.01,
        timeout_s=10,
    )


async def kill_when(ready: Callable[[], bool], stub: PerfStub) -> None:
    """Stop ``stub``'s process once ``ready()`` holds."""
    while not ready():
        await asyncio.sleep(0.01)
    await asyncio.to_thread(stub.stop)


async def test_requests_finish_when_a_replica_dies_mid_run(stubs: list[PerfStub]) -> None:
    victim = stubs[0]
    async with OpenAIModel(replicas(stubs, 20)) as model:
        balancer = model._connections.balancer

        def answered(url: str) -> int:
            stats = balancer.stats(url)
            return stats.requests - stats.errors

        def ready() -> bool:
            # the victim dies once it has done some work (a loaded machine can stall its
            # thread, and the balancer rightly sends it less), and before the clients are done
            return answered(victim.url) >= 5 or sum(map(answered, balancer.replicas)) >= 60

        async def client() -> int:
            done = 0
            for _ in range(15):
                completion = await model.complete(HI)
                done += bool(completion.text)
            return done

        killer = asyncio.create_task(kill_when(ready, victim))
        done = await asyncio.gather(*(client() for _ in range(6)))
        await killer
        dead = balancer.stats(victim.url)
    assert sum(done) == 90
    assert dead.requests - dead.errors >= 5  # it did work before it died
    assert dead.errors >= 1 and dead.in_flight == 0
    alive = [balancer.stats(s.url) for s in stubs if s is not victim]
    assert all(s.errors == 0 for s in alive)


async def test_a_batch_of_runs_finishes_when_a_replica_dies(
    stubs: list[PerfStub], tmp_path: Path
) -> None:
    victim = stubs[0]
    pool = ModelPool(ModelsConfig(default=replicas(stubs, 30)), persist_probes=False)
    balancer = pool._connections.balancer

    def answered() -> int:
        return sum(s.requests - s.errors for s in balancer.replicas.values())

    async def one(i: int) -> str:
        folder = tmp_path / f"run{i}"
        folder.mkdir()
        record = await orchestrator(pool, folder, apps=2, max_nodes=2).run(instruction("fanout", 2))
        return record.status

    async with pool:
        killer = asyncio.create_task(kill_when(lambda: answered() >= 12, victim))
        statuses = await asyncio.gather(*(one(i) for i in range(8)))
        await killer
    assert statuses == ["succeeded"] * 8
    assert balancer.stats(victim.url).errors >= 1


async def test_a_bfcl_benchmark_finishes_when_a_replica_dies(
    stubs: list[PerfStub], tmp_path: Path
) -> None:
    """``steward bench bfcl``'s harness on a served model (the perf stubs' cooperative
    answers: the tasks fail BFCL's checker, but every one must finish and be scored)."""
    from agents.settings import AgentSettings
    from benchmarks.bfcl import BenchConfig, run_benchmark
    from benchmarks.bfcl.models import PoolSource

    victim = stubs[0]
    source = PoolSource(ModelsConfig(default=replicas(stubs, 20)))
    balancer = source.pool._connections.balancer

    def answered() -> int:
        return sum(s.requests - s.errors for s in balancer.replicas.values())

    config = BenchConfig(
        category="multi_turn_base",
        limit=4,
        concurrency=4,
        out=tmp_path,
        settings=AgentSettings(max_steps=3),
        max_calls_per_turn=8,
    )
    killer = asyncio.create_task(kill_when(lambda: answered() >= 20, victim))
    summary = await run_benchmark(config, source)
    await killer
    assert summary.tasks == 4 and summary.tasks_run == 4
    assert balancer.stats(victim.url).errors >= 1
    assert summary.totals.model_calls > 20
