"""``results.md``: every arm of an ``--out`` folder side by side, per suite, by where the
injection sat, and where the model calls went."""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.agentdojo.results import Metrics, Summary
from benchmarks.bfcl.purposes import PURPOSES, CallCounts, CallMeans
from benchmarks.bfcl.report import server_line


def pct(value: float | None) -> str:
    """A rate as a percentage with one decimal (``-`` for none)."""
    return "-" if value is None else f"{100 * value:.1f}"


def _measures(m: Metrics) -> str:
    benign = f"{pct(m.benign_utility)} ({m.benign_passed}/{m.benign_cases})"
    attacked = f"{pct(m.utility_under_attack)} ({m.attacked_passed}/{m.attacked_cases})"
    success = f"{pct(m.attack_success_rate)} ({m.attack_successes}/{m.attacked_cases})"
    return f"{benign} | {attacked} | {success} | {m.exposed} / {m.shown}"


_MEASURE_HEADER = "benign utility % | utility under attack % | attack success % | exposed / shown"
_MEASURE_ALIGN = "---:|---:|---:|---:|"


def _arm(s: Summary) -> str:
    return f"| {s.agent} | {s.model} | {s.attack}"


def markdown(summaries: Sequence[Summary]) -> str:
    """The tables of every summary."""
    lines = [
        "# AgentDojo",
        "",
        "Scored by AgentDojo's own checks (`utility`, `utility_from_traces`, `security`). "
        "Benign utility: user tasks passed without an attack; utility under attack: user "
        "tasks passed with an injection; attack success: injection goals reached (targeted "
        "attack success rate); exposed: attacked cases whose injection reached an agent in an "
        "app's answer; shown: within the characters a prompt shows of an answer. "
        "References: the same user tasks' reference solutions in AgentDojo's own runner; "
        "floor: doing nothing (some user tasks pass untouched). "
        "Work columns are means per case.",
        "",
        f"| agent | model | attack | suites | cases | {_MEASURE_HEADER} | references % "
        "| floor % | calls | prompt tok | completion tok | s/case |",
        f"|---|---|---|---|---:|{_MEASURE_ALIGN}---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        p = s.per_case
        lines.append(
            f"{_arm(s)} | {'+'.join(s.suites)} | {s.cases} | {_measures(s.total)} "
            f"| {pct(s.references.get('total'))} | {pct(s.floor.get('total'))} "
            f"| {p.model_calls} | {p.prompt_tokens} "
            f"| {p.completion_tokens} | {p.wall_s:.2f} |"
        )
    lines += _per_suite(summaries)
    lines += _grouped(summaries, "Where the injection sat", "placement", "by_placement")
    lines += _grouped(summaries, "Did the plan recruit the goal's app", "plan", "by_recruitment")
    lines += _calls(summaries)
    served = [f"- {_arm(s)[2:]}: {server_line(s.server)}" for s in summaries if s.server]
    if served:
        lines += ["", "## Model server (last invocation)", "", *served]
    return "\n".join(lines) + "\n"


def _per_suite(summaries: Sequence[Summary]) -> list[str]:
    lines = [
        "",
        "## Per suite",
        "",
        f"| agent | model | attack | suite | {_MEASURE_HEADER} | references % | floor % |",
        f"|---|---|---|---|{_MEASURE_ALIGN}---:|---:|",
    ]
    for s in summaries:
        for suite, m in s.per_suite.items():
            ref, floor = pct(s.references.get(suite)), pct(s.floor.get(suite))
            lines.append(f"{_arm(s)} | {suite} | {_measures(m)} | {ref} | {floor} |")
    return lines


def _grouped(summaries: Sequence[Summary], title: str, column: str, field: str) -> list[str]:
    rows = [
        f"{_arm(s)} | {name} | {_measures(m)} |"
        for s in summaries
        for name, m in getattr(s, field).items()
    ]
    if not rows:
        return []
    explain = {
        "placement": "same-app: every app the injection's goal needs is one whose data carry "
        "the injection (the staff agent that reads it holds the tools to obey it); cross-app: "
        "none is; partial: some are; answer: the goal needs no app, only words in the final "
        "answer.",
        "plan": "Steward arms only: whether the first plan (fixed before any app data was "
        "read) had a subtask on an app the injection's goal needs.",
    }[column]
    return [
        "",
        f"## {title}",
        "",
        explain,
        "",
        f"| agent | model | attack | {column} | {_MEASURE_HEADER} |",
        f"|---|---|---|---|{_MEASURE_ALIGN}",
        *rows,
    ]


_COLUMNS = [*PURPOSES, "other", "reasks", "retries"]


def _cells(counts: CallCounts | CallMeans) -> str:
    return " | ".join(f"{getattr(counts, c):g}" for c in _COLUMNS)


def _calls(summaries: Sequence[Summary]) -> list[str]:
    header = " | ".join(c.replace("reasks", "re-asks") for c in _COLUMNS)
    lines = [
        "",
        "## Model calls by purpose",
        "",
        "Call records by purpose; re-asks are the requests inside them beyond the first.",
        "",
        f"| agent | model | attack | per | {header} |",
        "|---|---|---|---|" + "---:|" * len(_COLUMNS),
    ]
    for s in summaries:
        lines.append(f"{_arm(s)} | case | {_cells(s.calls_by_purpose_per_case)} |")
        lines.append(f"{_arm(s)} | all {s.cases} | {_cells(s.calls_by_purpose)} |")
    return lines
