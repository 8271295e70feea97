"""Several replicas per role: the fewest requests in flight wins, a failing replica is put aside
and the request retried on another, per-replica limits hold, and all down is a clear error."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from core.errors import ServerError, ServerUnreachableError
from modelclient import ChatMessage, EndpointConfig, ModelsConfig, OpenAIModel, StubServer
from modelclient.balance import MAX_COOLDOWN_S, Balancer
from modelclient.pool import ModelPool
from modelclient.stub import free_port

HI = [ChatMessage(role="user", content="hi")]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def balancer(clock: Clock) -> Balancer:
    return Balancer(clock=clock, rng=lambda: 0.5, publish=False)


def test_the_replica_with_the_fewest_requests_in_flight_is_picked() -> None:
    b = balancer(Clock())
    urls = ["a", "b", "c"]
    picked = []
    for _ in range(6):
        url, ready = b.pick(urls)
        assert ready
        b.start(url)
        picked.append(url)
    assert sorted(picked) == ["a", "a", "b", "b", "c", "c"]
    b.succeed("b", 0.1)
    assert b.pick(urls) == ("b", True)


def test_ties_go_to_the_lower_latency_and_unmeasured_replicas_first() -> None:
    b = balancer(Clock())
    for url, latency in (("a", 0.5), ("b", 0.1)):
        b.start(url)
        b.succeed(url, latency)
    assert b.pick(["a", "b"]) == ("b", True)
    assert b.pick(["a", "b", "new"]) == ("new", True)


def test_a_failed_replica_is_put_aside_for_a_growing_cool_down() -> None:
    clock = Clock()
    b = balancer(clock)
    b.start("a")
    b.fail("a", "HTTP 503", cooldown_s=5)
    assert b.pick(["a", "b"]) == ("b", True)
    clock.now += 4.9
    assert b.pick(["a", "b"]) == ("b", True)
    clock.now += 0.2  # cool-down over: the replica is tried again
    b.stats("b").in_flight = 1
    assert b.pick(["a", "b"]) == ("a", True)
    b.start("a")
    b.fail("a", "HTTP 503", cooldown_s=5)  # a failure in a row: twice as long
    assert b.stats("a").cool_until == pytest.approx(clock.now + 10)
    b.start("a")
    b.fail("a", "HTTP 503", cooldown_s=5)  # in flight when it was put aside: no longer
    assert b.stats("a").cool_until == pytest.approx(clock.now + 10)
    for _ in range(10):
        clock.now += MAX_COOLDOWN_S + 1
        b.start("a")
        b.fail("a", "down", cooldown_s=5)
    assert b.stats("a").cool_until == pytest.approx(clock.now + MAX_COOLDOWN_S)
    clock.now += MAX_COOLDOWN_S + 1
    b.start("a")
    b.succeed("a", 0.2)  # an answer ends the run of failures
    b.start("a")
    b.fail("a", "HTTP 503", cooldown_s=5)
    assert b.stats("a").cool_until == pytest.approx(clock.now + 5)
    assert (b.stats("a").requests, b.stats("a").errors, b.stats("a").in_flight) == (15, 14, 0)


def test_when_every_replica_is_put_aside_the_soonest_back_is_used() -> None:
    clock = Clock()
    b = balancer(clock)
    for url, retry_after in (("a", 30.0), ("b", 0.0)):
        b.start(url)
        b.fail(url, "HTTP 429", cooldown_s=5, at_least_s=retry_after)
    assert b.pick(["a", "b"]) == ("b", False)
    assert b.stats("a").cool_until == pytest.approx(clock.now + 30)


def endpoint(*urls: str, **fields: object) -> EndpointConfig:
    settings: dict[str, object] = {"backoff_s": 0.01, "timeout_s": 5.0, "cooldown_s": 5.0}
    settings.update(fields)
    return EndpointConfig.model_validate({"base_urls": list(urls), **settings})


async def steady_load(model: OpenAIModel, clients: int, each: int) -> None:
    """``clients`` callers, each sending ``each`` requests one after the other."""

    async def client() -> None:
        for _ in range(each):
            await model.complete(HI)

    await asyncio.gather(*(client() for _ in range(clients)))


async def test_load_spreads_over_three_replicas() -> None:
    """Six callers on three replicas: never more than two requests on one replica at a time,
    whatever the timing. (How many each serves in all depends on the machine: on a loaded one
    a stub thread may stall for most of a second, and the others take its share meanwhile.)"""
    with (
        StubServer(latency_s=0.02) as a,
        StubServer(latency_s=0.02) as b,
        StubServer(latency_s=0.02) as c,
    ):
        async with OpenAIModel(endpoint(a.url, b.url, c.url)) as model:
            balancer = model._connections.balancer
            most: dict[str, int] = {}
            start = balancer.start

            def counted(url: str) -> None:
                start(url)
                most[url] = max(most.get(url, 0), balancer.stats(url).in_flight)

            balancer.start = counted  # type: ignore[method-assign]
            await steady_load(model, clients=6, each=10)
        counts = [len(s.requests) for s in (a, b, c)]
    assert sum(counts) == 60
    assert most == {a.url: 2, b.url: 2, c.url: 2}, counts


async def test_a_slow_replica_gets_less_traffic() -> None:
    with (
        StubServer(latency_s=0.02) as a,
        StubServer(latency_s=0.02) as b,
        StubServer(latency_s=0.25) as slow,
    ):
        async with OpenAIModel(endpoint(a.url, b.url, slow.url)) as model:
            await steady_load(model, clients=6, each=8)
        counts = (len(a.requests), len(b.requests), len(slow.requests))
    # less than half a fast replica's mean share (a loaded machine may stall one fast stub's
    # thread for most of a second: the other fast one takes its share meanwhile)
    assert counts[2] * 4 < counts[0] + counts[1], counts


async def test_each_replica_keeps_its_concurrency_limit() -> None:
    """Twelve requests at once on two replicas of limit 2: four are handled at a time, two on
    each (each replica its own limit, not one limit for the set). The stubs hold every request
    until four are in (a barrier), so this does not depend on the machine's timing; with one
    limit for the set the barrier would break."""
    together = threading.Barrier(4, timeout=10)

    def held(stub: StubServer) -> Callable[[dict[str, Any]], Any]:
        handle = stub._handle

        def wait_then_handle(body: dict[str, Any]) -> Any:
            together.wait()
            return handle(body)

        return wait_then_handle

    with StubServer(latency_s=0.02) as a, StubServer(latency_s=0.02) as b:
        a._handle, b._handle = held(a), held(b)  # type: ignore[method-assign]
        async with OpenAIModel(endpoint(a.url, b.url, max_concurrency=2)) as model:
            await asyncio.gather(*(model.complete(HI) for _ in range(12)))
        assert not together.broken
        assert (a.max_in_flight, b.max_in_flight) == (2, 2)
        assert (len(a.requests), len(b.requests)) == (6, 6)


async def test_a_failing_replica_is_put_aside_and_the_request_retried_on_another() -> None:
    with StubServer() as a, StubServer() as bad:
        bad.fail("503", times=1000)
        async with OpenAIModel(endpoint(a.url, bad.url, max_retries=1)) as model:
            for _ in range(10):  # one retry is enough: the other replica is up
                completion = await model.complete(HI)
                assert completion.text
            stats = model._connections.balancer.stats(bad.url)
        assert len(bad.requests) == 1  # then put aside for the rest of the cool-down
        assert (stats.errors, stats.last_error) == (1, "HTTP 503: injected 503")
        assert len(a.requests) == 10


async def test_a_dead_replica_costs_one_try_then_none() -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with StubServer() as a:
        async with OpenAIModel(endpoint(dead, a.url, max_retries=1)) as model:
            for _ in range(5):
                await model.complete(HI)
            stats = model._connections.balancer.stats(dead)
        assert (stats.requests, stats.errors) == (1, 1)


async def test_all_replicas_down_is_a_clear_error_after_the_retry_budget() -> None:
    urls = [f"http://127.0.0.1:{free_port()}/v1" for _ in range(3)]
    started = time.monotonic()
    async with OpenAIModel(endpoint(*urls, max_retries=4)) as model:
        with pytest.raises(ServerUnreachableError) as info:
            await model.complete(HI)
    message = str(info.value)
    assert "all 3 replicas" in message and "after 5 tries" in message
    assert all(url in message for url in urls)
    assert time.monotonic() - started < 5  # backoff only once every replica was tried


async def test_all_replicas_failing_is_a_server_error_naming_each() -> None:
    with StubServer() as a, StubServer() as b:
        a.fail("500", times=100)
        b.fail("503", times=100)
        async with OpenAIModel(endpoint(a.url, b.url, max_retries=2)) as model:
            with pytest.raises(ServerError) as info:
                await model.complete(HI)
    assert f"{a.url}: HTTP 500" in str(info.value) and f"{b.url}: HTTP 503" in str(info.value)
    assert info.value.tries == 3


async def test_replicas_are_probed_once_as_a_set() -> None:
    with StubServer() as a, StubServer() as b:
        config = ModelsConfig(default=endpoint(a.url, b.url, structured="auto"))
        async with ModelPool(config, persist_probes=False) as pool:
            result = await pool.probe()
            await pool.for_role("steward").complete(HI, schema={"type": "object"})
        assert result.base_url == f"{a.url},{b.url}"
        probes = [r for s in (a, b) for r in s.requests if r.get("max_tokens") == 32]
        assert len(probes) == 3  # three probe requests in all, spread over the replicas
