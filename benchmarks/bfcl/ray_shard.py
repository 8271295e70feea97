"""BFCL tasks on a Ray cluster: one Ray task per BFCL task, results back into this process.

This process (the driver) keeps everything a local run keeps: it checks the settings and the
held-out indices, writes each result to the same JSONL the moment it comes back (so a resumed
run skips it, and a worker that dies loses no finished task), writes the summary and plots,
and is the only one that writes memory.

Each Ray task builds its own harness in a private temporary folder: its own app instances
(``Harness.play_task``), run records and checkpoints, and a read-only copy of the memory as
the driver had it when the task was sent. It scores the task with BFCL's checker and returns
the result and the turns' run records; the driver then learns from a passed task exactly as a
local run does (``Harness.learn_from``), saves the records into ``OUT/runs.db``, and sends the
next tasks the memory as it is now. So only one process ever writes the memory file, a remote
cluster needs no shared disk, and a task sees what the tasks finished before it was sent
taught, as in a local run with the same concurrency. (Retrieval's use counts are not kept from
the workers' copies.)

A Ray task whose worker dies is retried by Ray (``max_retries``); one that still fails is
named in the error that ends the run, after the reports of the finished tasks are written, and
runs again on resume. An error inside a task (e.g. the model server went away) stops the run as
it does locally.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from agents.records import RunRecord
from benchmarks.bfcl.data import BfclTask
from benchmarks.bfcl.models import ModelSource, OracleSource, PoolSource
from benchmarks.bfcl.ray_cluster import LOCAL, connect, import_ray
from benchmarks.bfcl.results import BenchConfig, TaskResult
from core.errors import RunError, StewardError, UserError

if TYPE_CHECKING:
    from benchmarks.bfcl.harness import Harness

log = logging.getLogger("steward.benchmarks")

SourceFactory = Callable[[], ModelSource]


@dataclass(frozen=True)
class RayOptions:
    """How to run on Ray."""

    address: str | None = None
    """A running cluster (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``); ``None``: start a
    local one, with ``workers`` CPUs."""
    max_retries: int = 2
    """Times Ray runs a task again after its worker died."""
    source: SourceFactory | None = None
    """How a worker makes its models; ``None``: like the driver's source (the oracle models,
    or a pool over the same models config)."""


class RayReport(BaseModel):
    """How a run on Ray went (the ``runner`` part of ``steward bench bfcl --ray``'s summary)."""

    kind: str = "ray"
    address: str
    """``local`` (a cluster this run started), or the cluster's address."""
    nodes: int
    """Live nodes of the cluster (0: nothing was left to run, so no cluster was started or
    joined)."""
    cpus: float
    """CPUs of the cluster."""
    in_flight: int
    """Ray tasks sent at once (``--concurrency``)."""
    startup_s: float
    """Seconds to start (or join) the cluster."""
    tasks: int = 0
    """Tasks whose results came back."""
    lost: list[str] = Field(default_factory=list)
    """Tasks whose worker died more than ``max_retries`` times (not in the results)."""
    lost_reason: str = ""
    """What Ray said of the first task lost."""
    max_retries: int = 2

    def check_lost(self, results: Path) -> None:
        """Raise ``RunError`` naming the lost tasks, if any."""
        if self.lost:
            raise RunError(
                f"{len(self.lost)} task(s) lost their Ray worker {self.max_retries + 1} times "
                f"({', '.join(self.lost)}: {self.lost_reason}); the {self.tasks} finished are "
                f"in {results}: run the same command again to run the rest"
            )


@dataclass(frozen=True)
class WorkerSpec:
    """What every Ray task of a run gets (pickled once)."""

    config: BenchConfig
    source: SourceFactory
    checker_name: str
    tag: str


def worker_source(source: ModelSource) -> SourceFactory:
    """How a worker makes models like ``source``: the oracle's, or a pool on the same config."""
    if isinstance(source, OracleSource):
        return functools.partial(
            OracleSource,
            broken=source.broken,
            teacher=source.teacher,
            reject_share=source.reject_share,
        )
    if isinstance(source, PoolSource):
        return functools.partial(PoolSource, source.config)
    raise UserError(f"--ray runs the oracle models or served models, not {source.label!r}")


def memory_bytes(path: Path) -> bytes | None:
    """A consistent copy of the sqlite file at ``path`` (WAL included), as bytes; ``None`` when
    there is none yet."""
    if not path.exists():
        return None
    with tempfile.TemporaryDirectory(prefix="steward-ray-") as tmp:
        copy = Path(tmp) / "memory.db"
        src, dst = sqlite3.connect(path), sqlite3.connect(copy)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        return copy.read_bytes()


def play(spec: WorkerSpec, task: BfclTask, memory: bytes | None) -> dict[str, Any]:
    """One Ray task: run and score ``task`` in a private folder (the memory a read-only copy).
    Returns its result and its turns' run records as JSON, or the error that stopped it (as
    text: Steward's errors do not survive Ray's pickling of exceptions)."""
    from benchmarks.bfcl.harness import Harness
    from benchmarks.bfcl.score import forget_instances

    with tempfile.TemporaryDirectory(prefix="steward-ray-") as tmp:
        folder = Path(tmp)
        if memory is not None:
            (folder / "memory.db").write_bytes(memory)
        update = {"out": folder, "memory_db": folder / "memory.db", "learn": False}
        harness = Harness(spec.config.model_copy(update=update), spec.source())
        harness.checker_name, harness.tag = spec.checker_name, spec.tag

        async def run() -> tuple[TaskResult, list[RunRecord]]:
            try:
                return await harness.play_task(task)
            finally:
                await harness.source.aclose()

        try:
            result, records = asyncio.run(run())
        except Exception as exc:
            kind = (
                "user"
                if isinstance(exc, UserError)
                else "run"
                if isinstance(exc, StewardError)
                else "bug"
            )
            return {"error": {"kind": kind, "type": type(exc).__name__, "message": str(exc)}}
        finally:
            forget_instances(spec.checker_name, task.id)  # the worker lives on: free them
            harness.close()
    return {"result": result.model_dump_json(), "records": [r.model_dump_json() for r in records]}


def raise_failure(task: BfclTask, error: dict[str, str]) -> None:
    """Raise what stopped a Ray task here, as the same kind of error (a ``UserError`` exits
    with 2, a ``RunError`` with 1)."""
    message = error["message"]
    if error["kind"] == "user":
        raise UserError(message)
    if error["kind"] == "run":
        raise RunError(message)
    raise RuntimeError(f"{error['type']} in the Ray task of {task.id}: {message}")


def save_records(harness: Harness, records: list[RunRecord]) -> None:
    """Keep a worker's run records in the driver's run store (``steward show`` finds them)."""
    store = harness.run_store()
    for record in records:
        store.save_run(record.model_dump(mode="json"))
        for ref, when in (("initial", "before"), ("final", "after")):
            states = {app: getattr(s, when) for app, s in record.apps.items()}
            store.save_snapshots(record.run_id, ref, {k: v for k, v in states.items() if v})


async def run_sharded(
    harness: Harness,
    todo: list[BfclTask],
    save: Callable[[TaskResult], None],
    options: RayOptions,
) -> RayReport:
    """Run ``todo`` on Ray, ``concurrency`` Ray tasks at a time; ``save`` each result."""
    ray = import_ray()
    workers = harness.config.concurrency
    if not todo:  # every task is in the results already: no cluster to start
        address = options.address or LOCAL
        return RayReport(
            address=address,
            nodes=0,
            cpus=0,
            in_flight=workers,
            startup_s=0,
            max_retries=options.max_retries,
        )
    started = time.monotonic()
    owned = connect(ray, options, workers)
    resources = ray.cluster_resources()
    report = RayReport(
        address=options.address or LOCAL,
        nodes=len([n for n in ray.nodes() if n.get("Alive")]),
        cpus=float(resources.get("CPU", 0)),
        in_flight=workers,
        startup_s=round(time.monotonic() - started, 2),
        max_retries=options.max_retries,
    )
    spec = ray.put(
        WorkerSpec(
            config=harness.config,
            source=options.source or worker_source(harness.source),
            checker_name=harness.checker_name,
            tag=harness.tag,
        )
    )
    remote = ray.remote(play).options(max_retries=options.max_retries, num_cpus=1)
    memory = _MemoryCopies(ray, harness)
    queue = list(todo)
    pending: dict[Any, BfclTask] = {}
    try:
        while queue or pending:
            while queue and len(pending) < workers:
                task = queue.pop(0)
                if harness.memory is not None:
                    harness.memory.guard(task.id)
                pending[remote.remote(spec, task, memory.current())] = task
            ready, _ = await asyncio.to_thread(ray.wait, list(pending), num_returns=1, timeout=1)
            for ref in ready:
                task = pending.pop(ref)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayError as exc:  # its worker died every time (or Ray did)
                    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                    log.warning("%s lost: %s", task.id, reason)
                    report.lost.append(task.id)
                    report.lost_reason = report.lost_reason or reason
                    continue
                if "error" in outcome:  # an error inside the task: stop, as locally
                    raise_failure(task, outcome["error"])
                records = [RunRecord.model_validate_json(r) for r in outcome["records"]]
                save_records(harness, records)
                result = await harness.learn_from(
                    TaskResult.model_validate_json(outcome["result"]), records
                )
                memory.learned(result)
                save(result)
                report.tasks += 1
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if owned:
            ray.shutdown()
    return report


class _MemoryCopies:
    """The memory as the driver has it now, in Ray's object store (copied again only after the
    driver learned something)."""

    def __init__(self, ray: Any, harness: Harness) -> None:
        self.ray = ray
        self.memory = harness.memory
        self.stale = True
        self.ref: Any = None

    def current(self) -> Any:
        if self.memory is None:
            return None
        if self.stale:
            self.ref = self.ray.put(memory_bytes(self.memory.path))
            self.stale = False
        return self.ref

    def learned(self, result: TaskResult) -> None:
        if result.valid and self.memory is not None and self.memory.config.learn:
            self.stale = True
