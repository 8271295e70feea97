"""``steward ui``: a small web server on 127.0.0.1 (the standard library's ``http.server``).

Routes: ``/`` lists the runs and the results folders; ``/run/STORE/RUN_ID`` is a run's page,
which polls ``/api/run/STORE/RUN_ID`` (an ETag answers 304 while nothing changed) and redraws
while the run goes on; ``/bench/N/FILE`` is a results file's tasks; ``/api/runs`` lists runs as
JSON. ``STORE`` is ``runs`` (the run store) or ``bench-N`` (results folder N's ``runs.db``).
Each request opens the store it reads and closes it: the running process writes the store
after every step, so a page sees the run as it goes, from any process.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import re
import secrets
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from core.errors import UserError
from memory.runs import RunNotFoundError, RunStore
from viewer.bench import RUNS_FILE, read_results, result_files
from viewer.model import build_view
from viewer.page import content_policy, render_page
from viewer.pages import bench_page, index_page, message_page
from viewer.source import load_actions, load_record, version

log = logging.getLogger("steward.viewer")

POLL_MS = 1000
"""How often a run's page asks for news while the run goes on."""
SLOW_POLL_MS = 5000
"""How often it asks once the run has ended (a waiting run may be resumed)."""


@dataclass
class UiSources:
    """What the server shows: a run store and results folders."""

    store: Path
    """The run store file (``runs.db``)."""
    bench: list[Path] = field(default_factory=list)
    """Benchmark results folders (``steward bench ... --out DIR``)."""
    runs_limit: int = 200
    """Runs listed on the start page."""

    def store_path(self, key: str) -> Path | None:
        """The store file named by ``key`` (``runs`` or ``bench-N``); ``None`` if unknown."""
        if key == "runs":
            return self.store
        match = re.fullmatch(r"bench-(\d+)", key)
        if match and int(match.group(1)) < len(self.bench):
            return self.bench[int(match.group(1))] / RUNS_FILE
        return None


class UiServer(ThreadingHTTPServer):
    """The HTTP server; ``serve_forever`` in a thread or in the foreground."""

    daemon_threads = True

    def __init__(self, sources: UiSources, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sources = sources
        try:
            super().__init__((host, port), _Handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UserError(
                    f"port {port} on {host} is in use (another `steward ui`?); "
                    "pick another with --port"
                ) from None
            raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> threading.Thread:
        """Serve in a daemon thread (tests); ``shutdown()`` stops it."""
        thread = threading.Thread(target=self.serve_forever, daemon=True, name="steward-ui")
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: UiServer
    server_version = "steward-ui"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        parts = [p for p in path.split("/") if p]
        try:
            if not parts:
                self._index()
            elif parts[0] == "run" and len(parts) == 3:
                self._run_page(parts[1], parts[2])
            elif parts[:2] == ["api", "run"] and len(parts) == 4:
                self._run_data(parts[2], parts[3])
            elif parts == ["api", "runs"]:
                self._send_json(HTTPStatus.OK, {"runs": self._runs("runs")})
            elif parts[0] == "bench" and len(parts) == 3 and parts[1].isdigit():
                self._bench(int(parts[1]), parts[2])
            else:
                self._message(HTTPStatus.NOT_FOUND, f"no page {path}")
        except RunNotFoundError as exc:
            self._message(HTTPStatus.NOT_FOUND, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away

    # -- pages ----------------------------------------------------------------------------

    def _store(self, key: str) -> RunStore:
        path = self.server.sources.store_path(key)
        if path is None or not path.is_file():
            raise RunNotFoundError(f"no run store {key!r}")
        return RunStore(path)

    def _runs(self, key: str) -> list[dict[str, Any]]:
        try:
            store = self._store(key)
        except RunNotFoundError:
            return []
        try:
            return store.list_runs(self.server.sources.runs_limit)
        finally:
            store.close()

    def _index(self) -> None:
        sources = self.server.sources
        folders = []
        for i, folder in enumerate(sources.bench):
            entry: dict[str, Any] = {"index": i, "path": str(folder), "files": []}
            if not folder.is_dir():
                entry["error"] = "not a folder"
            for file in result_files(folder) if folder.is_dir() else []:
                results = read_results(file)
                entry["files"].append(
                    {"name": file.name, "tasks": len(results.tasks), "passed": results.passed}
                )
            folders.append(entry)
        self._send_html(HTTPStatus.OK, *index_page(str(sources.store), self._runs("runs"), folders))

    def _view(self, key: str, run_id: str) -> tuple[dict[str, Any], str]:
        store = self._store(key)
        try:
            record = load_record(store, run_id)
            tag = version(store, record.run_id)
            return build_view(record, load_actions(store, record.run_id)), tag
        finally:
            store.close()

    def _run_page(self, key: str, run_id: str) -> None:
        view, tag = self._view(key, run_id)
        real_id = view["run"]["id"]
        live = {
            "url": f"/api/run/{key}/{real_id}",
            "interval_ms": POLL_MS,
            "slow_ms": SLOW_POLL_MS,
            "etag": _etag(tag),
        }
        nonce = secrets.token_urlsafe(16)
        text = render_page(view, live=live, nonce=nonce)
        self._send_html(HTTPStatus.OK, text, content_policy(nonce, live=True))

    def _run_data(self, key: str, run_id: str) -> None:
        store = self._store(key)
        try:
            record = load_record(store, run_id)
            tag = _etag(version(store, record.run_id))
            if self.headers.get("If-None-Match") == tag:
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self.send_header("ETag", tag)
                self.end_headers()
                return
            view = build_view(record, load_actions(store, record.run_id))
        finally:
            store.close()
        self._send_json(HTTPStatus.OK, view, etag=tag)

    def _bench(self, index: int, name: str) -> None:
        folders = self.server.sources.bench
        file = folders[index] / name if index < len(folders) else None
        if file is None or "/" in name or not name.endswith(".jsonl") or not file.is_file():
            self._message(HTTPStatus.NOT_FOUND, f"no results file {name!r}")
            return
        has_runs = (folders[index] / RUNS_FILE).is_file()
        self._send_html(HTTPStatus.OK, *bench_page(f"bench-{index}", read_results(file),
                                                   has_runs=has_runs))  # fmt: skip

    # -- answers --------------------------------------------------------------------------

    def _message(self, status: HTTPStatus, text: str) -> None:
        self._send_html(status, *message_page(status.phrase, text))

    def _send_html(self, status: HTTPStatus, text: str, policy: str) -> None:
        body = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Security-Policy", policy)
        self._finish(body)

    def _send_json(self, status: HTTPStatus, data: Any, etag: str | None = None) -> None:
        body = json.dumps(data, default=str).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if etag:
            self.send_header("ETag", etag)
        self._finish(body)

    def _finish(self, body: bytes) -> None:
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)


def _etag(tag: str) -> str:
    return '"' + hashlib.sha256(tag.encode()).hexdigest()[:24] + '"'
