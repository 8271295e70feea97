"""Held out means held out: which BFCL tasks a memory learned from, and checks that no
evaluation uses them again, in any category.

BFCL v4's multi-turn categories share their tasks: task N of ``multi_turn_miss_func``,
``multi_turn_miss_param`` and ``multi_turn_long_context`` is a perturbation of
``multi_turn_base`` task N (same initial state, the same first turns). So whatever learned from
task N of one category must never be judged on task N of any category: learn and evaluation
sets are compared by task *index*, never by task id. One rule, two guards:

- a split known up front (``bench memory``'s fill and evaluation slices) is checked with
  :func:`leaked` when it is configured;
- memory outlives a run (``bench bfcl`` learns while it evaluates, and a later run in another
  category may read the same file), so every memory file has a ledger beside it,
  ``<file>.learned.jsonl``, one line per task it learned from; a run that reads the memory
  refuses to evaluate a task whose index is in it (:func:`check_unseen`). Entries written before
  ledgers existed are found through their provenance run ids (``<task id>-t<turn>-<tag>``). An
  empty memory has nothing to leak, whatever its ledger says.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from core.errors import UserError

LEDGER_SUFFIX = ".learned.jsonl"
"""Appended to a memory file's name for its ledger of learned tasks."""

_TASK_ID = re.compile(r"^(multi_turn_[a-z_]+?)_(\d+)$")
_RUN_ID = re.compile(r"^(multi_turn_[a-z_]+?_\d+)-t\d+-\w+$")


class SplitLeakError(UserError):
    """An evaluation would use tasks (by index, in any category) that its memory learned from."""


def task_index(task_id: str) -> int:
    """The index shared across categories: ``multi_turn_miss_param_12`` -> 12."""
    match = _TASK_ID.match(task_id)
    if match is None:
        raise ValueError(f"not a BFCL multi-turn task id: {task_id!r}")
    return int(match.group(2))


def leaked(learned: Iterable[int], evaluated: Iterable[int]) -> list[int]:
    """Indices both learned from and evaluated (sorted); empty for a clean split."""
    return sorted(set(learned) & set(evaluated))


def span(indices: Iterable[int]) -> str:
    """Indices as short text: ``0-4, 7, 9-10`` (``none`` when empty)."""
    ordered = sorted(set(indices))
    if not ordered:
        return "none"
    parts: list[str] = []
    start = prev = ordered[0]
    for i in [*ordered[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    return ", ".join(parts)


def ledger_path(memory: Path) -> Path:
    """Where the ledger of the memory file ``memory`` is kept."""
    return memory.with_name(memory.name + LEDGER_SUFFIX)


def record_learned(memory: Path, task_id: str, *, model: str = "") -> None:
    """Note in ``memory``'s ledger that it learns from ``task_id`` (call before writing the
    entries: a crash in between then errs on the side of a task counted as seen)."""
    line = json.dumps({"task": task_id, "model": model, "at": round(time.time(), 3)})
    path = ledger_path(memory)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:  # one short append: atomic between processes
        fh.write(line + "\n")


def ledger_tasks(memory: Path) -> set[str]:
    """Ids of the tasks in ``memory``'s ledger (no ledger: none)."""
    path = ledger_path(memory)
    if not path.exists():
        return set()
    found: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            task = json.loads(line).get("task")
        except (ValueError, AttributeError):
            continue  # a torn line
        if isinstance(task, str) and _TASK_ID.match(task):
            found.add(task)
    return found


def learned_tasks(memory: Path) -> set[str]:
    """Ids of the BFCL tasks the memory file ``memory`` learned from: its ledger, plus the
    tasks named by its entries' provenance run ids; empty when it has no entry."""
    from memory import MemoryStore

    if not memory.exists():
        return set()
    with MemoryStore(memory) as store:
        entries = store.list(limit=None)
    if not entries:
        return set()
    named = {m.group(1) for e in entries if (m := _RUN_ID.match(e.provenance.run_id))}
    return named | ledger_tasks(memory)


def copy_ledger(source: Path, target: Path) -> None:
    """Give the memory copy ``target`` the ledger of ``source`` (none: none)."""
    src, dst = ledger_path(source), ledger_path(target)
    if src.exists():
        shutil.copyfile(src, dst)
    else:
        dst.unlink(missing_ok=True)


def check_unseen(
    memory: Path, task_ids: Sequence[str], *, learned: Iterable[str] | None = None
) -> None:
    """Raise :class:`SplitLeakError` if a task of ``task_ids`` shares its index with a task
    ``memory`` learned from (``learned``: those tasks, when already read)."""
    seen = set(learned_tasks(memory) if learned is None else learned)
    indices = {task_index(t) for t in seen}
    bad = leaked(indices, (task_index(t) for t in task_ids))
    if not bad:
        return
    categories = sorted({t.rsplit("_", 1)[0] for t in seen if task_index(t) in bad})
    raise SplitLeakError(
        f"memory {memory} has learned from task(s) {span(bad)} ({', '.join(categories)}), and "
        f"task N of every BFCL multi-turn category is a version of multi_turn_base task N: "
        f"evaluating task(s) {span(bad)} with it would test on seen tasks. Run other tasks "
        "(--offset/--limit), give another --memory-db, or use --agent no-memory"
    )


def parse_tasks(spec: str, total: int = 200) -> list[int]:
    """Task indices from ``even``, ``odd``, ``all``, ``A-B`` (inclusive) or ``1,3,8`` (and
    comma-separated mixes of ranges and numbers); a ``UserError`` says what is wrong."""
    text = spec.strip().lower()
    if text in ("all", ""):
        return list(range(total))
    if text == "even":
        return list(range(0, total, 2))
    if text == "odd":
        return list(range(1, total, 2))
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                first, last = (int(x) for x in part.split("-", 1))
                out += list(range(first, last + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise UserError(
                f"--tasks {spec!r}: use even, odd, all, a range like 0-19 or numbers like 1,3,5"
            ) from None
    bad = [i for i in out if not 0 <= i < total]
    if bad:
        raise UserError(f"--tasks {spec!r}: task indices go from 0 to {total - 1}, not {bad[0]}")
    return sorted(dict.fromkeys(out))


def taught_indices(sources: Iterable[str]) -> set[int]:
    """The BFCL task indices an expert learned from, read from its manifest's sources
    (``teacher:bfcl:CATEGORY:SPEC``; any category counts, since task N of each is a version of
    base task N). Sources of other kinds (``runs``) name no index."""
    out: set[int] = set()
    for source in sources:
        parts = source.split(":", 3)
        if len(parts) == 4 and parts[:2] == ["teacher", "bfcl"]:
            out.update(parse_tasks(parts[3]))
    return out


def check_experts_unseen(experts: Mapping[str, Iterable[str]], task_ids: Sequence[str]) -> None:
    """Raise :class:`SplitLeakError` if an expert (name -> its sources) learned from the index
    of a task in ``task_ids``."""
    for name, sources in sorted(experts.items()):
        bad = leaked(taught_indices(sources), (task_index(t) for t in task_ids))
        if bad:
            raise SplitLeakError(
                f"expert {name} learned from BFCL task(s) {span(bad)}, and task N of every "
                f"category is a version of multi_turn_base task N: evaluating them with it "
                "would test on seen tasks. Run other tasks (e.g. --tasks odd when it learned "
                "from even ones), or set STEWARD_EXPERTS=0 to evaluate the base model"
            )
