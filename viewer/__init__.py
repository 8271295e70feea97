"""Look at a run: its scheduling graphs, a timeline of its subtasks, model calls and tool
calls, its verdicts, memory and app changes, as one HTML page (``steward show --html``), and a
local web page that lists runs and benchmark results and follows a running run
(``steward ui``).

The viewer reads run records and the action journal only; it never drives a run, and nothing
below it imports it.
"""

from __future__ import annotations

from pathlib import Path

from memory.runs import RunStore
from viewer.model import build_view
from viewer.page import render_page
from viewer.source import load_actions, load_record

__all__ = ["build_view", "render_page", "run_html", "write_html"]


def run_html(store: RunStore, run_id: str) -> tuple[str, str]:
    """The self-contained HTML page of one run of ``store``, and the run's whole id (a unique
    prefix of the id is enough; ``RunNotFoundError``, a one-line user error, when there is
    none)."""
    record = load_record(store, run_id)
    return render_page(build_view(record, load_actions(store, record.run_id))), record.run_id


def write_html(store: RunStore, run_id: str, path: Path | None = None) -> Path:
    """Write :func:`run_html` to ``path`` (default ``RUN_ID.html`` in the current folder;
    parent folders are made); returns the path written."""
    text, full_id = run_html(store, run_id)
    path = path if path is not None else Path(f"{full_id}.html")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
