"""What changed between two snapshots of an app, as short readable lines.

Snapshots are JSON data (``apps.codec``'s tagged encoding for the BFCL and Python apps). The
diff reads through the tags (a tuple or set is a list, an object is its attributes), skips
private attributes (names starting with ``_``: random generators, caches, descriptions) and
lines up lists item by item, so one message appended to an inbox is one ``added`` line, not a
cascade of changed positions.
"""

from __future__ import annotations

import difflib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from apps.codec import TAG

ChangeKind = Literal["added", "removed", "changed"]


class Change(BaseModel):
    """One difference between two states."""

    model_config = ConfigDict(extra="forbid")

    path: str
    """Where, e.g. ``state.outbox[2]`` or ``state.root.contents.report.txt``."""
    kind: ChangeKind
    before: Any = None
    after: Any = None

    def line(self, limit: int = 160) -> str:
        """``+ path: value``, ``- path: value`` or ``~ path: old -> new``, values shortened."""
        if self.kind == "added":
            return f"+ {self.path}: {_short(self.after, limit)}"
        if self.kind == "removed":
            return f"- {self.path}: {_short(self.before, limit)}"
        half = max(20, limit // 2)
        return f"~ {self.path}: {_short(self.before, half)} -> {_short(self.after, half)}"


def plain(value: Any) -> Any:
    """``value`` without the codec's tags: the data a person would read."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(TAG)
    if tag is None:
        return {k: plain(v) for k, v in value.items() if k != "id" or len(value) > 1}
    inner = value.get("v")
    if tag in ("tuple", "set", "frozenset"):
        return [plain(v) for v in inner or []]
    if tag == "dict":
        return {str(plain(k)): plain(v) for k, v in inner or []}
    if tag == "obj":
        return {k: plain(v) for k, v in (inner or {}).items()}
    if tag == "ref":
        return f"<same as #{value.get('id')}>"
    if tag == "random":
        return "<random state>"
    return inner if inner is not None else f"<{tag}>"


def diff_states(before: Any, after: Any, path: str = "") -> list[Change]:
    """Every difference between ``before`` and ``after`` (raw snapshots or plain data)."""
    return _diff(plain(before), plain(after), path)


def _diff(before: Any, after: Any, path: str) -> list[Change]:
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[Change] = []
        for key in [*before, *(k for k in after if k not in before)]:
            if str(key).startswith("_"):
                continue
            where = f"{path}.{key}" if path else str(key)
            if key not in after:
                out.append(Change(path=where, kind="removed", before=before[key]))
            elif key not in before:
                out.append(Change(path=where, kind="added", after=after[key]))
            else:
                out += _diff(before[key], after[key], where)
        return out
    if isinstance(before, list) and isinstance(after, list):
        return _diff_lists(before, after, path)
    return [Change(path=path or "(state)", kind="changed", before=before, after=after)]


def _diff_lists(before: list[Any], after: list[Any], path: str) -> list[Change]:
    keys_before = [_key(v) for v in before]
    keys_after = [_key(v) for v in after]
    matcher = difflib.SequenceMatcher(a=keys_before, b=keys_after, autojunk=False)
    out: list[Change] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and i2 - i1 == j2 - j1:
            for offset in range(i2 - i1):
                out += _diff(before[i1 + offset], after[j1 + offset], f"{path}[{j1 + offset}]")
            continue
        out += [
            Change(path=f"{path}[{i}]", kind="removed", before=before[i]) for i in range(i1, i2)
        ]
        out += [Change(path=f"{path}[{j}]", kind="added", after=after[j]) for j in range(j1, j2)]
    return out


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _short(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render_changes(changes: list[Change], *, limit: int = 1200, line: int = 160) -> list[str]:
    """The changes as lines, at most about ``limit`` characters in all (a last line says how
    many were left out)."""
    lines: list[str] = []
    used = 0
    for index, change in enumerate(changes):
        text = change.line(line)
        if used + len(text) > limit and lines:
            lines.append(f"... and {len(changes) - index} more change(s)")
            break
        lines.append(text)
        used += len(text) + 1
    return lines
