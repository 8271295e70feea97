"""The memory of a benchmark run: which file, what it may offer, what it learned from.

A benchmark learns into ``<out>/memory.db`` unless given another file (the user's own store
only when asked). What a scripted model (the oracle's replay) teaches is marked ``scripted`` and
offered to models only with ``include_scripted``. Before any task runs, and again before each
task, evaluation on a task whose index the memory learned from is refused (see
:mod:`benchmarks.bfcl.split`); each task learned from goes into the memory's ledger first.
"""

from __future__ import annotations

import logging
from pathlib import Path

from agents.memory_experience import MemoryExperience
from agents.records import RunRecord
from benchmarks.bfcl.models import ModelSource
from benchmarks.bfcl.results import BenchConfig, MemoryReport
from benchmarks.bfcl.split import (
    check_unseen,
    learned_tasks,
    ledger_tasks,
    record_learned,
    task_index,
)
from benchmarks.bfcl.turn import RequestExperience
from core.errors import StewardError
from core.usage import CallRecord

log = logging.getLogger("steward.benchmarks")


def is_user_store(path: Path) -> bool:
    """Whether ``path`` is the user's own memory store (the one ``steward run`` reads)."""
    from memory import default_path

    return path.expanduser().resolve() == default_path().expanduser().resolve()


class BenchMemory:
    """Memory for the agents of one benchmark run (``config.uses_memory``)."""

    def __init__(self, config: BenchConfig, source: ModelSource) -> None:
        self.config = config
        self.source = source
        self.path = config.memory_path()
        self._experience: RequestExperience | None = None
        self._stale: set[str] = set()

    @property
    def experience(self) -> RequestExperience:
        """The agents' memory (the store is opened on first use)."""
        if self._experience is None:
            from memory import MemoryStore

            self.path.parent.mkdir(parents=True, exist_ok=True)
            store = MemoryStore(self.path, retrieval=self.config.memory_retrieval)
            self._experience = RequestExperience(
                MemoryExperience(
                    store,
                    summarizer=self.source.summarizer(),
                    model_name=self.source.label,
                    source="scripted" if self.source.scripted else "bench",
                    learn_in_run=False,
                    include_scripted=self.config.include_scripted,
                )
            )
        return self._experience

    def check(self, task_ids: list[str]) -> None:
        """Refuse (``SplitLeakError``) to evaluate tasks whose index this memory learned from."""
        learned = learned_tasks(self.path)
        self._stale = ledger_tasks(self.path) - learned  # listed, but the memory is empty
        check_unseen(self.path, task_ids, learned=learned)

    def guard(self, task_id: str) -> None:
        """:meth:`check` for one task just before it runs, against the ledger only (another
        process may have learned into the same file since this run started)."""
        check_unseen(self.path, [task_id], learned=ledger_tasks(self.path) - self._stale)

    async def learn(self, task_id: str, records: list[RunRecord]) -> list[CallRecord]:
        """Learn from the runs of a task the checker passed; returns the summary calls made.

        The task goes into the ledger first, so a crash never leaves learned work unlisted."""
        if not self.config.learn:
            return []
        record_learned(self.path, task_id, model=self.source.label)
        calls: list[CallRecord] = []
        for record in records:
            try:
                calls += await self.experience.learn(record, verified=True)
            except StewardError as exc:  # learning is best effort
                log.warning("memory not written for %s: %s", record.run_id, exc)
        return calls

    def report(self) -> MemoryReport:
        """What the summary says about this memory."""
        tasks = sorted(learned_tasks(self.path), key=lambda t: (task_index(t), t))
        return MemoryReport(
            path=str(self.path),
            user_store=is_user_store(self.path),
            learn=self.config.learn,
            include_scripted=self.config.include_scripted,
            learned_tasks=tasks,
            learned_indices=sorted({task_index(t) for t in tasks}),
        )
