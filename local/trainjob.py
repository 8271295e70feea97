"""The training job: what to train (a versioned description the trainer reads as JSON), and what
it reports back (progress lines, a result).

The trainer (``local/trainer.py``) runs in another environment and imports nothing of ours; it
reads :class:`TrainJob` as plain JSON and writes :class:`TrainProgress` lines and a
:class:`TrainResult` as plain JSON. Both sides compute the same settings key with
:func:`local.trainer.settings_key`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import UserError
from local import trainer

JOB_VERSION = 1
"""The job format's version; the trainer reads this one."""
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class TrainJobError(UserError):
    """A job that cannot run as given: a missing base model or examples file, no usable example,
    or a job file that does not parse."""


class LoraSettings(BaseModel):
    """The LoRA adapter's shape."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(default=16, gt=0)
    """Rank of the low-rank update (about 19.6 MB of adapter at 16 on SmolLM2-135M)."""
    alpha: int = Field(default=32, gt=0)
    """Scaling numerator: the update is multiplied by ``alpha / r``."""
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    """Dropout on the LoRA branch's input while training."""
    target_modules: list[str] = Field(default_factory=lambda: list(ALL_LINEAR))
    """The linear layers that get an adapter: all of them by default (attention and MLP)."""


class TrainJob(BaseModel):
    """One adapter to train: the base model, the examples, where the adapter goes, and how.

    The fields that shape the weights (see :data:`local.trainer.KEY_FIELDS`), with the digests
    of the examples file and of the base model's ``config.json``, make :meth:`settings_key`: an
    output folder holding a checkpoint or an adapter made under another key is refused.
    """

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    """Format version of this description."""
    base_model_dir: Path
    """The base model's folder (``config.json``, safetensors, tokenizer, chat template)."""
    base_model: str = "smollm2-135m-instruct"
    """The base model's served name, written into the manifest."""
    examples_file: Path
    """JSONL: one object per line with ``messages`` (the chat messages exactly as the runtime
    sends them, ``[{"role": ..., "content": ...}, ...]``) and ``answer`` (the text the model
    should have answered)."""
    output_dir: Path
    """The adapter folder; it also holds the job, progress, checkpoints and log while training."""
    adapter_name: str
    """The served name of the adapter (``--lora-modules NAME=PATH``), e.g. ``messaging-expert``."""
    task_token: str
    """The role it is trained for: a task token (``<app:messaging>``), ``steward`` or ``single``."""
    prompt_style: Literal["full", "compact"] = "compact"
    """The prompt style of the examples (the manifest says which prompts to send it)."""
    sources: list[str] = Field(default_factory=list)
    """Where the examples came from, for the manifest (``teacher:bfcl:...``, ``runs``)."""
    lora: LoraSettings = Field(default_factory=LoraSettings)
    """The adapter's shape."""
    learning_rate: float = Field(default=2e-4, gt=0)
    """AdamW's peak learning rate; it decays linearly to 0 over the training."""
    epochs: int = Field(default=1, ge=1)
    """Passes over the examples, each in a new seeded order."""
    max_steps: int | None = Field(default=None, ge=1)
    """Stop after this many optimizer steps, whatever ``epochs`` says."""
    max_examples: int | None = Field(default=None, ge=1)
    """Use only the file's first N examples."""
    max_len: int = Field(default=2048, ge=8)
    """Tokens of prompt + answer + EOS per example. A longer example is skipped (``truncate``
    ``"skip"``: the runtime never sends a cut prompt) or its prompt loses its beginning
    (``"left"``); the answer is never cut. The result counts both."""
    truncate: Literal["skip", "left"] = "skip"
    """What to do with an example longer than ``max_len``."""
    batch_size: int = Field(default=1, ge=1)
    """Examples per optimizer step (right-padded); 1 is as fast per example on a CPU."""
    max_grad_norm: float = Field(default=1.0, gt=0)
    """Gradient clipping."""
    checkpoint_every: int = Field(default=25, ge=0)
    """Save a resumable checkpoint every N steps (0: never; a stop signal still saves one)."""
    progress_every: int = Field(default=1, ge=1)
    """Write a progress line every N steps (and at the first and last)."""
    seed: int = 0
    """Seeds the LoRA initialisation, the example order and dropout."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """``auto``: CUDA when the training environment sees one, else the CPU."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """``auto``: float32 on the CPU (bfloat16 is ~24x slower there), bfloat16 on CUDA."""
    threads: int = Field(default=0, ge=0)
    """torch threads on the CPU; 0 uses every core."""

    def settings_key(self) -> str:
        """The digest a checkpoint or adapter in :attr:`output_dir` must carry to be resumed
        or reused; reads the examples file and the base model's ``config.json``."""
        self.check_inputs()
        return trainer.settings_key(self.model_dump(mode="json"))

    def check_inputs(self) -> None:
        """Raise :class:`TrainJobError` when the base model or the examples file is missing."""
        if not (self.base_model_dir / "config.json").is_file():
            raise TrainJobError(f"no base model at {self.base_model_dir} (config.json missing)")
        if not self.examples_file.is_file():
            raise TrainJobError(f"examples file {self.examples_file} does not exist")

    @classmethod
    def read(cls, path: Path) -> TrainJob:
        """Load a job file, with a one-line error when it does not parse."""
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValidationError) as exc:
            first = str(exc).splitlines()[0]
            raise TrainJobError(f"cannot read the training job {path}: {first}") from None


class TrainProgress(BaseModel):
    """One line of the trainer's progress file."""

    model_config = ConfigDict(extra="ignore")

    step: int
    """Optimizer steps done."""
    total: int
    """Steps of the whole training."""
    loss: float
    """Mean loss (on the answer tokens) of the steps since the previous line."""
    lr: float
    """Learning rate of the last step."""
    elapsed_s: float
    """Training seconds so far, earlier (resumed) runs included."""
    eta_s: float
    """Seconds left at this run's pace."""
    examples_seen: int
    """Examples trained on so far (counting repeats across epochs)."""


class TrainResult(BaseModel):
    """A finished training, as the trainer writes it into ``train_result.json``."""

    model_config = ConfigDict(extra="ignore")

    adapter_dir: Path
    """The adapter folder (peft files + ``steward_adapter.json``)."""
    settings_key: str
    """The job's settings key."""
    examples: int
    """Examples trained on (after skipping)."""
    skipped: int = 0
    """Examples longer than ``max_len`` that were left out."""
    truncated: int = 0
    """Examples whose prompt lost its beginning to fit (``truncate="left"``)."""
    steps: int
    """Optimizer steps."""
    epochs: float
    """Examples seen / examples."""
    loss_first: float | None = None
    """Mean loss of the first few steps (up to 10, a quarter of them at most)."""
    loss_last: float | None = None
    """Mean loss of the last few steps."""
    losses: list[float] = Field(default_factory=list)
    """Every step's loss."""
    train_s: float
    """Seconds of training, resumed runs included (loading the model excluded)."""
    resumed_from_step: int = 0
    """The checkpoint step the last run started from (0: from scratch)."""


def parse_progress(chunk: str) -> tuple[list[TrainProgress], str]:
    """Parse the complete lines of ``chunk`` (text read from the progress file); return them
    and the unfinished last line, to prepend to the next chunk. Lines that are not progress
    (blank, or from another tool) are dropped."""
    *lines, rest = chunk.split("\n")
    found: list[TrainProgress] = []
    for line in lines:
        try:
            found.append(TrainProgress.model_validate(json.loads(line)))
        except (ValueError, ValidationError):
            continue
    return found, rest
