"""Options shared by several commands (the BFCL benchmarks, ``steward run``), and the model
set-up of the benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from agents.registry import default_registry
from benchmarks.bfcl import CATEGORIES, ORACLE, ORACLE_BROKEN, TEACHER, model_source
from benchmarks.bfcl.models import ModelSource
from cli.retrieval import retrieval_option as retrieval_option
from modelclient.config import ModelsConfig

F = TypeVar("F", bound=Callable[..., Any])

category_option = click.option(
    "--category",
    type=click.Choice(CATEGORIES),
    default="multi_turn_base",
    show_default=True,
    help="BFCL v4 multi-turn category.",
)
tasks_option = click.option(
    "--tasks",
    "tasks_spec",
    metavar="SPEC",
    help="Which tasks by index: even, odd, all, a range (0-19) or numbers (1,3,5); --offset "
    "and --limit then pick within them (e.g. --tasks odd --limit 10: the first 10 odd ones).",
)
concurrency_option = click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Tasks run at the same time (lets vLLM batch requests).",
)
mode_option = click.option(
    "--mode",
    type=click.Choice(["turns", "compound"]),
    default="turns",
    show_default=True,
    help="turns: one run per user turn; compound: all turns as one instruction.",
)


USER_MEMORY = "user"
"""``--memory-db user``: the user's own memory store (the one ``steward run`` reads)."""


def memory_db_path(value: str | None) -> Path | None:
    """``--memory-db``'s value as a file: ``user`` is the user's own store, ``None`` the
    benchmark's default (a file in its ``--out`` folder), anything else a path."""
    if value is None:
        return None
    if value == USER_MEMORY:
        from memory import default_path

        return default_path()
    if not value.strip():
        raise click.BadParameter(
            "give a file path, or `user` for your own memory store", param_hint="--memory-db"
        )
    path = Path(value).expanduser()
    if path.is_dir():
        raise click.BadParameter(
            f"{value} is a folder; give a memory file (e.g. {value}/memory.db)",
            param_hint="--memory-db",
        )
    return path


def server_options(command: F) -> F:
    """``--base-url``, ``--config`` and ``--no-autostart``."""
    for option in reversed(
        [
            click.option(
                "--base-url", metavar="URL", help="OpenAI-compatible server (default: embedded)."
            ),
            click.option("--config", metavar="FILE", help="Models config (TOML)."),
            click.option("--no-autostart", is_flag=True, help="Do not start the embedded server."),
        ]
    ):
        command = option(command)
    return command


def model_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--model",
        metavar="NAME",
        help=f"{help_text} A served model name, or `{ORACLE}` (ground-truth replay) / "
        f"`{ORACLE_BROKEN}` (drops the last call of every turn) / `{TEACHER}` (the ground truth "
        "played as a good steward would, with compact prompts: what `steward train` learns).",
    )


def source_factory(
    *,
    base_url: str | None,
    config: str | None,
    concurrency: int,
    autostart: bool,
    quiet: bool,
) -> Callable[[str | None], ModelSource]:
    """``make(name)``: a fresh model source for ``name`` (each benchmark run closes its own).

    A served model's config is built, and the server checked (or the embedded one started),
    once per name, at the first ``make``.
    """
    configs: dict[str | None, ModelsConfig] = {}

    def make(name: str | None) -> ModelSource:
        if name in (ORACLE, ORACLE_BROKEN, TEACHER):
            return model_source(name, None)
        if name not in configs:
            from cli.build import ensure_backend, models_config

            cfg = models_config(default_registry(), config, base_url, name)
            if cfg.default.max_concurrency < concurrency:  # let the server batch K tasks
                cfg = cfg.with_default(max_concurrency=concurrency)
            ensure_backend(cfg, autostart=autostart, quiet=quiet)
            configs[name] = cfg
        return model_source(name, configs[name])

    return make
