"""``steward show RUN_ID --html [FILE]``: the run as one self-contained HTML page.

``cli.inspect_cmd.show`` takes the option (:data:`html_option`) and calls :func:`show_html`;
this module imports only click until it runs (``steward show`` stays light).
"""

from __future__ import annotations

from pathlib import Path

import click

html_option = click.option(
    "--html",
    "html",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[FILE]",
    help="Write the run as one self-contained HTML page (scheduling graphs, timeline, "
    "histories, app changes) to FILE, default RUN_ID.html; it opens from disk, offline.",
)
"""The ``--html [FILE]`` option: ``None`` when not given, ``""`` without a file name."""


def show_html(run_id: str, file: str | None = None, *, store: str | Path | None = None) -> Path:
    """Write the page of run ``run_id`` (a unique prefix is enough) of the run store (default:
    the data folder's) to ``file`` (default ``RUN_ID.html``) and say where; a missing run is a
    one-line user error."""
    from memory.runs import RunStore
    from viewer import write_html

    runs = RunStore(store)
    try:
        path = write_html(runs, run_id, Path(file) if file else None)
    finally:
        runs.close()
    size = path.stat().st_size
    click.echo(f"wrote {path} ({size / 1024:.0f} KiB); open it in a browser")
    return path
