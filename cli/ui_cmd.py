"""``steward ui``: a local web page that lists runs and benchmark results and shows each run
(graph, timeline, histories), following a running run as it goes."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import FrameType

import click

BENCH_ENV = "STEWARD_UI_BENCH"
"""Benchmark results folders shown by default, separated by the OS path separator (``:``)."""
DEFAULT_PORT = 8377


def bench_folders(given: tuple[str, ...]) -> list[Path]:
    """The results folders: those given with ``--bench``, else those of ``$STEWARD_UI_BENCH``."""
    if given:
        return [Path(p) for p in given]
    return [Path(p) for p in os.environ.get(BENCH_ENV, "").split(os.pathsep) if p.strip()]


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")  # fmt: skip
@click.option(
    "--bench",
    "bench",
    multiple=True,
    metavar="DIR",
    help="A benchmark results folder (`steward bench ... --out DIR`) to list, with its "
    "tasks and their runs; repeat for more. Default: $STEWARD_UI_BENCH (folders separated "
    "by ':').",
)
@click.option(
    "--store",
    metavar="FILE",
    help="The run store to list (a runs.db). Default: the data folder's.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a web browser.")
def ui(port: int, bench: tuple[str, ...], store: str | None, open_browser: bool) -> None:
    """Serve a local web page on 127.0.0.1 that lists the runs (and the tasks of benchmark
    results folders) and shows each run: its scheduling graphs, a timeline of subtasks, model
    calls and tool calls, verdicts and retries, memory used and app changes. A running run's
    page updates itself as the run goes on (it re-reads the run store, which the running
    process writes after every step). The server only reads; Ctrl-C (or SIGTERM) stops it.

    \b
    Examples:
      steward ui
      steward ui --port 9000 --bench bfcl-results
    """
    from core.paths import data_dir
    from viewer.server import UiServer, UiSources

    sources = UiSources(
        store=Path(store) if store else data_dir() / "runs.db", bench=bench_folders(bench)
    )
    server = UiServer(sources, port=port)
    click.echo(f"Steward UI on {server.url} (Ctrl-C stops it)")
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop, as Ctrl-C
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
