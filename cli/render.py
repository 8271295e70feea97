"""Text rendering of graphs, progress events and run records for the terminal."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from agents.plan import SchedulingGraph

if TYPE_CHECKING:  # orchestrator/ imports langgraph: not at start-up
    from agents.records import ApprovalRecord, RunRecord
    from orchestrator.events import Event


class Progress:
    """Prints one line per event to stderr, with the time since the run started."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.start = time.monotonic()

    def __call__(self, event: Event) -> None:
        if not self.enabled:
            return
        line = self.format(event)
        if line:
            click.echo(f"[{time.monotonic() - self.start:6.1f}s] {line}", err=True)
            sys.stderr.flush()

    def format(self, event: Event) -> str | None:
        d = event.data
        sid = event.subtask_id
        if event.kind == "run_started":
            return f"run {event.run_id}: planning"
        if event.kind == "plan":
            graph = SchedulingGraph.model_validate(d["graph"])
            notes = "".join(f"\n    note: {n}" for n in d.get("notes", []))
            return "scheduling graph" + _fallback(d) + ":\n" + _indent(graph.to_tree()) + notes
        if event.kind == "subtask_started":
            return f"{sid} {d.get('task_token')}: started"
        if event.kind == "step":
            tool = d.get("tool")
            if d.get("refused"):
                return f"{sid}   -> {tool} refused, not run: it repeats the previous call again"
            if d.get("reused"):
                return f"{sid}   -> {tool} not run again: already done as {d['reused']}"
            if d.get("approval") == "pending":
                return f"{sid}   -> {tool} waits for approval ({d.get('action_id')})"
            if d.get("approval") == "denied":
                return f"{sid}   -> {tool} not run: {_short(str(d.get('error')), 90)}"
            if d.get("approval") in ("approved", "edited"):
                tool = f"{tool} ({d['approval']} by you)"
            flag = " ERROR: " + str(d["error"])[:80] if d.get("error") else ""
            return f"{sid}   -> {tool}{flag}{' (repeated)' if d.get('repeated') else ''}"
        if event.kind == "verdict":
            if d.get("success"):
                return f"{sid}   verdict: success; key info: {_short(d.get('key_info', ''))}"
            undone = "; its effects were rolled back" if d.get("rolled_back") else ""
            return (
                f"{sid}   verdict: {d.get('failure_kind')} (attempt {d.get('attempt')}, "
                f"{d.get('status')}); tips: {_short(d.get('tips', ''))}{undone}"
            )
        if event.kind == "subtask_done":
            return f"{sid} {d.get('status')} after {d.get('attempts')} attempt(s)"
        if event.kind == "replan":
            graph = SchedulingGraph.model_validate(d["graph"])
            return f"re-plan {d.get('replans')}{_fallback(d)}:\n" + _indent(graph.to_tree())
        if event.kind == "answer":
            return "composing the answer"
        return None


def _fallback(data: dict[str, Any]) -> str:
    """`` (fallback: ...)`` when no model answer made the plan valid."""
    how = data.get("fallback")
    if not how:
        return ""
    if str(how).startswith("template:"):
        return f" (fallback: memory template #{str(how).split(':', 1)[1]}; no valid plan came)"
    return " (fallback: one subtask per app; no valid plan came)"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _short(text: str, width: int = 100) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def run_summary(record: RunRecord, *, mermaid: bool = False) -> str:
    """The human-readable end of ``steward run`` / ``steward show``."""
    lines = [f"run {record.run_id}: {record.status}", f"instruction: {record.instruction}"]
    if record.graph is not None:
        lines.append("scheduling graph:")
        lines.append(_indent(record.graph.to_tree()))
        if mermaid:
            lines.append("mermaid:")
            lines.append(record.graph.to_mermaid())
    if record.subtasks:
        lines.append("subtasks:")
        for s in record.subtasks:
            lines.append(
                f"    {s.id:<6} {s.task_token:<18} {s.status:<9} attempts={s.attempts} "
                f"tokens={s.usage.total_tokens}  {_short(s.key_info or s.result, 70)}"
            )
    if record.replans:
        lines.append(f"re-plans: {record.replans}")
    memory = memory_line(record.retrieved)
    if memory:
        lines.append(memory)
    if record.approvals:
        lines.append("approvals:")
        lines += [f"    {approval_line(a)}" for a in record.approvals]
        if any(a.decision == "pending" for a in record.approvals):
            lines.append(
                f"    continue with `steward approve {record.run_id}` (or --deny REASON, "
                "--set ARG=VALUE)"
            )
    for note in record.notes:
        lines.append(f"note: {note}")
    if record.error:
        lines.append(f"error: {record.error}")
    lines.append(f"answer: {record.answer or '(none)'}")
    u = record.usage
    lines.append(
        f"usage: {u.prompt_tokens} prompt + {u.completion_tokens} completion tokens in "
        f"{u.calls} model calls; wall time {record.wall_s:.1f} s"
    )
    return "\n".join(lines)


def approval_line(a: ApprovalRecord) -> str:
    """One approval of a run record, as ``steward show`` lists it."""
    call = f"{a.id} {a.app}.{a.tool}({_args(a.proposed)})"
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(a.decided_at)) if a.decided_at else ""
    if a.decision == "pending":
        return f"{call}: waiting for approval"
    if a.decision == "withdrawn":
        return f"{call}: withdrawn (its attempt was interrupted before anyone decided)"
    who = "you" if a.by == "user" else "the policy"
    line = f"{call}: {a.decision} by {who} at {when}"
    if a.approved is not None and a.approved != a.proposed:
        line += f", edited to ({_args(a.approved)})"
    if a.reason:
        line += f": {_short(a.reason, 80)}"
    return line + ("" if a.status in ("done", "denied") else f" [{a.status}]")


def approval_text(a: ApprovalRecord) -> str:
    """A call waiting for approval, as a person is shown it before deciding."""
    lines = [
        f"approval needed [{a.id}]: {a.app}.{a.tool}",
        f"    for subtask {a.subtask_id}: {a.instruction}",
    ]
    lines += [f"    {k} = {json.dumps(v, default=str)[:300]}" for k, v in a.proposed.items()]
    return "\n".join(lines)


def _args(arguments: dict[str, Any]) -> str:
    return _short(", ".join(f"{k}={v!r}" for k, v in arguments.items()), 120)


def memory_line(retrieved: dict[str, Any]) -> str:
    """``memory: ...`` naming the entries that went into the prompts; ``""`` when none did
    (memory off, or nothing similar found)."""
    parts: list[str] = []
    guideline_ids = [i for found in retrieved.get("guidelines") or [] for i in found["ids"]]
    if guideline_ids:
        parts.append(f"guidelines {', '.join(f'#{i}' for i in guideline_ids)} for the plan")
    for sub_id, lookups in (retrieved.get("expertise") or {}).items():
        ids = [i for found in lookups for i in found["ids"]]
        if ids:
            parts.append(f"expertise {', '.join(f'#{i}' for i in ids)} for {sub_id}")
    if not parts:
        return ""
    return "memory: " + "; ".join(parts) + " (`steward memory show KIND ID`)"


def run_json(record: RunRecord) -> dict[str, Any]:
    """The machine-readable run record (``--json``)."""
    out = record.model_dump(mode="json")
    out["usage"]["total_tokens"] = record.usage.total_tokens
    return out
