"""Entry point of the ``steward`` console script: the top-level group and its subcommands.

Subcommands load lazily: each is named here with its module and its one-line help, and its
module is imported only when that command runs (or its own ``--help`` is asked for). So
``steward --help``, ``steward runs`` or ``steward memory list`` do not import langgraph, openai
or the benchmarks; ``steward run`` does. Add a command by adding it to :data:`COMMANDS` (or to
:data:`BENCH_COMMANDS` for ``steward bench``).
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Mapping

import click

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("cli.run_cmd:run", "Carry out an instruction across the apps of a scenario."),
    "resume": ("cli.run_cmd:resume", "Continue a killed or waiting run from its checkpoint."),
    "approve": ("cli.approve_cmd:approve", "Approve or deny what a waiting run waits for."),
    "replay": ("cli.replay_cmd:replay", "Run a recorded run again on its recorded answers."),
    "runs": ("cli.inspect_cmd:runs", "List past runs, newest first."),
    "show": ("cli.inspect_cmd:show", "Show one run: plan, subtasks, changes; --html: a page."),
    "agents": ("cli.inspect_cmd:agents", "List the specialists and their task tokens."),
    "serve": ("cli.serve_cmd:serve", "Start, inspect or stop the embedded vLLM CPU server."),
    "memory": ("cli.memory_cmd:memory", "Inspect, search, export and prune the memory."),
    "train": ("cli.train_cmd:train", "Distil verified runs into LoRA experts, one per task token."),
    "mcp-serve": (
        "cli.mcp_serve_cmd:mcp_serve",
        "Serve Steward over MCP (stdio or streamable HTTP).",
    ),
    "endpoints": ("cli.endpoints_cmd:endpoints", "Probe each role's model endpoints (replicas)."),
    "ui": ("cli.ui_cmd:ui", "Serve the run viewer on 127.0.0.1: runs, graphs, timelines."),
}
"""Command name -> (``module:attribute`` of the click command, one-line help)."""

BENCH_COMMANDS: dict[str, tuple[str, str]] = {
    "agentdojo": ("cli.bench_agentdojo:agentdojo", "AgentDojo utility and attack success rate."),
    "bfcl": ("cli.bench_bfcl:bfcl", "BFCL v4 multi-turn tasks, scored by BFCL's checker."),
    "memory": ("cli.bench_memory:memory", "Accuracy on unseen tasks as memory fills up."),
    "perf": ("cli.bench_perf:perf", "Orchestration overhead against a local stub model."),
    "serve": ("cli.bench_serve:serve", "Embedded server: time to ready, first token, tok/s."),
}
"""The subcommands of ``steward bench``, as in :data:`COMMANDS`."""


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use; ``--help`` lists them from the
    one-line helps of its ``lazy`` map, without importing them."""

    def __init__(
        self, *args: object, lazy: Mapping[str, tuple[str, str]] | None = None, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in self.lazy:
            command = load_command(self.lazy[cmd_name][0])
            self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy:
                rows.append((name, self.lazy[name][1]))
            else:
                command = self.commands[name]
                if not command.hidden:
                    rows.append((name, command.get_short_help_str(formatter.width)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def load_command(target: str) -> click.Command:
    """The click command at ``module:attribute``."""
    module_name, _, attribute = target.partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{target} is not a click command")
    return command


class StewardGroup(LazyGroup):
    """A group that turns Steward's errors into one-line messages and exit codes.

    Exit codes: 0 success, 1 run failed (record kept), 2 bad input or set-up, 3 budget exceeded,
    4 waiting for a person's decision, 130 interrupted. An error may set its own ``exit_code``.
    """

    def invoke(self, ctx: click.Context) -> object:
        from core.errors import BudgetExceededError, RunError, StewardError, UserError

        try:
            return super().invoke(ctx)
        except UserError as exc:
            run_id = getattr(exc, "run_id", None)
            suffix = f" (run record: steward show {run_id})" if run_id else ""
            click.echo(f"Error: {exc}{suffix}", err=True)
            sys.exit(2)
        except RunError as exc:
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


@click.group(cls=StewardGroup, lazy=COMMANDS)
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
      steward show RUN_ID --diff         # what a run changed, app by app
      steward replay RUN_ID              # run it again on its recorded answers
      steward agents                     # specialists and their task tokens
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@cli.group(
    cls=LazyGroup,
    lazy=BENCH_COMMANDS,
    short_help="Benchmarks: BFCL, AgentDojo, memory, serving, overhead.",
)
def bench() -> None:
    """Benchmarks: BFCL multi-turn accuracy, serving speed, orchestration overhead.

    \b
    Examples:
      steward bench bfcl --category multi_turn_base --model oracle --limit 20
      steward bench perf --quick
    """


def main() -> None:
    cli(prog_name="steward")
