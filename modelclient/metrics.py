"""A vLLM server's Prometheus ``/metrics`` page: its prefix-cache counters, and how busy it is.

vLLM counts, in tokens, how much of each prompt it looked up in its prefix cache
(``vllm:prefix_cache_queries_total``) and how much it found there
(``vllm:prefix_cache_hits_total``). Read before and after a benchmark, the difference says
how much prefill the cache saved. The counters are the server's, so other clients' requests
in between count too. A server without them (not vLLM, or unreachable) gives ``None``.

``requests_in_flight`` sums the ``vllm:num_requests_running`` and ``vllm:num_requests_waiting``
gauges: ``steward train`` warns when the embedded server it shares the CPU with is busy.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

_LINE = re.compile(r"^(vllm:prefix_cache_(?:queries|hits)_total)(?:\{[^}]*\})?\s+([0-9.eE+-]+)\s*$")
_IN_FLIGHT = re.compile(
    r"^vllm:num_requests_(?:running|waiting)(?:\{[^}]*\})?\s+([0-9.eE+-]+)\s*$", re.M
)


class CacheCounters(BaseModel):
    """Prefix-cache tokens looked up and found, summed over the servers read."""

    model_config = ConfigDict(extra="forbid")

    queried_tokens: int = 0
    hit_tokens: int = 0

    def __sub__(self, earlier: CacheCounters) -> CacheCounters:
        return CacheCounters(
            queried_tokens=self.queried_tokens - earlier.queried_tokens,
            hit_tokens=self.hit_tokens - earlier.hit_tokens,
        )

    @property
    def hit_rate(self) -> float | None:
        """Share of the prompt tokens looked up that were found (``None`` before any)."""
        return self.hit_tokens / self.queried_tokens if self.queried_tokens > 0 else None


def metrics_url(base_url: str) -> str:
    """``http://host:port/metrics`` for an OpenAI-compatible ``.../v1`` base URL."""
    root = base_url.rstrip("/")
    return (root[: -len("/v1")] if root.endswith("/v1") else root) + "/metrics"


def parse_counters(text: str) -> CacheCounters | None:
    """The counters in a ``/metrics`` page (summed over its engines), or ``None``."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match:
            found[match.group(1)] = found.get(match.group(1), 0.0) + float(match.group(2))
    if not found:
        return None
    return CacheCounters(
        queried_tokens=int(found.get("vllm:prefix_cache_queries_total", 0)),
        hit_tokens=int(found.get("vllm:prefix_cache_hits_total", 0)),
    )


def read_metrics(base_url: str, timeout_s: float = 5.0) -> str | None:
    """The server's ``/metrics`` page, or ``None`` when it cannot be read."""
    try:
        with urllib.request.urlopen(metrics_url(base_url), timeout=timeout_s) as response:
            return str(response.read().decode("utf-8", "replace"))
    except (urllib.error.URLError, OSError, ValueError):
        return None


def requests_in_flight(base_url: str, timeout_s: float = 2.0) -> int | None:
    """Requests the vLLM server at ``base_url`` is running or queueing (every engine's);
    ``None`` when it cannot be asked or its metrics do not say."""
    text = read_metrics(base_url, timeout_s)
    values = _IN_FLIGHT.findall(text) if text is not None else []
    return round(sum(float(v) for v in values)) if values else None


def read_counters(base_urls: Iterable[str], timeout_s: float = 5.0) -> CacheCounters | None:
    """The counters of every distinct server among ``base_urls``, summed; ``None`` when none
    of them reports any."""
    total: CacheCounters | None = None
    for base_url in {metrics_url(u): u for u in base_urls}.values():  # one read per server
        text = read_metrics(base_url, timeout_s)
        counters = parse_counters(text) if text is not None else None
        if counters is not None:
            total = (
                counters
                if total is None
                else CacheCounters(
                    queried_tokens=total.queried_tokens + counters.queried_tokens,
                    hit_tokens=total.hit_tokens + counters.hit_tokens,
                )
            )
    return total
