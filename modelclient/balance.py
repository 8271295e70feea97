"""Replicas of one served model: each request goes to the replica with the fewest requests in
flight, a replica that fails is put aside for a cool-down, and every replica keeps counters.

A ``Balancer`` belongs to one ``Connections`` (one ``ModelPool``): it sees the requests of that
pool, not those of other processes. Ties (equal requests in flight) go to the replica with the
lower mean latency, and among replicas never measured, to a random one, so that many processes
starting at once spread their first requests. A replica put aside gets no new request until its
cool-down ends (``cooldown_s``, doubling with each failure in a row, at most 60 s), unless every
replica is put aside: then the one whose cool-down ends first is used.

The counters of a process (requests and errors since it started, requests in flight and
cool-downs of its open pools, by replica) are written, at most once a second and when a pool
closes, to ``core.cache_dir()/endpoints/<pid>.json``; ``steward endpoints`` shows those of the
processes still running (see :func:`read_live`).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import random
import sys
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.paths import cache_dir

MAX_COOLDOWN_S = 60.0
"""Longest time a failing replica is put aside."""
PUBLISH_EVERY_S = 1.0
"""Least time between two writes of a process's counters."""
_EWMA = 0.3  # weight of the newest latency in the mean


@dataclass
class ReplicaStats:
    """What one process knows of one replica (a base URL)."""

    url: str
    in_flight: int = 0
    """Requests sent (or waiting for the replica's concurrency limit) and not yet answered."""
    requests: int = 0
    """Requests finished: answered, or failed."""
    errors: int = 0
    """Requests that failed on the replica (connection error, timeout, 5xx, 429, no choices)."""
    latency_s: float | None = None
    """Exponentially weighted mean of the answered requests' latency (``None``: none yet)."""
    failures_in_row: int = 0
    cool_until: float = 0.0
    """``time.monotonic()`` at which the cool-down ends."""
    last_error: str = ""

    def cooling(self, now: float) -> bool:
        """Whether the replica is put aside at ``now``."""
        return now < self.cool_until

    def as_dict(self, now: float) -> dict[str, Any]:
        """The counters as JSON data (what ``steward endpoints`` reads)."""
        return {
            "url": self.url,
            "in_flight": self.in_flight,
            "requests": self.requests,
            "errors": self.errors,
            "latency_ms": None if self.latency_s is None else round(1000 * self.latency_s, 1),
            "cooling_down_s": round(max(0.0, self.cool_until - now), 1),
            "last_error": self.last_error,
        }


class Balancer:
    """Chooses a replica for each request and keeps each replica's counters.

    Not thread-safe: use it from one event loop at a time (as ``Connections`` does).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        publish: bool = True,
    ) -> None:
        self.clock = clock
        self.rng = rng
        self.replicas: dict[str, ReplicaStats] = {}
        self.publishes = publish
        if publish:
            _LIVE.add(self)

    def stats(self, url: str) -> ReplicaStats:
        """The counters of ``url`` (created on first use)."""
        stats = self.replicas.get(url)
        if stats is None:
            stats = self.replicas[url] = ReplicaStats(url)
        return stats

    def pick(self, urls: Sequence[str]) -> tuple[str, bool]:
        """The replica for the next request, and whether it is available (``False``: every
        replica is put aside, and this is the one whose cool-down ends first)."""
        now = self.clock()
        all_stats = [self.stats(url) for url in urls]
        ready = [s for s in all_stats if not s.cooling(now)]
        if not ready:
            return min(all_stats, key=lambda s: s.cool_until).url, False
        if len(ready) == 1:
            return ready[0].url, True
        best = min(ready, key=lambda s: (s.in_flight, s.latency_s or 0.0, self.rng()))
        return best.url, True

    def start(self, url: str) -> None:
        """A request to ``url`` begins (call right after :meth:`pick`, with no await between)."""
        if self.publishes and self not in _LIVE:  # used again after close
            _LIVE.add(self)
        self.stats(url).in_flight += 1

    def succeed(self, url: str, latency_s: float) -> None:
        """The request to ``url`` was answered after ``latency_s`` seconds."""
        stats = self.stats(url)
        stats.in_flight -= 1
        stats.requests += 1
        stats.failures_in_row = 0
        stats.cool_until = 0.0
        old = stats.latency_s
        stats.latency_s = latency_s if old is None else (1 - _EWMA) * old + _EWMA * latency_s
        if self.publishes:
            _count(url, latency_s=latency_s)

    def fail(self, url: str, detail: str, cooldown_s: float, *, at_least_s: float = 0.0) -> None:
        """The request to ``url`` failed on the replica: put it aside for ``cooldown_s``
        (doubled per earlier failure in a row, at most :data:`MAX_COOLDOWN_S`, at least
        ``at_least_s``, e.g. a 429's Retry-After). Requests already in flight that fail while
        it is put aside do not lengthen the cool-down: only a failed try after it does."""
        stats = self.stats(url)
        stats.in_flight -= 1
        stats.requests += 1
        stats.errors += 1
        stats.last_error = detail[:200]
        now = self.clock()
        if stats.cooling(now):
            stats.cool_until = max(stats.cool_until, now + at_least_s)
        else:
            wait = min(cooldown_s * 2**stats.failures_in_row, MAX_COOLDOWN_S)
            stats.failures_in_row += 1
            stats.cool_until = now + max(wait, at_least_s)
        if self.publishes:
            _count(url, error=stats.last_error)

    def end(self, url: str) -> None:
        """The request to ``url`` ended in a way that says nothing of the replica (the request
        itself was refused, or it was cancelled)."""
        stats = self.stats(url)
        stats.in_flight -= 1
        stats.requests += 1
        if self.publishes:
            _count(url)

    def snapshot(self) -> list[dict[str, Any]]:
        """Every replica's counters, as JSON data."""
        now = self.clock()
        return [stats.as_dict(now) for stats in self.replicas.values()]

    def close(self) -> None:
        """The pool is closed: its requests in flight and cool-downs no longer count in what
        the process publishes (its requests and errors do); publish now."""
        _LIVE.discard(self)
        publish(force=True)


_LIVE: weakref.WeakSet[Balancer] = weakref.WeakSet()
_TOTALS: dict[str, dict[str, Any]] = {}  # per URL, since the process started
_last_publish = 0.0
_WRITTEN: set[Path] = set()
_PENDING: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def live_dir() -> Path:
    """Where running processes keep their counters: ``core.cache_dir()/endpoints``."""
    return cache_dir() / "endpoints"


def _count(url: str, *, latency_s: float | None = None, error: str | None = None) -> None:
    """Count one finished request to ``url`` in the process's totals, and publish."""
    total = _TOTALS.setdefault(
        url, {"requests": 0, "errors": 0, "answered": 0, "latency_s": 0.0, "last_error": ""}
    )
    total["requests"] += 1
    if latency_s is not None:
        total["answered"] += 1
        total["latency_s"] += latency_s
    if error is not None:
        total["errors"] += 1
        total["last_error"] = error
    publish()


def process_counters() -> list[dict[str, Any]]:
    """This process's counters per replica: requests, errors, mean latency and last error
    since it started; requests in flight and cool-downs of its open pools."""
    out: dict[str, dict[str, Any]] = {}
    for url, total in _TOTALS.items():
        answered = total["answered"]
        mean = round(1000 * total["latency_s"] / answered, 1) if answered else None
        out[url] = {
            "url": url,
            "in_flight": 0,
            "requests": total["requests"],
            "errors": total["errors"],
            "latency_ms": mean,
            "cooling_down_s": 0.0,
            "last_error": total["last_error"],
        }
    for balancer in list(_LIVE):
        for item in balancer.snapshot():
            entry = out.setdefault(
                item["url"], {**item, "requests": 0, "errors": 0, "latency_ms": None}
            )
            if entry is not item:
                entry["in_flight"] += item["in_flight"]
                entry["cooling_down_s"] = max(entry["cooling_down_s"], item["cooling_down_s"])
    return list(out.values())


def publish(*, force: bool = False) -> None:
    """Write :func:`process_counters` to ``live_dir()/<pid>.json``, at most once per
    :data:`PUBLISH_EVERY_S` unless ``force`` (then once more when the interval has passed);
    the file is removed when the process exits. Best effort: never raises."""
    global _last_publish
    now = time.monotonic()
    if not force and now - _last_publish < PUBLISH_EVERY_S:
        _publish_later()
        return
    _last_publish = now
    endpoints = process_counters()
    if not endpoints:
        return
    payload = {
        "pid": os.getpid(),
        "command": " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]]),
        "updated_at": time.time(),
        "endpoints": endpoints,
    }
    try:
        path = live_dir() / f"{os.getpid()}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(payload), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        return
    if path not in _WRITTEN:
        _WRITTEN.add(path)
        atexit.register(path.unlink, missing_ok=True)


def _publish_later() -> None:
    """Write once more when the interval has passed, so the file ends with the last state."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    if loop in _PENDING:
        return
    _PENDING.add(loop)

    def trailing() -> None:
        _PENDING.discard(loop)
        publish(force=True)

    loop.call_later(PUBLISH_EVERY_S, trailing)


def read_live(folder: Path | None = None) -> list[dict[str, Any]]:
    """The counters published by Steward processes still running, one entry per process;
    files of processes that have ended are removed."""
    folder = folder or live_dir()
    out: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            pid = int(data["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not _alive(pid):
            path.unlink(missing_ok=True)
            continue
        out.append(data)
    return out


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
