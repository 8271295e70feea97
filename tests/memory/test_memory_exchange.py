from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from memory import MemoryImportError, MemoryStore, writes
from tests.memory.factories import expertise, guideline


def _fill(store: MemoryStore) -> None:
    store.add_guideline(guideline("Book a flight to Paris", "<app:travel>", text="why"))
    store.add_guideline(guideline("Send hello to Alice", "<app:message>"))
    store.add_guideline(guideline("Send hello to Alice", "<app:message>"))
    store.add_expertise(expertise("Post a tweet", tips=["short", "log in"]))
    store.mark_used("expertise", [1])


def _content(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for key in ("guidelines", "expertise"):
        for entry in doc[key]:
            entry.pop("id")
    return doc


def test_export_document_shape(store: MemoryStore) -> None:
    _fill(store)
    doc = store.export()
    assert doc["format"] == "steward-memory"
    assert doc["version"] == 1
    assert [g["instruction"] for g in doc["guidelines"]] == [
        "Book a flight to Paris",
        "Send hello to Alice",
    ]
    assert doc["expertise"][0]["uses"] == 1
    json.dumps(doc)  # JSON-ready


def test_round_trip_and_reimport_changes_nothing(store: MemoryStore) -> None:
    _fill(store)
    doc = store.export()
    with MemoryStore(":memory:") as other:
        counts = other.import_(json.loads(json.dumps(doc)))
        assert counts == {
            "guidelines": {"added": 2, "merged": 0, "evicted": 0},
            "expertise": {"added": 1, "merged": 0, "evicted": 0},
        }
        assert _content(other.export()) == _content(doc)
        again = other.import_(doc)
        assert again["guidelines"]["merged"] == 2
        assert again["expertise"]["merged"] == 1
        assert _content(other.export()) == _content(doc)


def test_import_merges_with_larger_counts(store: MemoryStore) -> None:
    _fill(store)
    doc = store.export()
    doc["guidelines"][1]["successes"] = 9
    store.import_(doc)
    assert [e.successes for e in store.list("guideline")] == [9, 1]


def test_import_without_provenance_is_marked_import(store: MemoryStore) -> None:
    doc = {
        "format": "steward-memory",
        "version": 1,
        "expertise": [{"task_token": "<app:x>", "subtask": "do the thing"}],
    }
    store.import_(doc)
    [entry] = store.list()
    assert entry.provenance.source == "import"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format="other"), "not a Steward memory document"),
        (lambda d: d.update(version=2), "newer than this Steward reads"),
        (lambda d: d["guidelines"].append({"instruction": ""}), r"guidelines\.3\.instruction"),
        (lambda d: d["expertise"][0].update(bogus=1), r"expertise\.0\.bogus"),
        (lambda d: d["expertise"].append("nope"), "expertise.1"),
        (lambda d: d.update(guidelines="nope"), "guidelines"),
    ],
)
def test_bad_import_changes_nothing(store: MemoryStore, mutate: Any, message: str) -> None:
    _fill(store)
    before = store.export()
    doc = copy.deepcopy(before)
    doc["guidelines"].insert(0, guideline("A brand new entry").model_dump(mode="json"))
    mutate(doc)
    with pytest.raises(MemoryImportError, match=message) as info:
        store.import_(doc)
    assert "\n" not in str(info.value)
    assert store.export() == before


def test_import_of_non_object(store: MemoryStore) -> None:
    with pytest.raises(MemoryImportError, match="expected a JSON object"):
        store.import_([])  # type: ignore[arg-type]


def test_import_respects_caps() -> None:
    with MemoryStore(":memory:") as source:
        for word in ("alpha", "bravo", "charlie"):
            source.add_guideline(guideline(f"{word} task"))
        doc = source.export()
    with MemoryStore(":memory:", max_guidelines=2) as small:
        counts = small.import_(doc)
        assert counts["guidelines"] == {"added": 3, "merged": 0, "evicted": 1}
        assert len(small.list()) == 2


def test_failure_while_writing_rolls_back(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(store)
    before = store.export()
    doc = copy.deepcopy(before)
    doc["guidelines"] = [guideline(f"{w} new task").model_dump(mode="json") for w in "abc"]
    real_add = writes.add
    calls = []

    def failing_add(*args: Any, **kwargs: Any) -> tuple[int, bool]:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return real_add(*args, **kwargs)

    monkeypatch.setattr(writes, "add", failing_add)
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.import_(doc)
    assert store.export() == before
