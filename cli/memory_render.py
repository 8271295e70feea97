"""Text and JSON rendering for ``steward memory`` (tables, one entry in full)."""

from __future__ import annotations

import json
from typing import Any

import click

from memory import Entry, GuidelineEntry, format_graph, kind_of

TEXT_WIDTH = 60
"""Entry texts are clipped to this many characters in tables."""


def echo_json(value: Any) -> None:
    """Pretty JSON on standard output."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def clip(text: str, width: int = TEXT_WIDTH) -> str:
    """``text`` on one line, cut to ``width`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns separated by two spaces."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def summary(entry: Entry) -> list[str]:
    """KIND ID SUCC USES UPDATED TOKENS TEXT."""
    if isinstance(entry, GuidelineEntry):
        tokens, text = " ".join(entry.task_tokens), entry.instruction
    else:
        tokens, text = entry.task_token, entry.subtask
    return [
        kind_of(entry),
        str(entry.id),
        str(entry.successes),
        str(entry.uses),
        entry.updated_at[:19].replace("T", " "),
        tokens,
        clip(text),
    ]


SUMMARY_HEADERS = ["KIND", "ID", "SUCC", "USES", "UPDATED (UTC)", "TOKENS", "TEXT"]


def as_json(entry: Entry) -> dict[str, Any]:
    """The entry as JSON-ready data, tagged with its kind."""
    return {"kind": kind_of(entry), **entry.model_dump(mode="json")}


def show_text(entry: Entry) -> str:
    """Every field of one entry, readable."""
    lines = [f"{kind_of(entry)} {entry.id}"]
    prov = entry.provenance
    if isinstance(entry, GuidelineEntry):
        lines += [
            f"  instruction: {entry.instruction}",
            f"  task tokens: {' '.join(entry.task_tokens)}",
        ]
    else:
        lines += [f"  task token:  {entry.task_token}", f"  subtask:     {entry.subtask}"]
    lines += [
        f"  successes:   {entry.successes}",
        f"  uses:        {entry.uses}",
        f"  updated:     {entry.updated_at}",
        f"  provenance:  source={prov.source} run={prov.run_id or '-'} "
        f"model={prov.model or '-'} created={prov.created_at}",
    ]
    if isinstance(entry, GuidelineEntry):
        lines += [f"  guideline:   {entry.guideline or '-'}", "  graph:"]
        lines += [f"  {line}" for line in format_graph(entry.graph).splitlines()]
    else:
        lines.append("  tips:" + ("" if entry.tips else " -"))
        lines += [f"    - {tip}" for tip in entry.tips]
        lines.append("  actions:" + ("" if entry.actions else " -"))
        lines += [
            f"    {i}. {a.tool}({json.dumps(a.arguments, ensure_ascii=False)})"
            for i, a in enumerate(entry.actions, 1)
        ]
    return "\n".join(lines)
