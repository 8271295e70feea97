"""Results on disk: JSONL per task, a summary JSON, a Markdown table and PNG plots.

Files of one run are named by its key (``category__agent__mode__model``), so several runs can
share an ``--out`` folder; ``results.md`` and ``accuracy.png`` cover every summary in it (the
ablation table: one row per category, agent, mode and model).
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from benchmarks.bfcl.purposes import PURPOSES, CallCounts, CallMeans
from benchmarks.bfcl.results import (
    BenchConfig,
    MemoryReport,
    ServerReport,
    Summary,
    TaskResult,
    Totals,
)
from benchmarks.bfcl.split import span
from benchmarks.jsonl import read_jsonl
from modelclient.metrics import CacheCounters

log = logging.getLogger("steward.benchmarks")

MARKDOWN = "results.md"
ACCURACY_PNG = "accuracy.png"


def read_results(path: Path) -> dict[str, TaskResult]:
    """Task id -> result from a JSONL file (a missing file is empty; a torn last line is
    skipped, the task runs again)."""
    return read_jsonl(path, TaskResult, "task")


def summarize(
    config: BenchConfig,
    model: str,
    results: Sequence[TaskResult],
    *,
    elapsed_s: float = 0.0,
    tasks_run: int = 0,
) -> Summary:
    """Totals and accuracies over ``results``."""
    n = len(results)
    passed = sum(1 for r in results if r.valid)
    turns = sum(r.turn_count for r in results)
    judged = [t.recruited for r in results for t in r.turns if t.recruited is not None]
    totals = Totals.total(r.totals for r in results)
    calls = CallCounts.total(r.calls_by_purpose for r in results)
    per_task = Totals(
        model_calls=round(totals.model_calls / n) if n else 0,
        prompt_tokens=round(totals.prompt_tokens / n) if n else 0,
        completion_tokens=round(totals.completion_tokens / n) if n else 0,
        actions=round(totals.actions / n) if n else 0,
        retries=round(totals.retries / n) if n else 0,
        replans=round(totals.replans / n) if n else 0,
        wall_s=round(totals.wall_s / n, 3) if n else 0.0,
    )
    return Summary(
        category=config.category,
        agent=config.agent,
        mode=config.mode,
        model=model,
        tasks=n,
        passed=passed,
        accuracy=round(passed / n, 4) if n else 0.0,
        per_turn_accuracy=round(sum(r.turns_passed for r in results) / turns, 4) if turns else 0.0,
        recruitment_accuracy=round(sum(judged) / len(judged), 4) if judged else None,
        totals=totals,
        per_task=per_task,
        elapsed_s=round(elapsed_s, 2),
        tasks_run=tasks_run,
        tasks_per_minute=round(tasks_run / elapsed_s * 60, 2) if elapsed_s > 0 else 0.0,
        concurrency=config.concurrency,
        calls_by_purpose=calls,
        calls_by_purpose_per_task=CallMeans.of(calls, n),
        task_calls_by_purpose={r.id: r.calls_by_purpose for r in results},
    )


class _Worked(Protocol):
    @property
    def totals(self) -> Totals: ...


def server_report(
    ran: Sequence[_Worked], before: CacheCounters | None, after: CacheCounters | None
) -> ServerReport | None:
    """Prompt tokens per call of the tasks just run, and the prefix-cache hits in between
    (``None`` for a scripted model: no calls)."""
    totals = Totals.total(r.totals for r in ran)
    if totals.model_calls == 0:
        return None
    report = ServerReport(
        prompt_tokens_per_call=round(totals.prompt_tokens / totals.model_calls, 1)
    )
    if before is not None and after is not None:
        delta = after - before
        report.prefix_cache_queried_tokens = delta.queried_tokens
        report.prefix_cache_hit_tokens = delta.hit_tokens
        rate = delta.hit_rate
        report.prefix_cache_hit_rate = None if rate is None else round(rate, 4)
    return report


def write_reports(
    config: BenchConfig,
    model: str,
    results: Sequence[TaskResult],
    *,
    elapsed_s: float = 0.0,
    tasks_run: int = 0,
    memory: MemoryReport | None = None,
    server: ServerReport | None = None,
) -> Summary:
    """Write the summary JSON, the Markdown table and the plots; returns the summary."""
    out = config.out
    key = config.key(model)
    summary = summarize(config, model, results, elapsed_s=elapsed_s, tasks_run=tasks_run)
    summary.memory = memory
    summary.server = server
    summary.files = {
        "results": str(out / f"{key}.jsonl"),
        "summary": str(out / f"{key}.summary.json"),
        "markdown": str(out / MARKDOWN),
    }
    if memory is not None:
        summary.files["memory"] = memory.path
    if importlib.util.find_spec("matplotlib") is not None:
        summary.files["accuracy_plot"] = str(out / ACCURACY_PNG)
        summary.files["tokens_plot"] = str(out / f"{key}.tokens.png")
    (out / f"{key}.summary.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    summaries = load_summaries(out)
    (out / MARKDOWN).write_text(markdown(summaries), encoding="utf-8")
    write_plots(out, key, results, summaries)
    return summary


def load_summaries(out: Path) -> list[Summary]:
    """Every summary JSON in ``out``, sorted by category, agent, mode and model."""
    found = []
    for path in sorted(out.glob("*.summary.json")):
        try:
            found.append(Summary.model_validate(json.loads(path.read_text(encoding="utf-8"))))
        except (ValidationError, json.JSONDecodeError, OSError):
            log.warning("skipping unreadable summary %s", path)
    return sorted(found, key=lambda s: (s.category, s.agent, s.mode, s.model))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def markdown(summaries: Sequence[Summary]) -> str:
    """One table row per summary."""
    lines = [
        "# BFCL v4 multi-turn",
        "",
        "Accuracy is the official checker's; per-turn accuracy counts the turns it accepted "
        "before a task's first failure; recruitment compares the apps of the first plan with "
        "the apps of the ground truth, per turn. Token and call columns are means per task.",
        "",
        "| category | agent | mode | model | tasks | accuracy % | per-turn % | recruitment % "
        "| calls | prompt tok | completion tok | actions | retries | re-plans | s/task "
        "| tasks/min |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        p = s.per_task
        lines.append(
            f"| {s.category} | {s.agent} | {s.mode} | {s.model} | {s.tasks} | "
            f"{_pct(s.accuracy)} | {_pct(s.per_turn_accuracy)} | {_pct(s.recruitment_accuracy)} "
            f"| {p.model_calls} | {p.prompt_tokens} | {p.completion_tokens} | {p.actions} "
            f"| {p.retries} | {p.replans} | {p.wall_s:.2f} | {s.tasks_per_minute:.1f} |"
        )
    lines += ["", *_calls_table(summaries), *_memory_lines(summaries), *_server_lines(summaries)]
    for s in summaries:
        lines += ["", *_task_calls(s)]
    return "\n".join(lines) + "\n"


_CALL_COLUMNS = [*PURPOSES, "other", "reasks", "retries"]
_CALL_HEADER = (
    "| plan | replan | act | evaluate | answer | summarize | other | re-asks | retries "
    "| fallbacks |"
)


def _fallbacks(values: dict[str, int] | dict[str, float]) -> str:
    shown = [f"{kind} {v:g}" for kind, v in sorted(values.items()) if v]
    return ", ".join(shown) or "0"


def _call_cells(counts: CallCounts | CallMeans) -> str:
    cells = [f"{getattr(counts, c):g}" for c in _CALL_COLUMNS]
    return " | ".join([*cells, _fallbacks(counts.fallbacks)])


def _calls_table(summaries: Sequence[Summary]) -> list[str]:
    """Where the model calls go, per arm: means per task, then totals."""
    lines = [
        "## Model calls by purpose",
        "",
        "Call records by purpose (a plan's repair rounds count as plan calls); re-asks are the "
        "requests inside them beyond the first (calls + re-asks = the calls column above); "
        "retries are subtask attempts beyond the first; fallbacks are plans or re-plans made "
        "without a valid model answer, by kind.",
        "",
        f"| category | agent | mode | model | per | {_CALL_HEADER.removeprefix('| ')}",
        "|---|---|---|---|---|" + "---:|" * (len(_CALL_COLUMNS) + 1),
    ]
    for s in summaries:
        arm = f"| {s.category} | {s.agent} | {s.mode} | {s.model}"
        lines.append(f"{arm} | task | {_call_cells(s.calls_by_purpose_per_task)} |")
        lines.append(f"{arm} | all {s.tasks} | {_call_cells(s.calls_by_purpose)} |")
    return lines


def server_line(server: ServerReport) -> str:
    """Prompt tokens per call and the prefix-cache hits, in words."""
    line = f"{server.prompt_tokens_per_call:g} prompt tokens per call"
    if server.prefix_cache_hit_rate is not None:
        line += (
            f"; prefix cache hit {100 * server.prefix_cache_hit_rate:.1f}% of the prompt tokens "
            f"({server.prefix_cache_hit_tokens} of {server.prefix_cache_queried_tokens})"
        )
    elif server.prefix_cache_queried_tokens is None:
        line += "; the server reports no prefix-cache counters"
    return line


def _server_lines(summaries: Sequence[Summary]) -> list[str]:
    lines = [
        f"- {s.category} / {s.agent} / {s.mode} / {s.model}: {server_line(s.server)}"
        for s in summaries
        if s.server is not None
    ]
    return ["", "## Model server (last invocation)", "", *lines] if lines else []


def _memory_lines(summaries: Sequence[Summary]) -> list[str]:
    lines = []
    for s in summaries:
        m = s.memory
        if m is None:
            continue
        whose = "your memory store" if m.user_store else "memory file"
        lines.append(
            f"- {s.category} / {s.agent} / {s.mode} / {s.model}: {whose} `{m.path}` "
            f"({'learning' if m.learn else 'read-only'}"
            f"{', scripted entries offered' if m.include_scripted else ''}); it has learned "
            f"from task indices {span(m.learned_indices)}, held out from evaluation with it "
            "in every category."
        )
    return ["", "## Memory", "", *lines] if lines else []


def _task_calls(s: Summary) -> list[str]:
    """One row per task (collapsed), and the total."""
    lines = [
        f"<details><summary>Model calls per task: {s.category} / {s.agent} / {s.mode} / "
        f"{s.model}</summary>",
        "",
        f"| task | calls {_CALL_HEADER}",
        "|---|---:|" + "---:|" * (len(_CALL_COLUMNS) + 1),
    ]
    for task_id, counts in s.task_calls_by_purpose.items():
        lines.append(f"| {task_id} | {counts.requests} | {_call_cells(counts)} |")
    lines.append(f"| all | {s.calls_by_purpose.requests} | {_call_cells(s.calls_by_purpose)} |")
    return [*lines, "", "</details>"]


def write_plots(
    out: Path, key: str, results: Sequence[TaskResult], summaries: Sequence[Summary]
) -> dict[str, str]:
    """``accuracy.png`` (``summaries``) and ``<key>.tokens.png`` (``results``); nothing when
    matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        log.warning("matplotlib is not installed; no plots (pip install 'steward[plots]')")
        return {}
    matplotlib.use("Agg")
    _accuracy_plot(summaries, out / ACCURACY_PNG)
    tokens = out / f"{key}.tokens.png"
    _tokens_plot(key, results, tokens)
    return {"accuracy_plot": str(out / ACCURACY_PNG), "tokens_plot": str(tokens)}


def _accuracy_plot(summaries: Sequence[Summary], path: Path) -> None:
    import matplotlib.pyplot as pyplot

    categories = sorted({s.category for s in summaries})
    series = sorted({f"{s.agent}/{s.mode}/{s.model}" for s in summaries})
    fig, ax = pyplot.subplots(figsize=(max(6.0, 1.8 * len(categories) + 2), 4.5))
    width = 0.8 / max(1, len(series))
    by_key = {(s.category, f"{s.agent}/{s.mode}/{s.model}"): s for s in summaries}
    for j, name in enumerate(series):
        values = []
        for c in categories:
            found = by_key.get((c, name))
            values.append(100 * found.accuracy if found else 0.0)
        xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(categories))]
        ax.bar(xs, values, width, label=name)
    ax.set_xticks(range(len(categories)))
    ax.set_xticklabels([c.removeprefix("multi_turn_") for c in categories])
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 105)
    ax.set_title("BFCL v4 multi-turn accuracy per category and agent")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot.close(fig)


def _tokens_plot(key: str, results: Sequence[TaskResult], path: Path) -> None:
    import matplotlib.pyplot as pyplot

    fig, ax = pyplot.subplots(figsize=(8, 4))
    xs = list(range(len(results)))
    prompt = [r.totals.prompt_tokens for r in results]
    completion = [r.totals.completion_tokens for r in results]
    colors = ["tab:green" if r.valid else "tab:red" for r in results]
    ax.bar(xs, prompt, color=colors, alpha=0.6, label="prompt tokens")
    ax.bar(xs, completion, bottom=prompt, color="tab:blue", label="completion tokens")
    ax.set_xlabel("task (green: passed, red: failed)")
    ax.set_ylabel("tokens")
    ax.set_title(f"Tokens per task: {key}", fontsize="small")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot.close(fig)
