"""Embedding and hybrid retrieval in the store: ranking, filters, vector lifecycle, options."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from cli.main import cli
from memory import MemoryStore, MemoryStoreError, Retrieval
from memory.embedding import EmbeddingUnavailableError, Encoder, check_available, default_encoder
from memory.migrations import MIGRATIONS
from tests.memory.factories import expertise, guideline

try:
    check_available()
except EmbeddingUnavailableError as exc:  # pragma: no cover - scripts/setup.sh installs them
    pytest.skip(f"{exc}", allow_module_level=True)

import numpy as np
import numpy.typing as npt

from memory.embedding import index

TRIP = [
    "Purchase plane tickets to Rome for next Friday",
    "Send Bob the meeting notes",
    "Post a photo of the cat on social media",
    "Transfer money from checking to savings",
]


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    return default_encoder()


@pytest.fixture
def open_store(db_file: Path, encoder: Encoder) -> Iterator[Any]:
    opened: list[MemoryStore] = []

    def open_(retrieval: Retrieval = "embedding", **kwargs: Any) -> MemoryStore:
        store = MemoryStore(db_file, retrieval=retrieval, **kwargs)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


def vectors(store: MemoryStore) -> dict[str, int]:
    return dict(store.stats()["vectors"])


def texts(hits: Sequence[tuple[Any, float]]) -> list[str]:
    return [getattr(e, "instruction", None) or e.subtask for e, _ in hits]


def test_paraphrase_found_by_embedding_not_by_fts(open_store: Any) -> None:
    store = open_store("embedding")
    for text in TRIP:
        store.add_guideline(guideline(text))
    fts = open_store("fts")
    # The only shared word is "a" (in the cat photo): full text misses the tickets.
    assert texts(fts.search_guidelines("book a flight", 3)) == [TRIP[2]]
    hits = store.search_guidelines("book a flight", 3)
    assert texts(hits)[0] == TRIP[0]
    assert 0.4 < hits[0][1] <= 1.0
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert all(s >= index.MIN_SIMILARITY for _, s in hits)
    assert store.search_guidelines("   ", 3) == []
    assert store.search_guidelines("book a flight", 0) == []


def test_expertise_and_guideline_filters_apply(open_store: Any) -> None:
    store = open_store("embedding")
    store.add_expertise(expertise("Post a tweet saying hello", token="<app:twitter>"))
    store.add_expertise(expertise("Send a direct message saying hello", token="<app:message>"))
    store.add_guideline(guideline("Purchase plane tickets to Rome", "<app:travel>"))
    store.add_guideline(guideline("Buy a train ticket to Rome", "<app:travel>", "<app:rail>"))
    hits = store.search_expertise("publish a short post", "<app:message>", 5)
    assert texts(hits) == ["Send a direct message saying hello"]
    assert texts(store.search_expertise("publish a short post", None, 1)) == [
        "Post a tweet saying hello"
    ]
    only_travel = store.search_guidelines("book a trip to Rome", 5, task_tokens=["<app:travel>"])
    assert texts(only_travel) == ["Purchase plane tickets to Rome"]
    assert len(store.search_guidelines("book a trip to Rome", 5)) == 2


def test_hybrid_fuses_the_two_rankings(open_store: Any) -> None:
    store = open_store("hybrid")
    for text in [*TRIP, "Book a table for dinner", "Reserve seats on a flight to Rome"]:
        store.add_guideline(guideline(text))
    query = "book a flight to Rome"
    lexical = [e.id for e, _ in open_store("fts").search_guidelines(query, 20)]
    semantic = [e.id for e, _ in open_store("embedding").search_guidelines(query, 20)]
    hits = store.search_guidelines(query, 4)
    expected = index.fuse([semantic, lexical])[:4]
    assert [(e.id, s) for e, s in hits] == [(i, pytest.approx(s)) for i, s in expected]
    # BM25 puts "Reserve seats" first (3 shared words) and the tickets third; similarity puts
    # the tickets first and "Reserve seats" second: fused, "Reserve seats" then the tickets.
    assert texts(hits) == [
        "Reserve seats on a flight to Rome",
        TRIP[0],
        "Book a table for dinner",
        TRIP[3],
    ]
    assert (lexical[0], semantic[0]) == (hits[0][0].id, hits[1][0].id)
    assert hits[0][1] == pytest.approx(1 / (index.RRF_K + 1) + 1 / (index.RRF_K + 2))


def test_fuse() -> None:
    fused = index.fuse([[1, 2, 3], [3, 1]], k=1)
    assert [i for i, _ in fused] == [1, 3, 2]
    assert dict(fused) == pytest.approx({1: 1 / 2 + 1 / 3, 3: 1 / 4 + 1 / 2, 2: 1 / 3})
    tied = index.fuse([[5, 6], [6, 5]])
    assert [i for i, _ in tied] == [5, 6]  # a tie keeps the first ranking's order
    assert tied[0][1] == pytest.approx(tied[1][1]) == pytest.approx(1 / 61 + 1 / 62)


def vector_ids(db_file: Path, kind: str) -> list[int]:
    with sqlite3.connect(db_file) as conn:
        rows = conn.execute(
            "SELECT entry_id FROM embeddings WHERE kind = ? ORDER BY entry_id", [kind]
        ).fetchall()
    return [int(r[0]) for r in rows]


def test_vectors_follow_their_entries(db_file: Path, open_store: Any) -> None:
    store = open_store("embedding", max_guidelines=3)
    ids = [store.add_guideline(guideline(text)) for text in TRIP[:3]]
    tweet = store.add_expertise(expertise("Post a tweet saying hello"))
    assert vector_ids(db_file, "guideline") == ids
    assert vector_ids(db_file, "expertise") == [tweet]
    assert store.add_guideline(guideline(TRIP[0])) == ids[0]  # merged: still one vector
    assert vector_ids(db_file, "guideline") == ids
    fourth = store.add_guideline(guideline(TRIP[3]))  # over the cap: ids[1] is evicted
    assert store.get("guideline", ids[1]) is None
    assert vector_ids(db_file, "guideline") == [ids[0], ids[2], fourth]
    assert store.delete("guideline", ids[2])
    assert vector_ids(db_file, "guideline") == [ids[0], fourth]
    assert store.prune(keep=1, kind="guideline") == {"guideline": 1}  # keeps the 2 successes
    assert vector_ids(db_file, "guideline") == [ids[0]]
    assert store.clear("expertise") == {"expertise": 1}
    assert vectors(store) == {"guideline": 1, "expertise": 0}
    store.clear()
    assert vectors(store) == {"guideline": 0, "expertise": 0}
    # A reused row id gets its own text's vector, not a leftover.
    assert store.add_expertise(expertise("Send Bob the meeting notes")) == tweet
    assert texts(store.search_expertise("email the notes to Bob", "<app:twitter>", 1)) == [
        "Send Bob the meeting notes"
    ]


def test_a_changed_text_drops_its_vector(db_file: Path, open_store: Any) -> None:
    store = open_store("embedding")
    entry_id = store.add_guideline(guideline("Purchase plane tickets to Rome"))
    assert vectors(store)["guideline"] == 1
    with sqlite3.connect(db_file) as conn:
        conn.execute(
            "UPDATE guidelines SET instruction = 'Send Bob the notes' WHERE id = ?", [entry_id]
        )
        conn.execute("UPDATE guidelines SET uses = 5 WHERE id = ?", [entry_id])
    assert vectors(store)["guideline"] == 0
    assert texts(store.search_guidelines("email Bob the notes", 1)) == ["Send Bob the notes"]
    assert vectors(store)["guideline"] == 1


def test_entries_written_without_embeddings_are_embedded_at_search(open_store: Any) -> None:
    fts = open_store("fts")
    for text in TRIP:
        fts.add_guideline(guideline(text))
    fts.add_expertise(expertise("Post a tweet saying hello", token="<app:twitter>"))
    fts.add_expertise(expertise("Send a direct message", token="<app:message>"))
    fts.import_(
        {
            "format": "steward-memory",
            "version": 1,
            "guidelines": [guideline("Order a pizza").model_dump()],
        }
    )
    assert vectors(fts) == {"guideline": 0, "expertise": 0}
    store = open_store("embedding")
    store.add_guideline(guideline(TRIP[1]))  # merged into an entry that had no vector
    assert vectors(store) == {"guideline": 1, "expertise": 0}
    assert texts(store.search_guidelines("book a flight", 1)) == [TRIP[0]]
    assert vectors(store) == {"guideline": 5, "expertise": 0}
    store.search_expertise("publish a post", "<app:twitter>", 1)  # only that token's entries
    assert vectors(store) == {"guideline": 5, "expertise": 1}


def test_vector_of_an_entry_deleted_while_encoding_is_not_stored(
    open_store: Any, encoder: Encoder
) -> None:
    fts = open_store("fts")
    gone = fts.add_guideline(guideline("Send Bob the meeting notes"))
    kept = fts.add_guideline(guideline("Purchase plane tickets to Rome"))

    class Deleting:
        name = encoder.name

        def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
            fts.delete("guideline", gone)  # another writer, between read and write
            return encoder.encode(texts)

    store = open_store("embedding", encoder=Deleting())
    hits = store.search_guidelines("book a flight to Rome", 5)
    assert [e.id for e, _ in hits] == [kept]
    assert vectors(store) == {"guideline": 1, "expertise": 0}


def test_upgrade_from_schema_1_keeps_entries_and_embeds_them(
    db_file: Path, open_store: Any
) -> None:
    db = Database(db_file)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    db.execute("CREATE TABLE _meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    MIGRATIONS[0][1](db)
    db.execute("INSERT INTO _migrations VALUES ('0001_initial', '2025-01-01')")
    db.execute("INSERT INTO _meta VALUES ('schema_version', '1')")
    db.conn.commit()
    from memory import writes

    writes.add(db, guideline("Purchase plane tickets to Rome"))
    db.conn.commit()
    db.close()
    store = open_store("embedding")
    assert texts(store.search_guidelines("book a flight", 1)) == ["Purchase plane tickets to Rome"]
    with sqlite3.connect(db_file) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]
        version = conn.execute("SELECT value FROM _meta WHERE key = 'schema_version'").fetchone()
    assert names == ["0001_initial", "0002_embeddings"]
    assert version == ("2",)


def test_retrieval_from_the_environment(db_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_MEMORY_RETRIEVAL", "hybrid")
    with MemoryStore(db_file) as store:
        assert store.retrieval == "hybrid"
        assert "hybrid" in repr(store)
    with MemoryStore(db_file, retrieval="fts") as store:
        assert store.retrieval == "fts"
    monkeypatch.setenv("STEWARD_MEMORY_RETRIEVAL", "vectors")
    with pytest.raises(MemoryStoreError, match=r"STEWARD_MEMORY_RETRIEVAL.*fts, embedding, hybrid"):
        MemoryStore(db_file)
    monkeypatch.delenv("STEWARD_MEMORY_RETRIEVAL")
    with MemoryStore(db_file) as store:
        assert store.retrieval == "fts"


def test_cli_search_retrieval(db_file: Path, encoder: Encoder) -> None:
    with MemoryStore(db_file) as store:
        for text in TRIP:
            store.add_guideline(guideline(text))

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, ["memory", "--db", str(db_file), *args])

    result = run(
        "search", "book a flight", "--kind", "guideline", "--retrieval", "embedding", "--json"
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found[0]["instruction"] == TRIP[0]
    assert 0 < found[0]["score"] <= 1
    result = run("search", "book a flight", "-k", "1", "--retrieval", "hybrid")
    assert result.exit_code == 0, result.output
    assert "Purchase plane tickets" in result.output
    assert run("search", "x", "--retrieval", "vectors").exit_code == 2
    stats = run("stats")
    assert "guidelines: 4 entries, 4 successes, 0 uses, 4 embedded" in stats.output


def test_threads_searching_at_once_backfill_once(open_store: Any, encoder: Encoder) -> None:
    fts = open_store("fts")
    for text in TRIP:
        fts.add_guideline(guideline(text))
    batches: list[int] = []

    class Counting:
        name = encoder.name

        def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
            batches.append(len(texts))
            return encoder.encode(texts)

    store = open_store("embedding", encoder=Counting())
    found: list[list[str]] = []
    threads = [
        threading.Thread(
            target=lambda: found.append(texts(store.search_guidelines("book a flight", 1)))
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert found == [[TRIP[0]]] * 4
    assert sorted(batches) == [1, 1, 1, 1, len(TRIP)]  # four queries, one backfill


def test_embed_computes_missing_vectors_ahead_of_search(db_file: Path, encoder: Encoder) -> None:
    with MemoryStore(db_file) as store:
        for text in TRIP:
            store.add_guideline(guideline(text))
        store.add_expertise(expertise("Post a tweet saying hello", token="<app:twitter>"))

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, ["memory", "--db", str(db_file), "embed", *args])

    first = run()
    assert first.exit_code == 0, first.output
    assert "Embedded 4 guideline(s) and 1 expertise entry" in first.stdout
    assert "guideline: 4/4 embedded" in first.stderr
    with MemoryStore(db_file) as store:
        assert vectors(store) == {"guideline": 4, "expertise": 1}
    again = run("--json")
    assert json.loads(again.stdout)["embedded"] == {"guideline": 0, "expertise": 0}
