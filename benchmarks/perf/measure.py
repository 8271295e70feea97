"""One measurement each: a steward run, a bare LangGraph graph or loop, a plain gather.

Every measurement resets the stub's counters, runs, and reads back how many calls the stub
served and how long it spent serving them (its latency included): that is the time spent
waiting on the model. Time spent in the apps comes from the run record.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import openai
from pydantic import BaseModel

from agents.records import RunRecord
from benchmarks.perf import bare, world
from benchmarks.perf.stub import PerfStub, model_name
from memory.runs import RunStore
from modelclient.pool import ModelPool


class Sample(BaseModel):
    """Wall time of one measured run and where it went."""

    wall_s: float
    calls: int
    """Model calls the stub served."""
    model_s: float
    """Seconds the stub spent answering (its fixed latency included)."""
    app_s: float = 0.0
    """Seconds spent inside app tools."""
    status: str = "succeeded"
    checkpoint_bytes: int = 0
    checkpoints: int = 0

    @property
    def overhead_s(self) -> float:
        return max(0.0, self.wall_s - self.model_s - self.app_s)

    @property
    def overhead_ms_per_call(self) -> float:
        return 1000 * self.overhead_s / max(1, self.calls)


def app_seconds(record: RunRecord) -> float:
    return sum(s.latency_s for sub in record.subtasks for a in sub.history for s in a.steps)


def checkpoint_size(path: Path, run_id: str) -> tuple[int, int]:
    """(bytes, checkpoints) stored for one run: its checkpoints and their pending writes."""
    with sqlite3.connect(path) as conn:
        count, size = conn.execute(
            "select count(*), coalesce(sum(length(checkpoint) + length(metadata)), 0) "
            "from checkpoints where thread_id = ?",
            [run_id],
        ).fetchone()
        (writes,) = conn.execute(
            "select coalesce(sum(length(value)), 0) from writes where thread_id = ?", [run_id]
        ).fetchone()
    return int(size) + int(writes), int(count)


class Bench:
    """The stub, one pooled client per latency, and a folder for run stores."""

    def __init__(self, stub: PerfStub, folder: Path) -> None:
        self.stub = stub
        self.folder = folder
        self._pools: dict[tuple[float, bool], ModelPool] = {}
        self._clients: dict[float, openai.AsyncOpenAI] = {}
        self.store = RunStore(folder / "runs.db")

    def pool(self, latency_ms: float, *, uneven: bool = False) -> ModelPool:
        """Models at ``latency_ms``; ``uneven``: the long branch's app served slower."""
        key = (latency_ms, uneven)
        if key not in self._pools:
            slow = {world.slow_token(): model_name(world.SLOW * latency_ms)} if uneven else {}
            self._pools[key] = world.pool(self.stub.url, model_name(latency_ms), slow)
        return self._pools[key]

    def client(self, latency_ms: float) -> openai.AsyncOpenAI:
        if latency_ms not in self._clients:
            self._clients[latency_ms] = openai.AsyncOpenAI(
                base_url=self.stub.url, api_key="EMPTY", max_retries=0
            )
        return self._clients[latency_ms]

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        for client in self._clients.values():
            await client.close()
        self.store.close()

    async def _timed(self, work: Callable[[], Awaitable[object]]) -> tuple[float, object]:
        self.stub.reset()
        start = time.perf_counter()
        result = await work()
        return time.perf_counter() - start, result

    def _sample(self, wall: float, **extra: object) -> Sample:
        stats = self.stub.stats()
        return Sample(wall_s=wall, calls=stats["requests"], model_s=stats["service_s"], **extra)  # type: ignore[arg-type]

    async def steward(self, shape: str, n: int, latency_ms: float, *, apps: int) -> Sample:
        """One steward run of a ``shape`` plan of ``n`` subtasks over ``apps`` counter apps."""
        pool = self.pool(latency_ms, uneven=shape == "uneven")
        orch = world.orchestrator(pool, self.folder, apps=apps, max_nodes=n, store=self.store)
        wall, record = await self._timed(lambda: orch.run(world.instruction(shape, n)))
        assert isinstance(record, RunRecord)
        size, count = checkpoint_size(self.folder / "checkpoints.db", record.run_id)
        return self._sample(
            wall,
            app_s=app_seconds(record),
            status=record.status,
            checkpoint_bytes=size,
            checkpoints=count,
        )

    async def bare_loop(
        self, calls: int, latency_ms: float, bodies: list[dict[str, Any]] | None = None
    ) -> Sample:
        """The bare LangGraph loop, sending ``bodies`` (recorded requests) if given."""
        client = self.client(latency_ms)
        model = model_name(latency_ms)
        wall, _ = await self._timed(lambda: bare.loop(client, model, calls, bodies))
        return self._sample(wall)

    async def bare_dag(self, shape: str, n: int, latency_ms: float) -> Sample:
        client = self.client(latency_ms)
        slow = model_name(world.SLOW * latency_ms)
        wall, _ = await self._timed(
            lambda: bare.dag(client, model_name(latency_ms), shape, n, slow_model=slow)
        )
        return self._sample(wall)

    async def gather(self, n: int, latency_ms: float) -> Sample:
        client = self.client(latency_ms)
        wall, _ = await self._timed(lambda: bare.gather(client, model_name(latency_ms), n))
        return self._sample(wall)

    async def throughput(self, concurrency: int, tasks: int, latency_ms: float) -> float:
        """Steward runs (2-subtask chains) finished per minute with ``concurrency`` at once."""
        gate = asyncio.Semaphore(concurrency)
        pool = self.pool(latency_ms)

        async def one() -> None:
            async with gate:
                orch = world.orchestrator(pool, self.folder, apps=2, max_nodes=2, store=self.store)
                await orch.run(world.instruction("chain", 2))

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(tasks)))
        return 60 * tasks / (time.perf_counter() - start)
