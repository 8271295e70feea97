"""Entries made by scripted models (a benchmark's ground-truth replay): kept apart, offered to
a model only when asked."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from memory import (
    MemoryStore,
    Provenance,
    Retrieval,
    retrieve_expertise,
    retrieve_guidelines,
)
from memory.embedding import EmbeddingUnavailableError, check_available
from tests.memory.factories import expertise, guideline

SCRIPTED = Provenance(run_id="multi_turn_base_3-t0-abc123", model="oracle", source="scripted")


def fill(store: MemoryStore) -> None:
    store.add_guideline(guideline("Book a flight to Paris and tweet the booking id"))
    replay = guideline("Book a flight to Rome then tweet it", "<app:travel>")
    store.add_guideline(replay.model_copy(update={"provenance": SCRIPTED}))
    store.add_expertise(expertise("post the booking id"))
    store.add_expertise(expertise("post the flight id").model_copy(update={"provenance": SCRIPTED}))


def test_searches_leave_scripted_entries_out_only_when_told(store: MemoryStore) -> None:
    fill(store)
    every = store.search_guidelines("book a flight and tweet", 5)
    assert {e.provenance.source for e, _ in every} == {"run", "scripted"}
    kept = store.search_guidelines("book a flight and tweet", 5, include_scripted=False)
    assert [e.instruction for e, _ in kept] == ["Book a flight to Paris and tweet the booking id"]
    tips = store.search_expertise("post the id", "<app:twitter>", 5, include_scripted=False)
    assert [e.subtask for e, _ in tips] == ["post the booking id"]
    assert len(store.search_expertise("post the id", "<app:twitter>", 5)) == 2


def test_retrieval_for_prompts_offers_scripted_entries_only_when_asked(store: MemoryStore) -> None:
    fill(store)
    found = retrieve_guidelines(store, "book a flight to Rome then tweet it", 5)
    assert all(e.provenance.source != "scripted" for e in found.entries) and found.entries
    asked = retrieve_guidelines(store, "book a flight to Rome", 5, include_scripted=True)
    assert "scripted" in {e.provenance.source for e in asked.entries}
    staff = retrieve_expertise(store, "post the flight id", "<app:twitter>", 5)
    assert [e.subtask for e in staff.entries] == ["post the booking id"]
    staff = retrieve_expertise(store, "post the flight id", "<app:twitter>", include_scripted=True)
    assert staff.entries[0].subtask == "post the flight id"


def test_scripted_and_model_entries_never_merge(store: MemoryStore) -> None:
    own = store.add_guideline(guideline("Send Bob the notes"))
    replay = guideline("Send Bob the notes").model_copy(update={"provenance": SCRIPTED})
    taught = store.add_guideline(replay)
    assert taught != own  # the replay's graph does not hide under the model's provenance
    assert store.add_guideline(replay) == taught  # a replay still merges with a replay
    entries = {e.id: e for e in store.list("guideline")}
    assert entries[own].successes == 1 and entries[taught].successes == 2
    assert entries[own].provenance.source == "run"


def test_entries_written_before_the_source_existed_are_offered(db_file: Path) -> None:
    with MemoryStore(db_file) as store:
        entry_id = store.add_guideline(guideline("Book a flight to Paris"))
    with sqlite3.connect(db_file) as conn:  # provenance of an older file: no source key
        conn.execute("UPDATE guidelines SET provenance = ?", [json.dumps({"run_id": "old"})])
    with MemoryStore(db_file) as store:
        found = retrieve_guidelines(store, "book a flight", 3)
        assert found.ids == [entry_id] and found.entries[0].provenance.source == "run"


@pytest.mark.parametrize("retrieval", ["embedding", "hybrid"])
def test_vector_searches_filter_too(db_file: Path, retrieval: Retrieval) -> None:
    try:
        check_available()
    except EmbeddingUnavailableError as exc:  # pragma: no cover - scripts/setup.sh installs them
        pytest.skip(str(exc))
    with MemoryStore(db_file, retrieval=retrieval) as store:
        fill(store)
        hits = store.search_guidelines("purchase plane tickets", 5, include_scripted=False)
        assert hits and all(e.provenance.source != "scripted" for e, _ in hits)
        assert len(store.search_guidelines("purchase plane tickets", 5)) == 2
