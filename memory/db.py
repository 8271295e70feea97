"""The sqlite connection behind a memory store: opening, checks, transactions with retry.

Many writers share one file (benchmark tasks run in threads and in separate processes), so:
WAL mode (readers never block writers), a busy timeout, ``BEGIN IMMEDIATE`` for every write
(no lock upgrade can deadlock), and a bounded retry with jittered backoff around the whole
transaction when sqlite still answers "database is locked". Within one process a lock
serialises use of the connection, so one store can be shared by threads.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlite_utils import Database

from core.paths import data_dir
from memory.errors import MemoryStoreError
from memory.migrations import apply_migrations, check_schema

log = logging.getLogger("steward.memory")

T = TypeVar("T")

ENV_DB = "STEWARD_MEMORY_DB"
"""Environment variable that points the memory at another database file."""

_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6


def default_path() -> Path:
    """``$STEWARD_MEMORY_DB``, else ``data_dir()/memory.db``."""
    env = os.environ.get(ENV_DB)
    return Path(env).expanduser() if env else data_dir() / "memory.db"


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is sqlite's "database is locked / busy" (worth retrying)."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return True
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def retry_busy(attempt: Callable[[], T], *, retries: int = 12, what: str = "") -> T:
    """Run ``attempt``; while sqlite answers "database is locked" (:func:`is_busy`), wait
    (jittered backoff from 20 ms, doubling up to 1 s) and run it again, ``retries`` runs in
    all; then the last busy error propagates.

    sqlite's busy timeout does not cover every case: some lock upgrades and a journal mode
    switch while another connection creates the file answer "locked" at once.
    """
    delay = 0.02
    for run in range(1, retries + 1):
        try:
            return attempt()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or run >= retries:
                raise
            log.debug("sqlite busy (%s); retrying %s", exc, what)
        time.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(delay * 2, 1.0)
    raise ValueError(f"retries must be at least 1, not {retries}")


def _is_corrupt(exc: BaseException) -> bool:
    # SQLITE_NOTADB / SQLITE_CORRUPT surface as plain DatabaseError, not a subclass.
    return type(exc) is sqlite3.DatabaseError


class Connection:
    """One sqlite connection (wrapped by a sqlite-utils ``Database``) with safe transactions."""

    def __init__(
        self,
        path: Path | str,
        *,
        busy_timeout: float = 30.0,
        retries: int = 12,
    ) -> None:
        self.path = str(path)
        self.retries = retries
        self.busy_timeout = busy_timeout
        self.lock = threading.RLock()
        self.conn = self._connect()
        self._pid = os.getpid()
        try:
            # Read-only checks first: a corrupt or newer file must be left exactly as it is.
            self.read(lambda db: check_schema(db.conn, self.path))
            self._enable_wal()
            applied = self.write(lambda db: apply_migrations(db, self.path))
        except BaseException:
            self.conn.close()
            raise
        if applied:
            log.info("memory database %s: applied migrations %s", self.path, ", ".join(applied))

    @property
    def db(self) -> Database:
        """The sqlite-utils view of the connection (use only inside :meth:`read`/:meth:`write`)."""
        return self._db

    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            target = Path(self.path)
            if target.is_dir():
                raise MemoryStoreError(f"memory database path {self.path} is a directory")
            target.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, check_same_thread=False, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise MemoryStoreError(f"cannot open memory database {self.path}: {exc}") from exc
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        self._db = Database(conn, execute_plugins=False)
        return conn

    def _enable_wal(self) -> None:
        def enable() -> None:
            with self.lock:
                mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()
                self.conn.execute("PRAGMA synchronous = NORMAL")
            log.debug("memory database %s: journal_mode=%s", self.path, mode[0] if mode else "?")

        self._retry(enable, "switch to WAL mode")

    def _corrupt_error(self, exc: BaseException) -> MemoryStoreError:
        return MemoryStoreError(
            f"memory database {self.path} is not a readable sqlite database ({exc}); it was left "
            f"untouched: move it aside, or point {ENV_DB} / --db at another file"
        )

    def _retry(self, attempt: Callable[[], T], what: str) -> T:
        """Run ``attempt``; on "database is locked" wait (jittered backoff) and run it again."""
        try:
            return retry_busy(attempt, retries=self.retries, what=f"{what} on {self.path}")
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            raise MemoryStoreError(
                f"memory database {self.path} stayed locked by other writers; could not {what} "
                f"({exc})"
            ) from exc
        except sqlite3.DatabaseError as exc:
            if _is_corrupt(exc):
                raise self._corrupt_error(exc) from exc
            raise

    def _after_fork(self) -> None:
        """A forked child must not use its parent's connection: open its own (a ``:memory:``
        database is a private copy after a fork, so it keeps that one). The inherited
        connection is deliberately not closed: closing it could disturb the parent's locks."""
        self.lock = threading.RLock()
        if self.path != ":memory:":
            self.conn = self._connect()
            self.conn.execute("PRAGMA synchronous = NORMAL")
        self._pid = os.getpid()
        log.debug("memory database %s: reopened in forked process %d", self.path, self._pid)

    def _transaction(self, fn: Callable[[Database], T], begin: str) -> T:
        if os.getpid() != self._pid:
            self._after_fork()
        with self.lock:
            if self.conn.in_transaction:  # nested call from inside a transaction of ours
                return fn(self._db)
            self.conn.execute(begin)
            try:
                result = fn(self._db)
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            return result

    def read(self, fn: Callable[[Database], T]) -> T:
        """Run ``fn(db)`` in a read transaction (one consistent snapshot); retried when busy."""
        return self._retry(lambda: self._transaction(fn, "BEGIN"), "read")

    def write(self, fn: Callable[[Database], T]) -> T:
        """Run ``fn(db)`` in one write transaction, all or nothing; retried when busy.

        ``fn`` may run more than once, so it must not have side effects outside the database.
        """
        return self._retry(lambda: self._transaction(fn, "BEGIN IMMEDIATE"), "write")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self.lock:
            self.conn.close()
