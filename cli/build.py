"""Put a run together from CLI options: registry, scenario, world, models, orchestrator.

The instruction is checked and the orchestrator assembled here; the scenario, the MCP servers
and the world come from ``cli.world``, the models from ``cli.models`` (their names are
importable from here too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.budget import BudgetLimits
from agents.experience import Experience, NoExperience
from agents.registry import Registry, default_registry
from agents.settings import AgentSettings, ApprovalSettings
from apps.scenario import Scenario
from cli.models import (
    EMBEDDED_ARG_CHARS,
    EMBEDDED_FREQUENCY_PENALTY,
    EXPERTS_ENV,
    ModelSource,
    RunModels,
    ensure_backend,
    expert_roles,
    experts_enabled,
    is_embedded,
    models_config,
    run_models,
)
from cli.world import build_world, command_config, pick_scenario, start_mcp_servers
from core.errors import BadInstructionError
from memory.embedding import Retrieval
from memory.runs import RunStore

if TYPE_CHECKING:  # orchestrator/ imports langgraph: only when a run is made
    from orchestrator.events import EventCallback
    from orchestrator.runner import Orchestrator

__all__ = [
    "EMBEDDED_ARG_CHARS",
    "EMBEDDED_FREQUENCY_PENALTY",
    "EXPERTS_ENV",
    "MAX_INSTRUCTION_CHARS",
    "ModelSource",
    "RunModels",
    "build_world",
    "check_instruction",
    "command_config",
    "ensure_backend",
    "expert_roles",
    "experts_enabled",
    "is_embedded",
    "make_orchestrator",
    "models_config",
    "pick_scenario",
    "run_models",
    "start_mcp_servers",
]

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
