"""The models of a run from CLI options: the served models' config (installed experts, each
specialist's own model, the embedded server's settings), the embedded server started when the
run points at it, or a script standing in for the models."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import click

from agents.registry import Registry
from core.errors import ConfigError
from modelclient.base import Model
from modelclient.config import ModelsConfig, RoleOverride, load_models_config
from modelclient.script import ScriptModel, script_path


def models_config(
    registry: Registry,
    config: str | None,
    base_url: str | None,
    model: str | None,
    *,
    experts: bool | None = None,
) -> ModelsConfig:
    """The served models of a run: config file < environment < ``base_url``/``model``, plus
    each specialist's own model name; a ``ConfigError`` for a ``script:FILE`` model (see
    :func:`run_models`).

    On the embedded server, each role with an installed expert (a LoRA adapter trained for its
    task token, or for ``steward``) is routed to it, with compact prompts; a role the config
    file names keeps the file's settings, and an expert wins over a specialist's own model
    name. ``experts=False`` (or ``STEWARD_EXPERTS=0`` when ``experts`` is None) turns that off.
    """
    if script_path(model) is not None:
        raise ConfigError(
            f"--model {model} plays a script; only `steward run` and `steward resume` take one"
        )
    cfg = load_models_config(Path(config) if config else None, base_url=base_url, model=model)
    roles = dict(cfg.roles)
    embedded = is_embedded(cfg)
    if embedded and experts_enabled(experts):
        for role, override in expert_roles().items():
            roles.setdefault(role, override)
    for spec in registry:
        if spec.model and spec.token not in roles:
            roles[spec.token] = RoleOverride(model=spec.model)
    cfg = cfg.model_copy(update={"roles": roles})
    if embedded and cfg.default.frequency_penalty is None:
        cfg = cfg.with_default(frequency_penalty=EMBEDDED_FREQUENCY_PENALTY)
    return cfg


EXPERTS_ENV = "STEWARD_EXPERTS"
"""Set to 0 (or false, no, off) to route no role to its installed expert."""


def experts_enabled(flag: bool | None = None) -> bool:
    """Whether roles go to their installed experts: ``flag`` if given, else ``$STEWARD_EXPERTS``
    (on unless 0, false, no or off)."""
    if flag is not None:
        return flag
    return os.environ.get(EXPERTS_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def expert_roles() -> dict[str, RoleOverride]:
    """Role -> an override sending it to its installed expert on the embedded server, with the
    prompt style the expert was trained on; a running server routes only what it serves."""
    from local.experts import expert_routes
    from local.server import ServerSettings, running_server

    settings = ServerSettings()
    routing = expert_routes(settings, running_server(settings))
    return {
        role: RoleOverride(
            model=adapter.name,
            prompt_style=adapter.manifest.prompt_style if adapter.manifest else "compact",
        )
        for role, adapter in routing.roles.items()
    }


def is_embedded(cfg: ModelsConfig) -> bool:
    """Whether the run's default endpoint is the embedded server."""
    from local.server import embedded_base_url

    return cfg.default.base_url.rstrip("/") == embedded_base_url().rstrip("/")


EMBEDDED_ARG_CHARS = 160
"""Argument string cap for the embedded server's small model (see AgentSettings.max_arg_chars)."""

EMBEDDED_FREQUENCY_PENALTY = 0.3
"""Frequency penalty for the embedded server's small model: greedy SmolLM2-135M often repeats
a phrase inside a JSON string until the token limit; 0.3 ends the same plan after 73 tokens
instead of 384 (measured on a looping BFCL plan)."""


def ensure_backend(
    cfg: ModelsConfig, *, autostart: bool, quiet: bool, experts: bool | None = None
) -> None:
    """Start the embedded server when the run points at it and it is not running; say which
    installed experts it does not serve yet (``experts`` as in :func:`models_config`)."""
    from local.server import ServerSettings, ensure_running

    settings = ServerSettings()
    if not is_embedded(cfg):
        return
    if os.environ.get("STEWARD_NO_AUTOSTART"):
        autostart = False

    def progress(line: str) -> None:
        if not quiet:
            click.echo(f"[serve] {line}", err=True)

    info = ensure_running(settings, progress, autostart=autostart)
    if experts_enabled(experts):
        from local.experts import expert_routes

        unserved = expert_routes(settings, info).unserved
        if unserved:
            progress(
                f"installed experts not served yet: {', '.join(unserved)} (their roles use the "
                "base model; `steward serve` restarts the server with them)"
            )


class ModelSource(Protocol):
    """Where a run's models come from: a ``ModelPool``, or a script or replay model standing in
    for one."""

    def for_role(self, role: str) -> Model:
        """The model of ``role`` (``steward`` or a task token)."""
        ...

    async def aclose(self) -> None:
        """Release what the models hold (HTTP clients)."""
        ...


@dataclass
class RunModels:
    """A run's models and how its record names them."""

    source: ModelSource
    model: str
    """The default served model name, or ``script:FILE`` / ``replay:RUN_ID``."""
    base_url: str | None = None
    """The default endpoint (``None``: no server)."""
    embedded: bool = False
    """Whether the default endpoint is the embedded server (its small model gets shorter
    argument strings and a frequency penalty)."""
    config: str | None = None
    """The config file given (``--config``); its ``[mcp.NAME]`` tables are the MCP servers."""

    @property
    def served(self) -> bool:
        """Whether a model server answers (not a script or a replay)."""
        return self.base_url is not None


def run_models(
    registry: Registry,
    *,
    config: str | None,
    base_url: str | None,
    model: str | None,
    autostart: bool,
    quiet: bool,
    experts: bool | None = None,
) -> RunModels:
    """The models ``--config``, ``--base-url`` and ``--model`` name; the embedded server is
    started if the run points at it. ``--model script:FILE`` plays a script instead (see
    ``modelclient.script``): no server, and a ``ScriptError`` for a bad file. ``experts``:
    route roles to their installed experts (see :func:`models_config`)."""
    path = script_path(model)
    if path is not None:
        if base_url:
            raise click.UsageError(f"--model {model} plays a script: it takes no --base-url")
        return RunModels(source=ScriptModel.from_file(path), model=f"script:{path}", config=config)
    from modelclient.pool import ModelPool

    cfg = models_config(registry, config, base_url, model, experts=experts)
    ensure_backend(cfg, autostart=autostart, quiet=quiet, experts=experts)
    return RunModels(
        source=ModelPool(cfg),
        model=cfg.default.model,
        base_url=cfg.default.base_url,
        embedded=is_embedded(cfg),
        config=config,
    )
