"""What ``steward train`` does: examples -> one adapter per role -> installed for serving."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.errors import UserError
from training import ExampleSet, examples_from_store, write_examples
from training.budget import pick_roles, split_steps
from training.examples import Example

Say = Callable[[str], None]


class TrainOptions(BaseModel):
    """The command's options."""

    model_config = ConfigDict(extra="forbid")

    teacher: str | None = None
    category: str = "multi_turn_base"
    tasks: str = "even"
    arm: Literal["steward", "single"] = "steward"
    roles: str | None = None
    out: Path = Path("steward-train")
    max_steps: int | None = None
    budget_steps: int | None = None
    max_examples: int | None = None
    epochs: int = 1
    rank: int = 16
    learning_rate: float = 2e-4
    install: bool = True
    restart: bool = False


class AdapterReport(BaseModel):
    """One trained adapter."""

    model_config = ConfigDict(extra="forbid")

    task_token: str
    name: str
    path: str
    examples: int
    steps: int
    loss_first: float | None = None
    loss_last: float | None = None
    train_s: float = 0.0
    skipped: int = 0
    installed: bool = False


class TrainReport(BaseModel):
    """``steward train --json``."""

    model_config = ConfigDict(extra="forbid")

    adapters: list[AdapterReport] = Field(default_factory=list)
    examples: ExampleSet
    source: str
    teacher: dict[str, Any] | None = None


async def _examples(options: TrainOptions, say: Say) -> tuple[list[Example], str, Any]:
    if options.teacher == "bfcl":
        from benchmarks.bfcl.split import parse_tasks
        from benchmarks.bfcl.teach import teacher_examples

        say(f"teacher: BFCL {options.category}, tasks {options.tasks} ({options.arm})")
        examples, report = await teacher_examples(
            options.category,
            parse_tasks(options.tasks),
            options.out / "teacher" / options.arm,
            arm=options.arm,
        )
        say(f"teacher: {report.verified_turns} of {report.turns} turns verified")
        return examples, f"teacher:bfcl:{options.category}:{options.tasks}", report
    from memory.runs import RunStore

    store = RunStore()
    try:
        examples, runs = examples_from_store(store)
    finally:
        store.close()
    if not examples:
        raise UserError(
            "no verified runs to learn from: `steward train` learns from runs that succeeded "
            "(`steward runs` lists them), or from a teacher (--teacher bfcl)"
        )
    say(f"your runs: {len(examples)} examples from {runs} succeeded run(s)")
    return examples, "runs", None


async def train_experts(
    options: TrainOptions,
    *,
    progress: Any = None,
    say: Say = lambda _: None,
    warn: Say | None = None,
) -> TrainReport:
    """Build the examples, train an adapter per role, install them; see ``steward train``.
    ``warn`` (default ``say``) gets what holds training up (a busy embedded server)."""
    from local.adapters import adapter_name
    from local.install import ensure_model
    from local.settings import ServerSettings

    examples, source, teacher = await _examples(options, say)
    if not examples:
        raise UserError("the teacher's runs gave no verified examples to learn from")
    folder = options.out / "examples" / options.arm
    summary = write_examples(folder, examples)
    roles = pick_roles(summary.roles, options.roles)
    steps = (
        split_steps({r: summary.roles[r] for r in roles}, options.budget_steps)
        if options.budget_steps
        else {}
    )
    settings = ServerSettings()
    say("base model: checking the converted SmolLM2 (first time: installs the server venv)")
    model_dir = ensure_model(settings, say)
    report = TrainReport(examples=summary, source=source, teacher=_dump(teacher))
    for role in roles:
        name = adapter_name("single" if options.arm == "single" else role)
        job = _job(options, role, name, folder / summary.files[role], model_dir, settings, source)
        if role in steps:
            job = job.model_copy(update={"max_steps": steps[role]})
        _check_idle(settings, warn or say)
        report.adapters.append(await _train_one(job, options, progress, say))
    (options.out / "train_report.json").write_text(report.model_dump_json(indent=2))
    if options.install and report.adapters:
        _serve_new(say)
    return report


def _check_idle(settings: Any, warn: Say) -> None:
    """Warn when the embedded server is answering requests: it shares the CPU."""
    from local.server import running_server
    from modelclient.metrics import requests_in_flight

    info = running_server(settings)
    busy = requests_in_flight(info.base_url) if info is not None else None
    if busy:
        warn(busy_warning(busy))


def busy_warning(requests: int) -> str:
    """What ``steward train`` says when the server it shares the CPU with is busy."""
    return (
        f"warning: the embedded server is answering {requests} request(s); training shares "
        "the CPU with it and runs many times slower (on 2 cores: 95 s a step against 2.2 s). "
        "Train while it is idle, or stop it first (steward serve --stop)."
    )


def _serve_new(say: Say) -> None:
    """Restart a running embedded server so it serves the adapters just installed (a stopped
    one serves them when it next starts)."""
    from local.server import running_server, start_server
    from local.settings import ServerSettings

    settings = ServerSettings()
    if running_server(settings) is not None:
        say("restarting the embedded server to serve the new experts")
        start_server(settings, say, restart=True)


def _job(
    options: TrainOptions,
    role: str,
    name: str,
    examples: Path,
    model_dir: Path,
    settings: Any,
    source: str,
) -> Any:
    from local.trainjob import LoraSettings, TrainJob

    return TrainJob(
        base_model_dir=model_dir,
        base_model=settings.served_model_name,
        examples_file=examples,
        output_dir=options.out / "adapters" / name,
        adapter_name=name,
        task_token="single" if options.arm == "single" else role,
        sources=[source],
        lora=LoraSettings(r=options.rank, alpha=2 * options.rank),
        learning_rate=options.learning_rate,
        epochs=options.epochs,
        max_steps=options.max_steps,
        max_examples=options.max_examples,
    )


async def _train_one(job: Any, options: TrainOptions, progress: Any, say: Say) -> AdapterReport:
    import asyncio

    from local.experts import install_expert
    from local.settings import ServerSettings
    from local.trainrun import run_job

    if hasattr(progress, "start"):
        progress.start(job.adapter_name)
    say(f"training {job.adapter_name} for {job.task_token}")
    result = await asyncio.to_thread(
        run_job, job, progress=progress or (lambda _: None), restart=options.restart,
        env_progress=say,
    )  # fmt: skip
    installed = False
    if options.install:
        install_expert(result.adapter_dir, ServerSettings())
        installed = True
    return AdapterReport(
        task_token=job.task_token,
        name=job.adapter_name,
        path=str(result.adapter_dir),
        examples=result.examples,
        steps=result.steps,
        loss_first=result.loss_first,
        loss_last=result.loss_last,
        train_s=result.train_s,
        skipped=result.skipped,
        installed=installed,
    )


def _dump(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    return json.loads(value.model_dump_json()) if hasattr(value, "model_dump_json") else None
