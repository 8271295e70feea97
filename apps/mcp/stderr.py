"""An MCP server's stderr: logged line by line (the run's log), its last lines kept for the
error messages that say why a server stopped."""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from typing import TextIO

log = logging.getLogger("steward.apps.mcp")


class StderrTail:
    """A server's stderr: a pipe read by a thread, each line logged (``steward.apps.mcp`` at
    INFO, the run's log), the last lines kept for error messages."""

    def __init__(self, server: str) -> None:
        read_fd, write_fd = os.pipe()
        self.write_end: TextIO = os.fdopen(write_fd, "w")
        self.lines: deque[str] = deque(maxlen=20)
        self.ended = threading.Event()
        self._server = server
        threading.Thread(
            target=self._pump, args=(read_fd,), name=f"mcp-stderr:{server}", daemon=True
        ).start()

    def close_write(self) -> None:
        """Close this process's copy of the write end (the server keeps its own)."""
        if not self.write_end.closed:
            self.write_end.close()

    def tail(self, wait: float = 0.5) -> str:
        """The last lines, once the server's end closed (waiting up to ``wait`` seconds)."""
        self.ended.wait(wait)
        return " | ".join(list(self.lines)[-5:])[-600:]

    def _pump(self, fd: int) -> None:
        try:
            with os.fdopen(fd, "rb") as pipe:
                for raw in pipe:
                    line = raw.decode("utf-8", "replace").rstrip()
                    if line:
                        self.lines.append(line)
                        log.info("[mcp:%s] %s", self._server, line)
        finally:
            self.ended.set()
