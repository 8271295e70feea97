"""LoRA adapters: one per task token (and one for the steward's role), trained from verified
experience and served side by side by the embedded vLLM.

An adapter is a folder: peft's files (``adapter_config.json``, ``adapter_model.safetensors``)
and Steward's manifest ``steward_adapter.json`` (:class:`AdapterManifest`), which the trainer
writes as plain JSON (it runs in the training environment and imports nothing of ours).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MANIFEST = "steward_adapter.json"
"""The manifest's file name inside an adapter folder."""

FORMAT: Literal["steward-adapter"] = "steward-adapter"
VERSION = 1


class AdapterManifest(BaseModel):
    """What an adapter is for and how it was made."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["steward-adapter"] = FORMAT
    version: int = VERSION
    name: str
    """The served name (``--lora-modules NAME=PATH``), e.g. ``messaging-expert``."""
    task_token: str
    """The role it plays: a task token such as ``<app:messaging>``, ``steward``, or ``single``
    (the single-agent baseline)."""
    base_model: str
    """The served name of the base model it was trained on (``smollm2-135m-instruct``)."""
    base_model_sha256: str = ""
    """A digest of the base model's ``config.json``: an adapter trained on other weights is
    refused, whatever the name says."""
    prompt_style: Literal["full", "compact"] = "compact"
    """The prompts it was trained on, and so the prompts it must be sent."""
    examples: int = 0
    steps: int = 0
    epochs: float = 0.0
    loss_first: float | None = None
    loss_last: float | None = None
    rank: int = 16
    trained_at: float = 0.0
    train_s: float = 0.0
    sources: list[str] = Field(default_factory=list)
    """Where its examples came from, e.g. ``teacher:bfcl:multi_turn_base:even``, ``runs``."""


def adapter_name(task_token: str) -> str:
    """The served name of a role's adapter: ``<app:messaging>`` -> ``messaging-expert``."""
    bare = task_token.strip("<>").split(":", 1)[-1]
    return f"{bare}-expert"
