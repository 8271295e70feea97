"""The pages of ``steward ui`` besides a run's: the list of runs and results folders, and a
benchmark results file's tasks. Plain HTML made here, every value escaped; no script."""

from __future__ import annotations

import datetime as dt
import html
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from viewer.bench import ResultsFile
from viewer.page import asset

_EXTRA_CSS = """
nav { margin: 8px 0 4px; }
td.pass { background: #dff3e6; } td.fail { background: #fbe1de; } td.unchecked { color: #6b7480; }
td.cell a { text-decoration: none; }
th { white-space: nowrap; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _when(timestamp: Any) -> str:
    try:
        return dt.datetime.fromtimestamp(float(timestamp)).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


def document(title: str, body: str) -> tuple[str, str]:
    """A whole page and its Content-Security-Policy (styles by nonce, nothing else)."""
    nonce = secrets.token_urlsafe(16)
    policy = f"default-src 'none'; style-src 'nonce-{nonce}'; img-src data:; base-uri 'none'"
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>{_e(title)}</title>\n"
        f'<style nonce="{nonce}">\n{asset("view.css")}{_EXTRA_CSS}</style>\n'
        f'</head>\n<body>\n<div id="app">\n{body}\n</div>\n</body>\n</html>\n'
    )
    return page, policy


def run_link(store: str, run_id: str, text: str | None = None) -> str:
    return f'<a href="/run/{quote(store)}/{quote(run_id)}">{_e(text or run_id)}</a>'


def runs_table(store: str, runs: Iterable[dict[str, Any]]) -> str:
    rows = []
    for r in runs:
        status = _e(r.get("status", ""))
        rows.append(
            f'<tr data-run="{_e(r["run_id"])}"><td>{run_link(store, r["run_id"])}</td>'
            f"<td>{_e(_when(r.get('created_at')))}</td>"
            f'<td><span class="badge st-{status}">{status}</span></td>'
            f"<td>{_e(str(r.get('instruction', ''))[:160])}</td></tr>"
        )
    if not rows:
        return '<p class="muted">No runs yet; try: steward run "..."</p>'
    head = "<tr><th>run</th><th>started</th><th>status</th><th>instruction</th></tr>"
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def index_page(
    store_path: str, runs: list[dict[str, Any]], folders: list[dict[str, Any]]
) -> tuple[str, str]:
    """The start page: the runs of the run store, newest first, and each results folder's
    files (tasks, passed) with links to their pages."""
    parts = [
        "<h1>Steward runs</h1>",
        f'<p class="muted">Run store {_e(store_path)}. Reload for new runs; a run\'s page '
        "follows it while it goes on.</p>",
        runs_table("runs", runs),
    ]
    if folders:
        parts.append("<h2>Benchmark results</h2>")
    for folder in folders:
        parts.append(f"<h3>{_e(folder['path'])}</h3>")
        if folder.get("error"):
            parts.append(f'<p class="muted">{_e(folder["error"])}</p>')
            continue
        rows = [
            f'<tr><td><a href="/bench/{folder["index"]}/{quote(f["name"])}">'
            f'{_e(f["name"])}</a></td><td class="num">{f["tasks"]}</td>'
            f'<td class="num">{f["passed"]}</td></tr>'
            for f in folder["files"]
        ]
        if rows:
            head = "<tr><th>results file</th><th>tasks</th><th>passed</th></tr>"
            parts.append(f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>")
        else:
            parts.append('<p class="muted">No results files (*.jsonl) in this folder.</p>')
    return document("Steward runs", "\n".join(parts))


def bench_page(store: str, results: ResultsFile, *, has_runs: bool) -> tuple[str, str]:
    """A results file: one row per task, pass or fail per turn, each turn linking to its run."""
    width = max((len(t.turns) for t in results.tasks), default=0)
    turns = [f"turn {i}" for i in range(width)] if width > 1 else ["run"] * width
    head = "<tr><th>task</th><th>passed</th>" + "".join(f"<th>{t}</th>" for t in turns)
    head += "<th>note</th></tr>"
    rows = []
    for task in results.tasks:
        cells = []
        for turn in task.turns:
            label = {"pass": "pass", "fail": "FAIL", "unchecked": "-"}[turn.outcome]
            text = _e(label)
            if turn.run_id and has_runs:
                text = run_link(store, turn.run_id, label)
            title = _e(f"{turn.instruction}\nrun {turn.run_id}: {turn.status}")
            cells.append(f'<td class="cell {turn.outcome}" title="{title}">{text}</td>')
        cells += ["<td></td>"] * (width - len(task.turns))
        rows.append(
            f'<tr data-task="{_e(task.id)}"><td>{_e(task.id)}</td>'
            f'<td class="{"pass" if task.passed else "fail"}">{"yes" if task.passed else "no"}</td>'
            f"{''.join(cells)}<td>{_e(task.note)}</td></tr>"
        )
    skipped = f" {results.skipped} line(s) were not results." if results.skipped else ""
    runs_note = "" if has_runs else " The folder has no runs.db: turns link to no run."
    body = (
        '<nav><a href="/">all runs</a></nav>'
        f"<h1>{_e(results.path.name)}</h1>"
        f'<p class="muted">{len(results.tasks)} tasks, {results.passed} passed.'
        f"{_e(skipped)}{_e(runs_note)}</p>"
        f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return document(f"Steward results {results.path.name}", body)


def message_page(title: str, text: str) -> tuple[str, str]:
    """A one-line page (not found, bad request)."""
    return document(title, f'<nav><a href="/">all runs</a></nav><p id="message">{_e(text)}</p>')
