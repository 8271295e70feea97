"""Text for the view: values shortened to a bound, so a run with long histories stays small."""

from __future__ import annotations

import json
from typing import Any

TEXT_LIMIT = 4000
"""Longest text kept for one field (an observation, an output, a prompt message)."""


def clip(text: str | None, limit: int = TEXT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if not text:
        return ""
    if len(text) <= limit:
        return text
    more = len(text) - limit
    return f"{text[:limit]}... [{more} more characters: `steward show RUN_ID --json` has all]"


def as_text(value: Any, limit: int = TEXT_LIMIT) -> str:
    """A value as readable text (strings as they are, anything else as JSON), clipped."""
    if value is None:
        return ""
    if isinstance(value, str):
        return clip(value, limit)
    return clip(json.dumps(value, default=str, ensure_ascii=False), limit)
