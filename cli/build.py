"""Put a run together from CLI options: registry, scenario, world, models, orchestrator."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import click

from agents.budget import BudgetLimits
from agents.experience import Experience, NoExperience
from agents.registry import AppFactory, Registry, default_registry, mcp_specialist
from agents.settings import AgentSettings, ApprovalSettings
from apps.base import App
from apps.scenario import Scenario, demo_scenario, load_scenario
from apps.world import World
from core.errors import BadInstructionError, ConfigError, ScenarioError, StewardError
from memory.embedding import Retrieval
from memory.runs import RunStore
from modelclient.base import Model
from modelclient.config import ModelsConfig, RoleOverride, load_models_config
from modelclient.script import ScriptModel, script_path

if TYPE_CHECKING:  # orchestrator/ imports langgraph: only when a run is made
    from apps.mcp import McpServers
    from orchestrator.events import EventCallback
    from orchestrator.runner import Orchestrator

MAX_INSTRUCTION_CHARS = 10_000


def check_instruction(instruction: str) -> str:
    """A clean instruction, or ``BadInstructionError`` saying what is wrong."""
    if "\x00" in instruction or "\ufffd" in instruction:
        raise BadInstructionError("the instruction contains binary data; give plain text")
    try:
        instruction.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 arrive as lone surrogates
        raise BadInstructionError(
            "the instruction is not valid UTF-8 text (binary data?); give plain text"
        ) from None
    text = instruction.strip()
    if not text:
        raise BadInstructionError(
            'the instruction is empty; say what to do, e.g. steward run "..."'
        )
    if len(text) > MAX_INSTRUCTION_CHARS:
        raise BadInstructionError(
            f"the instruction is {len(text)} characters; the limit is {MAX_INSTRUCTION_CHARS}. "
            "Split it into smaller instructions"
        )
    return text


def build_world(registry: Registry, scenario: Scenario) -> World:
    """The scenario's apps; an initial state an app cannot take is a ``ScenarioError``."""
    factories = {name: _checked(name, registry.get(name).app_factory) for name in scenario.apps}
    return World.build(scenario, factories)


def _checked(name: str, factory: AppFactory) -> AppFactory:
    def build(state: dict[str, Any]) -> App:
        try:
            return factory(state)
        except StewardError:
            raise
        except Exception as exc:  # the app choked on a state of the wrong shape
            raise ScenarioError(
                f"scenario app {name!r}: its initial state does not fit the app "
                f"({type(exc).__name__}: {exc})"
            ) from None

    return build


def pick_scenario(path: str | None, registry: Registry, *, config: str | None = None) -> Scenario:
    """The scenario file at ``path``, which may name the MCP servers of the config file
    (``config``, else the running command's ``--config``); else the demo world with every
    configured MCP server in it."""
    from apps import mcp

    servers = mcp.load_mcp_config(config or command_config())
    if path is None:
        for reason in mcp.clashes(servers, registry.names).values():
            click.echo(f"warning: {reason}", err=True)
        return mcp.with_servers(demo_scenario(), servers, registry.names)
    return load_scenario(Path(path), mcp.known_apps(servers, registry.names))


def command_config() -> str | None:
    """The ``--config`` the running ``steward`` command was given, if any."""
    ctx = click.get_current_context(silent=True)
    value = ctx.params.get("config") if ctx is not None else None
    return value if isinstance(value, str) else None


def start_mcp_servers(
    registry: Registry, scenario: Scenario, config: str | None
) -> tuple[Registry, Scenario, McpServers | None]:
    """Start the MCP servers the scenario names; returns the registry with their specialists
    (``<mcp:NAME>``), the scenario without those that could not start (each a warning on
    stderr, and kept in the record's settings), and the servers."""
    if all(name in registry for name in scenario.apps):
        return registry, scenario, None
    from apps import mcp

    mcp.quiet_sdk_logs()
    config_ = mcp.load_mcp_config(config or command_config())
    servers, scenario = mcp.start_servers(scenario, config_, registry.names)
    for line in servers.warnings():
        click.echo(f"warning: {line}", err=True)
    specialists = [mcp_specialist(app) for app in servers.apps.values()]
    return registry.extended(specialists), scenario, servers


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


def make_orchestrator(
    *,
    registry: Registry | None = None,
    scenario: Scenario,
    models: RunModels,
    settings: AgentSettings,
    limits: BudgetLimits,
    experience: Experience | None,
    on_event: EventCallback | None,
    store: RunStore | None = None,
    extra: dict[str, Any] | None = None,
    memory_retrieval: Retrieval | None = None,
    approval: ApprovalSettings | None = None,
) -> Orchestrator:
    """An orchestrator on the scenario's world. ``experience=None`` is the memory store (what
    a script or replay model teaches is marked ``scripted``: it is offered to no prompt).
    The MCP servers the scenario names are started here and stopped by its ``aclose``.
    ``approval``: which calls need approval and the policy (``None``: the default rules,
    policy ``deny``), kept in the run's settings for ``steward resume`` and ``steward approve``."""
    registry, scenario, servers = start_mcp_servers(
        registry or default_registry(), scenario, models.config
    )
    try:
        from orchestrator.runner import Orchestrator

        if experience is None:
            from agents.memory_experience import MemoryExperience
            from memory import MemoryStore

            experience = MemoryExperience(
                MemoryStore(retrieval=memory_retrieval),  # None: $STEWARD_MEMORY_RETRIEVAL or fts
                summarizer=models.source.for_role,
                model_name=models.model,
                source="run" if models.served else "scripted",
            )
        run_settings = {
            "scenario": scenario.model_dump(mode="json"),
            "base_url": models.base_url,
            "model": models.model,
            "agent_settings": settings.model_dump(),
            "limits": limits.model_dump(),
            "memory": experience is not None and not isinstance(experience, NoExperience),
            **(extra or {}),
            **({"mcp": servers.describe()} if servers is not None else {}),
            "approval": (approval or ApprovalSettings()).model_dump(),
        }
        from telemetry import with_telemetry  # OTLP spans when OTEL_EXPORTER_OTLP_ENDPOINT is set

        store = store or RunStore()
        return Orchestrator(
            registry=registry,
            models=models.source.for_role,
            world=build_world(registry, scenario),
            settings=settings,
            limits=limits,
            store=store,
            experience=experience,
            on_event=with_telemetry(on_event, store),
            run_settings=run_settings,
            resources=[models.source, *([servers] if servers is not None else [])],
            approval=approval,
        )
    except BaseException:
        if servers is not None:
            servers.close()
        raise
