"""The run graph's checkpointer: langgraph's SQLite saver, called inline from the event loop.

``AsyncSqliteSaver`` sends every operation to a worker thread and waits for it; a run does
one per step and one per finished task, and each round trip costs more than the sqlite work
itself (a small transaction in WAL mode without a sync per commit, well under a millisecond).
``InlineSqliteSaver`` runs the same statements on the loop's thread instead.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from langgraph.checkpoint.sqlite import SqliteSaver


class InlineSqliteSaver(SqliteSaver):
    """``SqliteSaver`` whose async methods run its sync ones directly."""

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.get_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        for item in self.list(config, filter=filter, before=before, limit=limit):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self.put(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self.put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        self.delete_thread(thread_id)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return self.get_delta_channel_history(config=config, channels=channels)


_OPEN: OrderedDict[tuple[str, int, int], sqlite3.Connection] = OrderedDict()
_LOCK = threading.Lock()
_KEEP = 16  # connections kept open (least recently used closed first)


def _connection(path: str) -> tuple[sqlite3.Connection, bool]:
    """This thread's connection to ``path`` and whether it is new. Connections stay open
    between runs: closing the last one makes sqlite fold its WAL back into the file and sync
    it, which would cost every run a disk flush."""
    key = (str(Path(path).resolve()), os.getpid(), threading.get_ident())
    with _LOCK:
        conn = _OPEN.get(key)
        if conn is not None:
            _OPEN.move_to_end(key)
            return conn, False
        conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        _OPEN[key] = conn
        while len(_OPEN) > _KEEP:
            _, old = _OPEN.popitem(last=False)
            old.close()
        return conn, True


@contextmanager
def open_saver(path: Path | str) -> Iterator[InlineSqliteSaver]:
    """A saver on ``path``: WAL without a sync per commit (a killed process loses nothing; a
    power cut may lose the last steps), a busy timeout for other processes on the same file.
    The connection is shared by the runs of this thread (see ``_connection``)."""
    if str(path) == ":memory:":
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        try:
            yield InlineSqliteSaver(conn)
        finally:
            conn.close()
        return
    conn, new = _connection(str(path))
    saver = InlineSqliteSaver(conn)
    if new:
        saver.setup()
    else:
        saver.is_setup = True  # this connection made the tables already
    yield saver
