"""Process entry point for the concurrency tests (importable by spawned children)."""

from __future__ import annotations

from memory import ExpertiseEntry, GuidelineEntry, MemoryStore


def write_with(store: MemoryStore, worker: int, count: int) -> None:
    """Write ``count`` distinct guidelines and expertise entries as ``worker``; after each,
    search and mark the hit used (reads interleaved with writes)."""
    for n in range(count):
        text = f"worker{worker} item{n} distinct"
        nodes = [{"id": "n1", "task_token": "<app:x>", "instruction": text, "needs": []}]
        store.add_guideline(GuidelineEntry(instruction=text, graph={"nodes": nodes}))
        store.add_expertise(ExpertiseEntry(task_token=f"<app:w{worker}>", subtask=text))
        hits = store.search_guidelines(text, k=1)
        store.mark_used("guideline", [e.id for e, _ in hits if e.id is not None])


def write_entries(path: str, worker: int, count: int) -> None:
    """Open the store at ``path`` and :func:`write_with` it."""
    with MemoryStore(path) as store:
        write_with(store, worker, count)
