"""Results files shared by the benchmarks: one JSON object per finished task or case."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

log = logging.getLogger("steward.benchmarks")


Result = TypeVar("Result", bound=BaseModel)


def read_jsonl(path: Path, model: type[Result], what: str) -> dict[str, Result]:
    """Id -> result of each line of ``path`` (a missing file is empty; a line that is not a
    ``model``, such as a torn last line, is skipped with a warning, and that ``what`` (task,
    case) runs again)."""
    out: dict[str, Result] = {}
    if not path.exists():
        return out
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            result = model.model_validate_json(line)
        except ValidationError:
            log.warning(
                "%s:%d is not a %s result; that %s will run again", path, number, what, what
            )
            continue
        out[getattr(result, "id")] = result  # noqa: B009 (every results model has an id)
    return out
