"""Serving speed of the embedded server: time to ready, tokens/s at 1, 4 and 8 concurrent
requests, and time to first token.

Every request uses the same prompt and ``max_tokens`` with ``ignore_eos`` (a vLLM sampling
extra), so each produces exactly ``max_tokens`` tokens and runs are comparable.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence

from openai import AsyncOpenAI
from pydantic import BaseModel, ConfigDict, Field

from local.server import (
    ServerSettings,
    server_status,
    start_server,
    stop_server,
)
from local.settings import Progress, no_progress

PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."


class ConcurrencyResult(BaseModel):
    """Throughput with ``concurrency`` requests sent at once (mean over rounds)."""

    model_config = ConfigDict(extra="forbid")

    concurrency: int
    """Requests in flight together."""
    completion_tokens: int
    """Tokens generated in one round, summed over its requests."""
    wall_s: float
    """Seconds from the first send to the last answer of a round."""
    total_tokens_per_s: float
    """All generated tokens divided by the wall time."""
    per_request_tokens_per_s: float
    """What one of the concurrent requests sees."""


class ServeBenchResult(BaseModel):
    """One ``steward bench serve`` run."""

    model_config = ConfigDict(extra="forbid")

    base_url: str
    """Endpoint measured."""
    model: str
    """Served model name."""
    max_tokens: int
    """Tokens per request (forced with ``ignore_eos``)."""
    fresh_start: bool
    """True when the server was (re)started by this run, so ``time_to_ready_s`` is measured."""
    time_to_ready_s: float | None
    """Launch to first answer of ``/v1/models``; None when an already running server was used."""
    single_tokens_per_s: float
    """Generation speed of one request alone."""
    ttft_s: float
    """Median time to first streamed token."""
    concurrency: list[ConcurrencyResult] = Field(default_factory=list)
    """Total throughput per concurrency level."""


async def _one_request(client: AsyncOpenAI, model: str, max_tokens: int) -> int:
    response = await client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": PROMPT}],
        max_tokens=max_tokens,
        temperature=0.0,
        extra_body={"ignore_eos": True},
    )
    return response.usage.completion_tokens if response.usage else 0


async def measure_concurrency(
    client: AsyncOpenAI, model: str, concurrency: int, max_tokens: int, rounds: int = 2
) -> ConcurrencyResult:
    """Send ``concurrency`` identical requests at once, ``rounds`` times; report the mean."""
    tokens, walls = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        counts = await asyncio.gather(
            *(_one_request(client, model, max_tokens) for _ in range(concurrency))
        )
        walls.append(time.perf_counter() - started)
        tokens.append(sum(counts))
    wall, total = statistics.mean(walls), statistics.mean(tokens)
    return ConcurrencyResult(
        concurrency=concurrency,
        completion_tokens=round(total),
        wall_s=round(wall, 3),
        total_tokens_per_s=round(total / wall, 1),
        per_request_tokens_per_s=round(total / concurrency / wall, 1),
    )


async def measure_ttft(client: AsyncOpenAI, model: str, repeats: int = 3) -> float:
    """Median seconds from sending a streamed request to its first content token."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        first: float | None = None
        stream = await client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": PROMPT}],
            max_tokens=8,
            temperature=0.0,
            stream=True,
            extra_body={"ignore_eos": True},
        )
        async for chunk in stream:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - started
        samples.append(first if first is not None else time.perf_counter() - started)
    return round(statistics.median(samples), 3)


async def measure_endpoint(
    base_url: str,
    model: str,
    *,
    max_tokens: int,
    levels: Sequence[int],
    progress: Progress = no_progress,
) -> tuple[float, float, list[ConcurrencyResult]]:
    """Warm up, then return ``(single tokens/s, ttft, results per concurrency level)``."""
    client = AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0, timeout=600.0)
    try:
        progress("warming up")
        await _one_request(client, model, 8)
        progress("measuring time to first token")
        ttft = await measure_ttft(client, model)
        results = []
        for level in levels:
            progress(f"measuring {level} concurrent request(s) of {max_tokens} tokens")
            results.append(await measure_concurrency(client, model, level, max_tokens))
        single = next((r for r in results if r.concurrency == 1), None)
        if single is None:
            single = await measure_concurrency(client, model, 1, max_tokens)
        return single.total_tokens_per_s, ttft, results
    finally:
        await client.close()


def run_serve_bench(
    settings: ServerSettings,
    *,
    max_tokens: int = 128,
    levels: Sequence[int] = (1, 4, 8),
    fresh: bool = True,
    progress: Progress = no_progress,
) -> ServeBenchResult:
    """Benchmark the embedded server. With ``fresh`` (the default) a running server is
    stopped first so the time to ready of a real start is measured. The server is left as it
    was found: running (with the settings of this run) if it ran before, else stopped."""
    was_running = server_status(settings).running
    if fresh and was_running:
        progress("stopping the running server to measure a fresh start")
        stop_server(settings)
    started_here = fresh or not was_running
    try:
        info = start_server(settings, progress)
        result_parts = asyncio.run(
            measure_endpoint(
                info.base_url, info.model, max_tokens=max_tokens, levels=levels, progress=progress
            )
        )
    finally:
        if not was_running:
            progress("stopping the server this benchmark started")
            stop_server(settings)
    single, ttft, results = result_parts
    return ServeBenchResult(
        base_url=info.base_url,
        model=info.model,
        max_tokens=max_tokens,
        fresh_start=started_here,
        time_to_ready_s=info.ready_after_s if started_here else None,
        single_tokens_per_s=single,
        ttft_s=ttft,
        concurrency=results,
    )
