"""Running a training job: write the job into its output folder, spawn the trainer with the
training environment's Python, follow its progress file, return its result.

A killed or interrupted run leaves its last checkpoint in the folder; running the same job again
resumes from it, and running it once finished returns the result without training. A folder
holding a checkpoint or an adapter made with other settings is refused unless the caller asks to
start over (``restart=True``), which removes the training's files (and only those).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from core.errors import UserError
from local import trainer
from local.settings import Progress, no_progress
from local.trainenv import TrainEnv, ensure_train_env
from local.trainjob import TrainJob, TrainJobError, TrainProgress, TrainResult, parse_progress

logger = logging.getLogger("steward.local")

TRAINER_SCRIPT = Path(trainer.__file__)
LOG_FILE = "train.log"
"""The trainer's stdout and stderr, appended run after run."""
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "README.md")
"""What peft's ``save_pretrained`` writes."""
STOP_GRACE_S = 120.0
"""How long a stopped trainer may take to finish its step and write its checkpoint."""


class TrainError(UserError):
    """The trainer failed or was stopped; the message carries its log's tail and the log file."""


class TrainSettingsError(UserError):
    """The output folder holds a checkpoint or adapter made with other settings."""


class TrainBusyError(UserError):
    """Another trainer is running on the same output folder."""


def no_train_progress(line: TrainProgress) -> None:
    """A progress callback that drops every line."""


def held_key(output_dir: Path) -> str | None:
    """The settings key of the training the folder holds (its result, else its latest
    checkpoint); ``"unknown"`` for adapter files without either; None for nothing to resume."""
    for source in (output_dir / trainer.RESULT_FILE, trainer.latest_checkpoint(output_dir)):
        if source is None or not source.exists():
            continue
        path = source / trainer.STATE_FILE if source.is_dir() else source
        try:
            key = json.loads(path.read_text(encoding="utf-8")).get("settings_key")
        except (OSError, ValueError, AttributeError):
            return "unknown"
        return key if isinstance(key, str) else "unknown"
    return "unknown" if (output_dir / "adapter_model.safetensors").exists() else None


def clear_training(output_dir: Path) -> None:
    """Remove a training's files from ``output_dir`` (checkpoints, progress, result, adapter,
    manifest); anything else in the folder stays."""
    for folder in output_dir.glob(f"{trainer.CHECKPOINT_PREFIX}*"):
        shutil.rmtree(folder)
    names = (trainer.PROGRESS_FILE, trainer.RESULT_FILE, trainer.MANIFEST_FILE, *ADAPTER_FILES)
    for name in names:
        (output_dir / name).unlink(missing_ok=True)


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "TQDM_DISABLE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _log_tail(log: Path, offset: int, lines: int = 20) -> str:
    try:
        with log.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ask the trainer to stop after its step (it writes a checkpoint), then insist."""
    for sig, wait in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, 10.0)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


def _follow(
    proc: subprocess.Popen[bytes],
    progress_file: Path,
    callback: Callable[[TrainProgress], None],
    poll_s: float,
) -> int:
    """Pass each progress line to ``callback`` until the trainer exits; return its exit code."""
    offset, rest = 0, ""
    while True:
        code = proc.poll()
        try:
            with progress_file.open("r", encoding="utf-8") as handle:
                handle.seek(offset)
                chunk = handle.read()
                offset = handle.tell()
        except FileNotFoundError:
            chunk = ""
        lines, rest = parse_progress(rest + chunk)
        for line in lines:
            callback(line)
        if code is not None:
            return code
        time.sleep(poll_s)


def run_job(
    job: TrainJob,
    *,
    progress: Callable[[TrainProgress], None] = no_train_progress,
    restart: bool = False,
    env: TrainEnv | None = None,
    env_progress: Progress = no_progress,
    poll_s: float = 0.2,
) -> TrainResult:
    """Train ``job`` to the end and return its result; resume its folder's checkpoint if any.

    ``progress`` receives every progress line (step, total, loss, ETA) as the trainer writes
    it; ``env`` defaults to :func:`ensure_train_env` (which reports on ``env_progress``);
    ``restart`` starts over in a folder that holds another (or the same) training.
    Raises :class:`TrainSettingsError` for a folder trained with other settings,
    :class:`TrainBusyError`, :class:`TrainJobError` (bad input, no usable example) and
    :class:`TrainError` (the trainer failed or was stopped). On ``KeyboardInterrupt`` (or any
    error raised by ``progress``) the trainer is stopped with a checkpoint and the error goes on.
    """
    key = job.settings_key()
    out = job.output_dir
    held = held_key(out) if out.exists() else None
    if restart:
        if out.exists():
            clear_training(out)
    elif held is not None and held != key:
        raise TrainSettingsError(
            f"{out} holds a training with other settings (key {held}, this job's is {key}); "
            "choose another output folder, or start over (restart)"
        )
    elif held == key and (out / trainer.RESULT_FILE).exists():
        return _read_result(out)
    env = env or ensure_train_env(progress=env_progress)
    out.mkdir(parents=True, exist_ok=True)
    job_file = out / trainer.JOB_FILE
    trainer.write_json(job_file, job.model_dump(mode="json"))
    progress_file = out / trainer.PROGRESS_FILE
    progress_file.unlink(missing_ok=True)
    log = out / LOG_FILE
    log_start = log.stat().st_size if log.exists() else 0
    cmd = [str(env.python), "-P", str(TRAINER_SCRIPT), str(job_file)]
    logger.debug("spawning the trainer: %s", cmd)
    with log.open("ab") as log_handle:
        proc = subprocess.Popen(
            cmd,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=_child_env(),
            cwd=out,
            start_new_session=True,
        )
    try:
        code = _follow(proc, progress_file, progress, poll_s)
    except BaseException:
        _stop(proc)
        raise
    if code == 0:
        return _read_result(out)
    tail = _log_tail(log, log_start)
    if code == trainer.EXIT_BUSY:
        raise TrainBusyError(f"another trainer is running on {out}; wait for it or stop it")
    if code == trainer.EXIT_SETTINGS:
        raise TrainSettingsError(f"{out} holds a checkpoint made with other settings:\n{tail}")
    if code == trainer.EXIT_BAD_INPUT:
        raise TrainJobError(f"the trainer refused its input:\n{tail}")
    what = "was stopped" if code == trainer.EXIT_INTERRUPTED else f"failed (exit code {code})"
    raise TrainError(
        f"the trainer {what}; run the same job again to resume from its last checkpoint. "
        f"Log {log}:\n{tail}"
    )


def _read_result(out: Path) -> TrainResult:
    path = out / trainer.RESULT_FILE
    try:
        return TrainResult.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        raise TrainError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
