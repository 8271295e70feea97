"""Entry point of the ``steward`` console script: the top-level group and its subcommands."""

from __future__ import annotations

import logging
import sys

import click

from core.errors import RunError, StewardError, UserError


class StewardGroup(click.Group):
    """A group that turns Steward's errors into one-line messages and exit codes.

    Exit codes: 0 success, 1 run failed (record kept), 2 bad input or set-up, 3 budget exceeded,
    4 waiting for a person's decision, 130 interrupted. An error may set its own ``exit_code``.
    """

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            run_id = getattr(exc, "run_id", None)
            suffix = f" (run record: steward show {run_id})" if run_id else ""
            click.echo(f"Error: {exc}{suffix}", err=True)
            sys.exit(2)
        except RunError as exc:
            from core.errors import BudgetExceededError

            suffix = f" (run record: steward show {exc.run_id})" if exc.run_id else ""
            click.echo(f"Error: {exc}{suffix}", err=True)
            default = 3 if isinstance(exc, BudgetExceededError) else 1
            sys.exit(int(getattr(exc, "exit_code", default)))
        except StewardError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)


@click.group(cls=StewardGroup)
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.version_option(package_name="steward")
def cli(verbose: int) -> None:
    """Steward: one instruction across several apps, planned by a steward agent and carried out
    by app-specialised staff agents on locally served models.

    \b
    Quick start:
      steward serve                      # start the embedded vLLM CPU server
      steward run "Send 'hi' to Alice, then post the message id as a tweet"
      steward runs                       # past runs
      steward agents                     # specialists and their task tokens
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@cli.group()
def bench() -> None:
    """Benchmarks: BFCL multi-turn accuracy, serving speed, orchestration overhead."""


def _register() -> None:
    """Attach the subcommands; each lives in its own module of this package."""
    import importlib

    for module_name, group in (
        ("cli.run_cmd", cli),
        ("cli.serve_cmd", cli),
        ("cli.memory_cmd", cli),
        ("cli.bench_serve", bench),
        ("cli.bench_bfcl", bench),
        ("cli.bench_memory", bench),
        ("cli.bench_perf", bench),
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # this part of the CLI is not installed yet
            raise
        for command in getattr(module, "COMMANDS", []):
            group.add_command(command)


_register()


def main() -> None:
    cli(prog_name="steward")
