"""What the harness records of a task's runs: the calls that ran, as the checker reads them, and
the work of learning from it."""

from __future__ import annotations

from benchmarks.bfcl.calls import Call, CallFormatError, format_call
from benchmarks.bfcl.data import tool_index
from benchmarks.bfcl.results import Totals, TurnResult
from benchmarks.bfcl.turn import TurnRun
from benchmarks.bfcl.world import LoggedCall
from core.usage import CallRecord, Usage


def turn_result(
    index: int, instruction: str, run: TurnRun, ran: list[LoggedCall], expected: list[Call]
) -> TurnResult:
    """One turn's result: what its run did (``ran``: the calls that ran on the apps) beside
    the apps of its ground-truth calls (``expected``)."""
    calls, unrecorded = call_strings(ran)
    apps_expected = sorted({tool_index()[c.tool].app for c in expected})
    return TurnResult(
        index=index,
        instruction=instruction,
        run_id=run.run_id,
        status=run.status,
        error=run.error,
        calls=calls,
        apps_planned=run.apps_planned,
        apps_expected=apps_expected,
        recruited=(run.apps_planned == apps_expected) if expected else None,
        unrecorded=unrecorded,
        retrieved=run.retrieved,
        template_apps=run.template_apps,
        totals=run.totals,
        calls_by_purpose=run.by_purpose,
    )


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
