"""Many writers on one file: threads with their own store, threads sharing one, processes."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from memory import ExpertiseEntry, GuidelineEntry, MemoryStore
from tests.memory.mp_worker import write_entries, write_with

THREADS, WRITES = 8, 25


def _check(path: Path, workers: int, writes: int) -> None:
    with MemoryStore(path) as store:
        stats = store.stats()
        entries = store.list("guideline", limit=None)
    instructions = {e.instruction for e in entries if isinstance(e, GuidelineEntry)}
    assert stats["guidelines"]["count"] == workers * writes
    assert stats["guidelines"]["uses"] == workers * writes
    assert stats["expertise"]["count"] == workers * writes
    assert stats["expertise"]["by_token"] == {f"<app:w{w}>": writes for w in range(workers)}
    expected = {f"worker{w} item{n} distinct" for w in range(workers) for n in range(writes)}
    assert instructions == expected


def test_threads_each_with_own_store(db_file: Path) -> None:
    MemoryStore(db_file).close()  # create the schema once; the writers race on data only
    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(write_entries, str(db_file), w, WRITES) for w in range(THREADS)]
        for future in futures:
            future.result()
    _check(db_file, THREADS, WRITES)


def test_threads_sharing_one_store(db_file: Path) -> None:
    with MemoryStore(db_file) as shared, ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(write_with, shared, w, WRITES) for w in range(THREADS)]:
            future.result()
    _check(db_file, THREADS, WRITES)


def test_processes_writing_one_fresh_file(db_file: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=write_entries, args=(str(db_file), w, WRITES)) for w in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0, 0, 0]
    _check(db_file, 3, WRITES)


def test_store_inherited_by_forked_processes(db_file: Path) -> None:
    with MemoryStore(db_file) as store:
        store.add_expertise(ExpertiseEntry(task_token="<app:p>", subtask="made by the parent"))
        ctx = multiprocessing.get_context("fork")
        procs = [ctx.Process(target=write_with, args=(store, w, 5)) for w in range(2)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=60)
        assert [proc.exitcode for proc in procs] == [0, 0]
        store.add_expertise(ExpertiseEntry(task_token="<app:p>", subtask="parent again later"))
        assert store.stats()["expertise"]["count"] == 2 * 5 + 2
