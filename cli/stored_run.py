"""Continuing a stored run as it was made (``steward resume`` and ``steward approve``)."""

from __future__ import annotations

from typing import Any

from agents.budget import BudgetLimits
from agents.experience import NoExperience
from agents.records import RunRecord
from agents.registry import default_registry
from agents.settings import AgentSettings, ApprovalPolicy
from apps.scenario import Scenario
from cli.approval_rules import approval_of
from cli.build import make_orchestrator, run_models
from cli.inspect_cmd import load_record
from cli.render import Progress
from core.errors import UserError
from memory.runs import RunStore
from modelclient.script import ScriptModel, load_script, script_path
from orchestrator.approval import ApprovalNeededError
from orchestrator.runner import Orchestrator


def stored_orchestrator(
    saved: dict[str, Any],
    store: RunStore,
    *,
    base_url: str | None,
    model: str | None,
    config: str | None,
    autostart: bool,
    quiet: bool,
    approve: ApprovalPolicy | None,
) -> Orchestrator:
    """An orchestrator to continue a stored run, as it was made (its scenario, models,
    settings, limits, memory and approval rules; ``approve`` overrides the policy). A run
    that played ``script:FILE`` and stopped for approvals continues the script where it
    stopped; any other scripted run needs ``--model script:FILE`` for the rest."""
    settings = saved.get("settings") or {}
    registry = default_registry()
    scenario = Scenario.model_validate(settings.get("scenario") or {"apps": {}})
    saved_model = settings.get("model")
    script = script_path(saved_model)
    source = None
    if model is None and script is not None:
        if saved.get("status") != "waiting" or not ApprovalNeededError.said(saved.get("error")):
            raise UserError(
                f"run {saved['run_id']} played {saved_model}; give the answers for the rest of "
                f"it: steward resume {saved['run_id']} --model script:FILE"
            )
        source = continued_script(script, load_record(saved))
    models = run_models(
        registry,
        config=config,
        base_url=base_url or (None if script_path(model) else settings.get("base_url")),
        model=model or saved_model,
        autostart=autostart,
        quiet=quiet,
    )
    if source is not None:
        models.source = source
    return make_orchestrator(
        registry=registry,
        scenario=scenario,
        models=models,
        settings=AgentSettings.model_validate(settings.get("agent_settings") or {}),
        limits=BudgetLimits.model_validate(settings.get("limits") or {}),
        experience=None if settings.get("memory", True) else NoExperience(),
        on_event=Progress(enabled=not quiet),
        store=store,
        approval=approval_of(settings, approve),
    )


def continued_script(path: str, record: RunRecord) -> ScriptModel:
    """The script at ``path`` without the answers ``record``'s calls took (each request, a
    re-ask included, took the first unused line meant for its role and purpose)."""
    lines = load_script(path)
    used = [False] * len(lines)
    calls = [*record.steward_calls]
    for sub in record.subtasks:
        for attempt in sub.history:
            calls += attempt.calls
            if attempt.verdict is not None and attempt.verdict.call is not None:
                calls.append(attempt.verdict.call)
    for call in sorted(calls, key=lambda c: c.started_at):
        for _ in range(max(1, call.usage.calls)):
            index = next(
                (i for i, ln in enumerate(lines) if not used[i] and ln.fits(call.role, call.purpose)),
                None,
            )  # fmt: skip
            if index is not None:
                used[index] = True
    return ScriptModel([ln for ln, u in zip(lines, used, strict=True) if not u], path)
