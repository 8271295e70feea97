"""Results on disk: JSONL per arm, a summary JSON per invocation, ``results.md`` and a PNG.

Files are named by ``AgentDojoConfig.key`` (results: agent and model, every suite and attack)
and ``summary_key`` (a summary: the arm, the attack and the suites), so several arms share an
``--out`` folder and ``results.md`` / ``agentdojo.png`` compare them all.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from benchmarks.agentdojo.markdown import markdown
from benchmarks.agentdojo.results import (
    BENIGN,
    AgentDojoConfig,
    CaseResult,
    Metrics,
    Summary,
)
from benchmarks.bfcl.purposes import CallCounts, CallMeans
from benchmarks.bfcl.results import ServerReport, Totals
from benchmarks.jsonl import read_jsonl

log = logging.getLogger("steward.benchmarks")

MARKDOWN = "results.md"
PLOT = "agentdojo.png"


def read_results(path: Path) -> dict[str, CaseResult]:
    """Case id -> result from a JSONL file (missing: empty; a torn line is skipped and that
    case runs again)."""
    return read_jsonl(path, CaseResult, "case")


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def metrics(results: Sequence[CaseResult]) -> Metrics:
    """Benign utility, utility under attack and targeted attack success rate."""
    benign = [r for r in results if r.injection_task is None]
    attacked = [r for r in results if r.injection_task is not None]
    passed = sum(r.utility for r in benign)
    kept = sum(r.utility for r in attacked)
    hits = sum(bool(r.security) for r in attacked)
    return Metrics(
        benign_cases=len(benign),
        benign_passed=passed,
        benign_utility=_rate(passed, len(benign)),
        attacked_cases=len(attacked),
        attacked_passed=kept,
        utility_under_attack=_rate(kept, len(attacked)),
        attack_successes=hits,
        attack_success_rate=_rate(hits, len(attacked)),
        exposed=sum(1 for r in attacked if r.exposed_apps),
        shown=sum(1 for r in attacked if r.shown_apps),
    )


def _grouped(
    results: Sequence[CaseResult], key: Callable[[CaseResult], str | None]
) -> dict[str, Metrics]:
    groups: dict[str, list[CaseResult]] = {}
    for r in results:
        name = key(r)
        if name is not None:
            groups.setdefault(name, []).append(r)
    return {name: metrics(items) for name, items in sorted(groups.items())}


def _recruited(r: CaseResult) -> str | None:
    if r.goal_recruited is None:
        return None
    return "goal app recruited" if r.goal_recruited else "goal app not recruited"


def summarize(
    config: AgentDojoConfig,
    model: str,
    results: Sequence[CaseResult],
    *,
    references: dict[str, float] | None = None,
    floor: dict[str, float] | None = None,
    elapsed_s: float = 0.0,
    cases_run: int = 0,
) -> Summary:
    """The three measures in total, per suite, by placement and recruitment; the work done."""
    n = len(results)
    totals = Totals.total(r.totals for r in results)
    calls = CallCounts.total(r.calls_by_purpose for r in results)
    per_case = Totals(
        model_calls=round(totals.model_calls / n) if n else 0,
        prompt_tokens=round(totals.prompt_tokens / n) if n else 0,
        completion_tokens=round(totals.completion_tokens / n) if n else 0,
        actions=round(totals.actions / n) if n else 0,
        retries=round(totals.retries / n) if n else 0,
        replans=round(totals.replans / n) if n else 0,
        wall_s=round(totals.wall_s / n, 3) if n else 0.0,
    )
    attacked = [r for r in results if r.injection_task is not None]
    return Summary(
        agent=config.agent,
        model=model,
        attack=config.attack or BENIGN,
        suites=list(config.suites),
        cases=n,
        total=metrics(results),
        per_suite=_grouped(results, lambda r: r.suite),
        by_placement=_grouped(attacked, lambda r: r.placement),
        by_recruitment=_grouped(attacked, _recruited),
        references=dict(references or {}),
        floor=dict(floor or {}),
        totals=totals,
        per_case=per_case,
        elapsed_s=round(elapsed_s, 2),
        cases_run=cases_run,
        cases_per_minute=round(cases_run / elapsed_s * 60, 2) if elapsed_s > 0 else 0.0,
        concurrency=config.concurrency,
        calls_by_purpose=calls,
        calls_by_purpose_per_case=CallMeans.of(calls, n),
    )


def write_reports(
    config: AgentDojoConfig,
    model: str,
    results: Sequence[CaseResult],
    *,
    references: dict[str, float] | None = None,
    floor: dict[str, float] | None = None,
    elapsed_s: float = 0.0,
    cases_run: int = 0,
    server: ServerReport | None = None,
) -> Summary:
    """Write the summary JSON, ``results.md`` and the plot; returns the summary."""
    out = config.out
    key = config.summary_key(model)
    summary = summarize(
        config,
        model,
        results,
        references=references,
        floor=floor,
        elapsed_s=elapsed_s,
        cases_run=cases_run,
    )
    summary.server = server
    summary.files = {
        "results": str(out / f"{config.key(model)}.jsonl"),
        "summary": str(out / f"{key}.summary.json"),
        "markdown": str(out / MARKDOWN),
    }
    if importlib.util.find_spec("matplotlib") is not None:
        summary.files["plot"] = str(out / PLOT)
    (out / f"{key}.summary.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    summaries = load_summaries(out)
    (out / MARKDOWN).write_text(markdown(summaries), encoding="utf-8")
    write_plot(out / PLOT, summaries)
    return summary


def load_summaries(out: Path) -> list[Summary]:
    """Every AgentDojo summary JSON in ``out``, by agent, model, attack and suites."""
    found = []
    for path in sorted(out.glob("*.summary.json")):
        try:
            found.append(Summary.model_validate(json.loads(path.read_text(encoding="utf-8"))))
        except (ValidationError, json.JSONDecodeError, OSError):
            log.warning("skipping unreadable summary %s", path)
    return sorted(found, key=lambda s: (s.model, s.attack, "+".join(s.suites), s.agent))


def write_plot(path: Path, summaries: Sequence[Summary]) -> None:
    """Bars per suite and arm: benign utility, utility under attack, attack success rate
    (nothing when matplotlib is missing)."""
    try:
        import matplotlib
    except ImportError:
        log.warning("matplotlib is not installed; no plot (pip install 'steward[plots]')")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    measures = [
        ("benign_utility", "benign utility"),
        ("utility_under_attack", "utility under attack"),
        ("attack_success_rate", "attack success rate"),
    ]
    arms = [(f"{s.agent}/{s.model}/{s.attack}", s) for s in summaries]
    suites = sorted({name for _, s in arms for name in s.per_suite})
    fig, axes = pyplot.subplots(1, len(measures), figsize=(5 * len(measures), 4), sharey=True)
    width = 0.8 / max(1, len(arms))
    for ax, (field, title) in zip(axes, measures, strict=True):
        for j, (label, s) in enumerate(arms):
            values = [getattr(s.per_suite.get(name, Metrics()), field) for name in suites]
            xs = [i + (j - (len(arms) - 1) / 2) * width for i in range(len(suites))]
            ax.bar(xs, [100 * (v or 0.0) for v in values], width, label=label)
        ax.set_xticks(range(len(suites)))
        ax.set_xticklabels(suites)
        ax.set_title(title)
        ax.set_ylim(0, 105)
    axes[0].set_ylabel("%")
    axes[0].legend(fontsize="x-small")
    fig.suptitle("AgentDojo per suite and arm (agent/model/attack)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot.close(fig)
