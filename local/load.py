"""How busy the embedded server is: the requests it is running or queueing, from vLLM's
Prometheus ``/metrics`` (``vllm:num_requests_running`` and ``vllm:num_requests_waiting``).

Training an adapter and serving requests share the same CPU cores. Measured on 2 cores: a
steward-adapter step that takes about 2.2 s beside an idle server took 95 s while the server
answered a benchmark at concurrency 8, so ``steward train`` says so before each adapter.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request

_GAUGE = re.compile(r"^vllm:num_requests_(?:running|waiting)\{[^}]*\}\s+([0-9.eE+-]+)\s*$", re.M)


def requests_in_flight(base_url: str, *, timeout_s: float = 2.0) -> int | None:
    """Requests the vLLM server at ``base_url`` (``http://HOST:PORT/v1``) is running or
    queueing; ``None`` when it cannot be asked or its metrics do not say."""
    root = base_url.rstrip("/").removesuffix("/v1")
    try:
        with urllib.request.urlopen(f"{root}/metrics", timeout=timeout_s) as answer:
            text = answer.read().decode("utf-8", "replace")
    except (OSError, urllib.error.URLError, ValueError):
        return None
    values = _GAUGE.findall(text)
    if not values:
        return None
    try:
        return round(sum(float(v) for v in values))
    except ValueError:
        return None


def busy_warning(requests: int) -> str:
    """What ``steward train`` says when the server it shares the CPU with is busy."""
    return (
        f"warning: the embedded server is answering {requests} request(s); training shares "
        "the CPU with it and runs many times slower (on 2 cores: 95 s a step against 2.2 s). "
        "Train while it is idle, or stop it first (steward serve --stop)."
    )
