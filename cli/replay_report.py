"""What ``steward replay`` compares: the actions of every subtask and every app's final state,
recorded run against replay."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from apps.diff import diff_states
from cli.diff_view import describe

if TYPE_CHECKING:
    from agents.records import RunRecord, SubtaskRecord
    from modelclient.replay import ReplayModel


class ActionsCompared(BaseModel):
    """One subtask's tool calls (every attempt, ``finish`` left out), recorded and replayed."""

    model_config = ConfigDict(extra="forbid")

    same: bool
    recorded: list[str] = Field(default_factory=list)
    replayed: list[str] = Field(default_factory=list)


class AppCompared(BaseModel):
    """One app's state after the run, recorded against replayed."""

    model_config = ConfigDict(extra="forbid")

    same: bool
    changes: list[str] = Field(default_factory=list)
    """How the replay's final state differs from the recorded one (recorded -> replayed)."""


class ReplayReport(BaseModel):
    """The outcome of ``steward replay`` (its ``--json``)."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    """The recorded run."""
    replay_run_id: str
    """The replay's own run record (``steward show`` it)."""
    identical: bool
    """Same tool calls in every subtask and the same final state in every app."""
    status: dict[str, str]
    """``recorded`` and ``replayed`` run status."""
    actions: dict[str, ActionsCompared]
    """By subtask id."""
    apps: dict[str, AppCompared]
    """By app name."""
    differences: list[str] = Field(default_factory=list)
    """One line per difference."""
    diverged: list[str] = Field(default_factory=list)
    """Requests whose prompt the recording did not have (matched to the most similar call)."""
    unused: list[str] = Field(default_factory=list)
    """Recorded calls the replay never asked for (memory summaries aside)."""
    replay_error: str | None = None
    """What stopped the replay's run, if something did."""


def action_lines(sub: SubtaskRecord) -> list[str]:
    """``tool({...})`` for every tool call of a subtask, every attempt, in order."""
    lines = []
    for attempt in sub.history:
        for step in attempt.steps:
            if step.action.tool == "finish":
                continue
            args = json.dumps(step.action.arguments, sort_keys=True, ensure_ascii=False)
            mark = " [refused]" if step.refused else " [reused]" if step.reused else ""
            lines.append(f"{step.action.tool}({args}){mark}")
    return lines


def compare(
    recorded: RunRecord, replayed: RunRecord, model: ReplayModel, error: str | None = None
) -> ReplayReport:
    """Compare a replay's record with the recorded run's."""
    before = {s.id: action_lines(s) for s in recorded.subtasks}
    after = {s.id: action_lines(s) for s in replayed.subtasks}
    differences: list[str] = []
    actions: dict[str, ActionsCompared] = {}
    for sid in [*before, *(s for s in after if s not in before)]:
        item = ActionsCompared(
            same=before.get(sid) == after.get(sid),
            recorded=before.get(sid, []),
            replayed=after.get(sid, []),
        )
        actions[sid] = item
        if sid not in after:
            differences.append(f"{sid}: in the recording only ({_calls(item.recorded)})")
        elif sid not in before:
            differences.append(f"{sid}: in the replay only ({_calls(item.replayed)})")
        elif not item.same:
            differences.append(
                f"{sid} actions: recorded {_calls(item.recorded)}; replayed {_calls(item.replayed)}"
            )
    apps: dict[str, AppCompared] = {}
    for name in sorted({*recorded.apps, *replayed.apps}):
        mine = recorded.apps.get(name)
        theirs = replayed.apps.get(name)
        a = mine.after if mine is not None else None
        b = theirs.after if theirs is not None else None
        if a is None or b is None:
            missing = "recording" if a is None else "replay"
            apps[name] = AppCompared(same=False, changes=[f"no final state in the {missing}"])
        else:
            changes = [describe(c) for c in diff_states(_inner(a), _inner(b))]
            apps[name] = AppCompared(same=not changes, changes=changes)
        if not apps[name].same:
            differences.append(f"{name} after the run: " + "; ".join(apps[name].changes[:5]))
    return ReplayReport(
        run_id=recorded.run_id,
        replay_run_id=replayed.run_id,
        identical=not differences,
        status={"recorded": recorded.status, "replayed": replayed.status},
        actions=actions,
        apps=apps,
        differences=differences,
        diverged=[
            f"{d.role} {d.purpose} (given the answers of {d.matched})" for d in model.diverged
        ],
        unused=[c.where for c in model.unused if c.record.purpose != "summarize"],
        replay_error=error,
    )


def _inner(snapshot: dict[str, Any]) -> Any:
    """An app's own data: the ``state`` of the BFCL and Python apps' snapshots."""
    return snapshot.get("state", snapshot)


def _calls(lines: list[str], limit: int = 300) -> str:
    text = ", ".join(lines) or "no tool calls"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render_report(report: ReplayReport) -> str:
    """The short text report of ``steward replay``."""
    verdict = "identical" if report.identical else "DIFFERENT"
    lines = [f"replay {report.replay_run_id} of run {report.run_id}: {verdict}"]
    if report.identical:
        calls = sum(len(a.recorded) for a in report.actions.values())
        lines.append(
            f"  actions: the same {calls} tool call(s) in {len(report.actions)} subtask(s)"
        )
        lines.append(f"  apps after the run: the same state in {len(report.apps)} app(s)")
    lines += [f"  {line}" for line in report.differences]
    status = report.status
    lines.append(f"  status: {status['replayed']} (recorded: {status['recorded']})")
    if report.replay_error:
        lines.append(f"  the replay stopped: {report.replay_error}")
    if report.diverged:
        lines.append(
            f"  note: {len(report.diverged)} request(s) had a prompt the recording did not; "
            f"each got the most similar recorded call's answers: {'; '.join(report.diverged[:3])}"
        )
    if report.unused:
        lines.append(
            f"  note: {len(report.unused)} recorded call(s) were not asked for: "
            + ", ".join(report.unused[:5])
        )
    return "\n".join(lines)
