"""What the harness records of a task's runs: the calls that ran, as the checker reads them, and
the work of learning from it."""

from __future__ import annotations

from benchmarks.bfcl.calls import CallFormatError, format_call
from benchmarks.bfcl.results import Totals
from benchmarks.bfcl.world import LoggedCall
from core.usage import CallRecord, Usage


def usage_totals(calls: list[CallRecord]) -> Totals:
    """Model calls and tokens of ``calls`` (the summaries of learning) as totals."""
    usage = Usage.total(c.usage for c in calls)
    return Totals(
        model_calls=usage.calls,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
    )


def call_strings(calls: list[LoggedCall]) -> tuple[list[str], list[str]]:
    """Safe call strings of the calls that ran, and a note for each one left out."""
    texts: list[str] = []
    skipped: list[str] = []
    for logged in calls:
        try:
            texts.append(format_call(logged.call.tool, logged.call.args))
        except CallFormatError as exc:
            skipped.append(f"{logged.call.tool}: {exc}")
    return texts, skipped
