"""The thread the MCP client sessions of a process live in.

An MCP session is async and belongs to the event loop it was opened in, while Steward calls
apps from several places: the staff agent's ``await`` on the run's loop, the synchronous
``App.call`` (a resume re-running an idempotent call), a CLI command with no loop at all, and
benchmarks that run many ``asyncio.run`` one after another. So every session lives in one
background thread with its own loop (the *hub*): callers hand it coroutines, a synchronous
caller blocks on the answer, an async one awaits it without blocking its own loop. A session
outlives the loops of its callers, which is what "once per process" needs, and a call that a
caller cancels (a deadline) is cancelled in the hub too.

At interpreter exit the hub stops every server still running, so none is left behind.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger("steward.apps.mcp")

T = TypeVar("T")

Closer = Callable[[], Awaitable[None]]


class McpHub:
    """A background event loop in a daemon thread, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closers: dict[int, Closer] = {}
        self._atexit = False

    def loop(self) -> asyncio.AbstractEventLoop:
        """The hub's loop, started if needed."""
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="steward-mcp", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
                if not self._atexit:
                    atexit.register(self.shutdown)
                    self._atexit = True
            return self._loop

    def in_hub(self) -> bool:
        """Whether the caller runs in the hub's own thread."""
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, work: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``work`` on the hub's loop."""
        return asyncio.run_coroutine_threadsafe(work, self.loop())

    def run(self, work: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``work`` in the hub and wait for it (blocking); ``TimeoutError`` after
        ``timeout`` seconds (the work is cancelled)."""
        if self.in_hub():
            work.close()
            raise RuntimeError("McpHub.run called from the hub's own thread; await the work")
        future = self.submit(work)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout:g} s") from None

    async def arun(self, work: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``work`` in the hub and await it without blocking the caller's loop;
        cancelling the caller cancels the work."""
        if self.in_hub():
            return await asyncio.wait_for(work, timeout)
        future = self.submit(work)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout:g} s") from None

    def keep(self, key: int, closer: Closer) -> None:
        """Remember how to close something open in the hub (run at :meth:`shutdown`)."""
        with self._lock:
            self._closers[key] = closer

    def forget(self, key: int) -> None:
        """It was closed."""
        with self._lock:
            self._closers.pop(key, None)

    def shutdown(self, timeout: float = 15.0) -> None:
        """Close everything still open (stop the servers) and stop the loop."""
        with self._lock:
            closers = list(self._closers.values())
            self._closers.clear()
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None or not thread.is_alive():
            return

        async def close_all() -> None:
            await asyncio.gather(*(c() for c in closers), return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(close_all(), loop).result(timeout)
        except Exception as exc:  # at exit: say so, but let the interpreter end
            log.warning("MCP servers not all stopped at exit: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()


_HUB: McpHub | None = None
_HUB_LOCK = threading.Lock()


def shared_hub() -> McpHub:
    """The process's hub."""
    global _HUB
    with _HUB_LOCK:
        if _HUB is None:
            _HUB = McpHub()
        return _HUB


def quiet_sdk_logs() -> None:
    """Keep the MCP SDK's own log (a traceback for every line a server writes that is not
    JSON-RPC) out of the way of Steward's one-line errors, unless debugging (-vv)."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("mcp").setLevel(logging.CRITICAL)
