"""``steward bench perf``: orchestration overhead, parallel dispatch, scale and throughput."""

from __future__ import annotations

import click

from benchmarks.perf import PerfConfig, render, run_perf


@click.command("perf")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option("--quick", is_flag=True, help="Tiny sizes (seconds): a smoke test, not figures.")
@click.option(
    "--repeats", type=click.IntRange(1, 50), default=None, help="Runs per overhead figure."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
def perf(as_json: bool, quick: bool, repeats: int | None, quiet: bool) -> None:
    """Measure the orchestration itself against a local stub model server.

    The stub (real HTTP on 127.0.0.1, in its own process) answers every call after a fixed
    latency with canned, schema-valid plans, actions and verdicts. Reported: overhead per model
    call at 0 and 50 ms latency beside a bare LangGraph loop making as many calls with the same
    openai client; wall time over critical path for a fan-out and a chain of 8 subtasks at
    200 ms per call (and a fan-out of 64 beside asyncio.gather); overhead per subtask and
    checkpoint size for plans of 2 to 128 subtasks; runs per minute at 1, 4 and 16 at once.
    Takes about a minute and a half; run it on an idle machine.
    """
    config = PerfConfig.quick() if quick else PerfConfig()
    if repeats is not None:
        config = config.model_copy(update={"repeats": repeats})

    def progress(line: str) -> None:
        if not quiet:
            click.echo(f"[perf] {line}", err=True)

    report = run_perf(config, progress)
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        click.echo(render(report))


COMMANDS = [perf]
