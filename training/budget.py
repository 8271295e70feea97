"""Which roles to train and how many optimizer steps each gets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from agents.registry import token_for
from core.errors import UserError

STEWARD = "steward"


def pick_roles(available: Iterable[str], wanted: str | None) -> list[str]:
    """The roles to train: all with examples, or those ``wanted`` names (comma-separated task
    tokens, app names or ``steward``); a ``UserError`` names the unknown ones."""
    have = sorted(available)
    if not wanted:
        return have
    chosen: list[str] = []
    for item in (w.strip() for w in wanted.split(",") if w.strip()):
        role = item if item == STEWARD or item.startswith("<") else token_for(item)
        if role not in have:
            raise UserError(
                f"--roles: no examples for {item!r}; roles with examples: {', '.join(have)}"
            )
        chosen.append(role)
    return list(dict.fromkeys(chosen))


def split_steps(counts: Mapping[str, int], total: int) -> dict[str, int]:
    """``total`` optimizer steps shared among roles in proportion to their examples (at least
    one each): how one budget covers several adapters."""
    if total < len(counts):
        raise UserError(f"a budget of {total} steps cannot train {len(counts)} adapters")
    examples = sum(counts.values())
    steps = {role: max(1, total * n // examples) for role, n in counts.items()}
    # hand the rounding's remainder to the roles with the most examples
    for role in sorted(counts, key=lambda r: -counts[r]):
        if sum(steps.values()) >= total:
            break
        steps[role] += 1
    while sum(steps.values()) > total:
        role = max((r for r in steps if steps[r] > 1), key=lambda r: steps[r])
        steps[role] -= 1
    return steps
