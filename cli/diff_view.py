"""``steward show RUN_ID --diff``: what a run changed, app by app, in words."""

from __future__ import annotations

import json
from typing import Any

from agents.records import RunRecord
from apps.diff import Change, diff_states
from core.errors import UserError

_WORDS = {"added": "added", "removed": "removed", "changed": "changed"}


def render_diff(record: RunRecord, *, width: int = 100) -> str:
    """Every app's changes between its state before and after the run; a
    ``UserError`` when the record has no app states (a run from before they were kept)."""
    if not record.apps:
        raise UserError(
            f"run {record.run_id} has no app states to compare (it was recorded before "
            "Steward kept them, or it stopped before planning)"
        )
    lines = [f"run {record.run_id}: {record.status}", f"instruction: {record.instruction}"]
    for name, states in sorted(record.apps.items()):
        if states.before is None or states.after is None:
            missing = "before" if states.before is None else "after"
            lines.append(f"{name}: its state {missing} the run was not saved")
            continue
        changes = diff_states(_inner(states.before), _inner(states.after))
        if not changes:
            lines.append(f"{name}: unchanged")
            continue
        lines.append(f"{name}: {len(changes)} change(s)")
        lines += [f"    {describe(c, width)}" for c in changes]
    return "\n".join(lines)


def _inner(snapshot: dict[str, Any]) -> Any:
    """An app's own data: the ``state`` of the BFCL and Python apps' snapshots."""
    return snapshot.get("state", snapshot) if isinstance(snapshot, dict) else snapshot


def describe(change: Change, width: int = 100) -> str:
    """``added tweets[2]: id=2, content='hello'`` and the like."""
    if change.kind == "changed":
        return f"changed {change.path}: {_value(change.before, width // 2)} -> " + _value(
            change.after, width // 2
        )
    value = change.after if change.kind == "added" else change.before
    return f"{_WORDS[change.kind]} {change.path}: {_value(value, width)}"


def _value(value: Any, width: int) -> str:
    if isinstance(value, dict):
        text = ", ".join(
            f"{k}={_scalar(v)}" for k, v in value.items() if not str(k).startswith("_")
        )
    elif isinstance(value, list):
        text = "[" + ", ".join(_scalar(v) for v in value) + "]"
    else:
        text = _scalar(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)
