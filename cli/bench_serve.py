"""``steward bench serve``: serving speed of the embedded vLLM CPU server."""

from __future__ import annotations

import click

from benchmarks.serve_bench import ServeBenchResult, run_serve_bench
from local.server import ServerSettings


def _progress(line: str) -> None:
    click.echo(line, err=True)


def _show(result: ServeBenchResult) -> None:
    ready = f"{result.time_to_ready_s:.1f} s" if result.time_to_ready_s is not None else "n/a"
    click.echo(f"Embedded server {result.model} at {result.base_url}")
    click.echo(f"  time to ready:        {ready}{'' if result.fresh_start else ' (reused)'}")
    click.echo(f"  time to first token:  {result.ttft_s:.3f} s")
    click.echo(f"  one request:          {result.single_tokens_per_s:.1f} tokens/s")
    click.echo(f"  {result.max_tokens} tokens per request (ignore_eos):")
    click.echo("  concurrent  tokens  wall (s)  total tok/s  per-request tok/s")
    for row in result.concurrency:
        click.echo(
            f"  {row.concurrency:>10}  {row.completion_tokens:>6}  {row.wall_s:>8.2f}"
            f"  {row.total_tokens_per_s:>11.1f}  {row.per_request_tokens_per_s:>17.1f}"
        )


@click.command("serve")
@click.option("--max-tokens", type=click.IntRange(1, 1024), default=128, show_default=True)
@click.option(
    "--reuse",
    is_flag=True,
    help="Measure a running server as it is, instead of restarting it to time a fresh start.",
)
@click.option("--port", type=int, default=None, help="Port of the embedded server (default 8321).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def serve(max_tokens: int, reuse: bool, port: int | None, as_json: bool) -> None:
    """Measure the embedded server: time to ready, time to first token, and tokens/s with 1, 4
    and 8 concurrent requests (each generating exactly --max-tokens tokens).

    By default a running embedded server is stopped and started again, so the time to ready is
    a real start; afterwards the server is left running if it ran before, stopped otherwise.
    Takes about a minute.
    """
    settings = ServerSettings() if port is None else ServerSettings(port=port)
    result = run_serve_bench(settings, max_tokens=max_tokens, fresh=not reuse, progress=_progress)
    if as_json:
        click.echo(result.model_dump_json(indent=2))
    else:
        _show(result)


COMMANDS = [serve]
