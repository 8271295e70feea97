"""``steward replay RUN_ID``: run a recorded run again on its recorded model answers, and say
whether the same actions and the same final app states came out.

The replay starts every app from the state recorded before the run (run store snapshot
``initial``), replays the recorded instruction with the recorded agent settings and budgets
(not the deadline: a replay takes its own time), and answers every model request with the
answers of a recorded call (``modelclient.replay``: matched by role, purpose and prompt, since
parallel subtasks ask in no fixed order). No server is contacted. Memory is neither searched
nor written: the prompts get the entries the recorded run was given, as memory holds them now.
Calls that need approval are treated as the recorded run's policy said when it was ``auto``
or ``deny``; a run that asked a person is replayed under ``deny`` (no one is asked during a
replay), so a replay of a run whose person approved a call reports the difference.

A replay is a run of its own, with its own run id and record (``steward show`` it; its settings
name ``replay_of``), so that a difference can be looked at in full; the recorded run is left as
it was. Nothing is written when the input is bad (exit 2).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import click

from cli.inspect_cmd import echo_json, load_record

if TYPE_CHECKING:
    from agents.budget import BudgetLimits
    from agents.records import RunRecord
    from agents.settings import AgentSettings, ApprovalSettings
    from apps.scenario import Scenario
    from apps.world import World
    from core.usage import CallRecord
    from memory import MemoryStore
    from memory.runs import RunStore


@click.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON on stdout.")
@click.option(
    "--allow-side-effects",
    is_flag=True,
    help="Replay on apps that act on the outside world (not restorable): their actions "
    "happen again.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
def replay(run_id: str, as_json: bool, allow_side_effects: bool, quiet: bool) -> None:
    """Run RUN_ID again from its recorded initial app states with its recorded model answers
    (no server), and compare: the same tool calls in every subtask and the same final state
    in every app? Exit code 0 when identical, 1 when not (the report says what differed).

    The replay is a new run with its own id (`steward show` it). Requests are matched to the
    recorded calls by role, purpose and prompt; a request whose prompt the recording does not
    have (say, an app's recorded initial state was changed) gets the most similar recorded
    call's answers, and the report notes it.

    \b
    Examples:
      steward replay 3f2a9c1b7d4e
      steward replay 3f2a --json | jq .differences
    """
    from agents.experience import NoExperience
    from cli.build import RunModels, make_orchestrator
    from cli.render import Progress
    from cli.replay_report import compare, render_report
    from core.errors import RunError
    from memory.runs import RunStore
    from modelclient.replay import ReplayModel

    store = RunStore()
    recorded = load_record(store.load_run(run_id))
    calls = recorded_calls(recorded)
    scenario, settings, limits = _recorded_set_up(recorded)
    initial = _initial_states(store, recorded.run_id, list(scenario.apps))
    model = ReplayModel.of(calls, name=f"replay:{recorded.run_id}")
    experience = RecordedExperience(recorded)
    memory_on = bool(recorded.settings.get("memory", True))
    orchestrator = make_orchestrator(
        scenario=scenario,
        models=RunModels(source=model, model=model.name),
        settings=settings,
        limits=limits,
        experience=experience if memory_on else NoExperience(),
        on_event=Progress(enabled=not quiet),
        store=store,
        extra={"replay_of": recorded.run_id},
        approval=replay_rules(recorded.settings),
    )
    _restore(orchestrator.world, initial, allow_side_effects=allow_side_effects)
    error: str | None = None
    try:
        replayed = asyncio.run(orchestrator.run_and_close(recorded.instruction))
    except RunError as exc:  # the replay's record is kept; compare what it did
        if exc.run_id is None:
            raise
        error = str(exc)
        replayed = load_record(store.load_run(exc.run_id))
    finally:
        experience.close()
    report = compare(recorded, replayed, model, error)
    if as_json:
        echo_json(report.model_dump(mode="json"))
    else:
        click.echo(render_report(report))
    if not report.identical:
        raise SystemExit(1)


def replay_rules(settings: dict[str, Any]) -> ApprovalSettings:
    """The recorded run's approval rules (``settings``: its settings) for its replay: ``ask``
    becomes ``deny`` (a replay asks no one); a run recorded before approvals existed ran every
    call (``auto``)."""
    from agents.settings import ApprovalSettings
    from cli.approval_rules import approval_of

    if "approval" not in settings:
        return ApprovalSettings(policy="auto")
    rules = approval_of(settings, None)
    return rules.model_copy(update={"policy": "deny"}) if rules.policy == "ask" else rules


def recorded_calls(record: RunRecord) -> list[tuple[str, CallRecord]]:
    """Every model call of a run record with where it sits; a ``UserError`` when there is
    nothing to replay (no calls, or calls recorded without their prompts)."""
    from core.errors import UserError

    calls: list[tuple[str, CallRecord]] = [
        (f"steward {c.purpose} {n}", c) for n, c in enumerate(record.steward_calls, 1)
    ]
    for sub in record.subtasks:
        for attempt in sub.history:
            where = f"{sub.id} attempt {attempt.number}"
            calls += [(f"{where} {c.purpose} {n}", c) for n, c in enumerate(attempt.calls, 1)]
            if attempt.verdict is not None and attempt.verdict.call is not None:
                calls.append((f"{where} evaluate", attempt.verdict.call))
    if not calls:
        raise UserError(f"run {record.run_id} has no recorded model calls to replay")
    if any(c.prompt is None for _, c in calls):
        raise UserError(
            f"run {record.run_id} was recorded without its prompts (record_prompts = false), "
            "so its answers cannot be matched to requests; record_prompts = true (the default) "
            "keeps them"
        )
    return calls


def _recorded_set_up(record: RunRecord) -> tuple[Scenario, AgentSettings, BudgetLimits]:
    """The recorded run's scenario, agent settings and budgets (without the deadline); a
    ``UserError`` when they are missing or name apps that are no longer registered."""
    from pydantic import ValidationError

    from agents.budget import BudgetLimits
    from agents.registry import default_registry
    from agents.settings import AgentSettings
    from apps.scenario import Scenario
    from core.errors import UnknownAgentError, UserError

    saved = record.settings
    if not saved.get("scenario"):
        raise UserError(f"run {record.run_id} has no recorded scenario to replay it in")
    try:
        scenario = Scenario.model_validate(saved["scenario"])
        settings = AgentSettings.model_validate(saved.get("agent_settings") or {})
        limits = BudgetLimits.model_validate({**(saved.get("limits") or {}), "deadline_s": None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UserError(
            f"run {record.run_id}'s recorded settings do not fit this version of Steward "
            f"({where}: {first['msg']})"
        ) from None
    known = default_registry().names
    missing = [name for name in scenario.apps if name not in known]
    external = [name for name in missing if name in (saved.get("mcp") or {}).get("servers", {})]
    if external:
        raise UserError(
            f"run {record.run_id} used MCP server(s) {', '.join(external)}: their state lives "
            "outside Steward, so a replay cannot put them back as they were (replay runs whose "
            "apps Steward holds)"
        )
    if missing:
        raise UnknownAgentError(
            f"run {record.run_id} used app(s) {', '.join(missing)}, which are no longer "
            f"registered (install the plugin that provides them); known apps: {', '.join(known)}"
        )
    return scenario, settings, limits


def _initial_states(store: RunStore, run_id: str, apps: list[str]) -> dict[str, dict[str, Any]]:
    from core.errors import UserError
    from memory.runs import RunNotFoundError

    states = {}
    for name in apps:
        try:
            states[name] = store.load_snapshot(run_id, "initial", name)
        except RunNotFoundError:
            raise UserError(
                f"run {run_id} has no recorded initial state of app {name!r} (it stopped "
                "before planning)"
            ) from None
    return states


def _restore(world: World, states: dict[str, dict[str, Any]], *, allow_side_effects: bool) -> None:
    """Put every app in its recorded initial state; refuse apps whose actions reach the outside
    world unless told to replay them anyway."""
    from apps.base import can_roll_back
    from core.errors import UserError

    for name, state in states.items():
        app = world.get(name)
        if not can_roll_back(app) and not allow_side_effects:
            raise UserError(
                f"app {name!r} acts on the outside world (it is not restorable): replaying "
                "would do its actions again; pass --allow-side-effects to replay anyway"
            )
        try:
            app.restore(state)
        except Exception as exc:
            raise UserError(
                f"app {name!r} cannot take its recorded initial state ({type(exc).__name__}: {exc})"
            ) from None


class RecordedExperience:
    """Gives the prompts the memory entries the recorded run was given (by id, as memory holds
    them now), in the same order; searches nothing and learns nothing."""

    def __init__(self, record: RunRecord) -> None:
        self._guidelines = list(record.retrieved.get("guidelines") or [])
        by_id = {s.id: s for s in record.subtasks}
        self._expertise: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for sid, lookups in (record.retrieved.get("expertise") or {}).items():
            sub = by_id.get(sid)
            if sub is not None:
                self._expertise.setdefault((sub.task_token, sub.instruction), []).extend(lookups)
        self._store: MemoryStore | None = None

    def guidelines_for(self, instruction: str) -> tuple[str, list[dict[str, Any]]]:
        from memory import GuidelineEntry, format_guidelines

        found = self._guidelines
        entries = self._entries("guideline", found)
        return format_guidelines(e for e in entries if isinstance(e, GuidelineEntry)), found

    def expertise_for(self, task_token: str, subtask: str) -> tuple[str, list[dict[str, Any]]]:
        from memory import ExpertiseEntry, format_expertise

        queue = self._expertise.get((task_token, subtask)) or []
        found = [queue.pop(0)] if len(queue) > 1 else queue[:1]  # one per subtask
        entries = self._entries("expertise", found)
        return format_expertise(e for e in entries if isinstance(e, ExpertiseEntry)), found

    async def learn(self, record: RunRecord) -> list[CallRecord]:
        return []

    def close(self) -> None:
        """Close the memory store, if an entry was looked up."""
        if self._store is not None:
            self._store.close()

    def _entries(self, kind: Any, found: list[dict[str, Any]]) -> list[Any]:
        ids = [i for lookup in found for i in lookup.get("ids") or []]
        if not ids:
            return []
        if self._store is None:
            from memory import MemoryStore

            self._store = MemoryStore()
        return [e for e in (self._store.get(kind, i) for i in ids) if e is not None]


COMMANDS = [replay]
