from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from memory import ExpertiseEntry, GuidelineEntry, MemoryStore
from tests.memory.factories import expertise, graph, guideline


def _count(store: MemoryStore, kind: str) -> int:
    return int(store.stats()["guidelines" if kind == "guideline" else "expertise"]["count"])


def test_add_and_get_round_trip(store: MemoryStore) -> None:
    entry = guideline("Book a flight to Paris", "<app:travel>", "<app:twitter>", text="why")
    gid = store.add_guideline(entry)
    got = store.get("guideline", gid)
    assert isinstance(got, GuidelineEntry)
    assert got.id == gid
    assert got.model_dump(exclude={"id", "updated_at"}) == entry.model_dump(
        exclude={"id", "updated_at"}
    )
    assert store.get("guideline", gid + 100) is None


@pytest.mark.parametrize(
    "again",
    [
        "Book a flight to Paris, then tweet the booking id",  # identical
        "book a FLIGHT to paris then tweet the booking id!!",  # same normalised text
        "Book a flight to Paris then tweet the booking id now",  # Jaccard 9/10
    ],
)
def test_near_duplicate_guidelines_merge(store: MemoryStore, again: str) -> None:
    first = guideline("Book a flight to Paris, then tweet the booking id", text="old")
    gid = store.add_guideline(first)
    store.mark_used("guideline", [gid])
    new_graph = graph(("<app:message>", "a better plan"))
    second = guideline(again, text="new").model_copy(update={"graph": new_graph})
    assert store.add_guideline(second) == gid
    assert _count(store, "guideline") == 1
    merged = store.get("guideline", gid)
    assert merged is not None
    assert (merged.successes, merged.uses) == (2, 1)
    assert merged.guideline == "new"
    assert merged.graph == new_graph
    assert merged.instruction == first.instruction
    assert merged.updated_at >= first.updated_at


@pytest.mark.parametrize(
    ("instruction", "tokens"),
    [
        ("Send hello to Bob", ("<app:message>",)),  # Jaccard 3/5: a different task
        ("Send hello to Alice", ("<app:message>", "<app:twitter>")),  # other tokens
    ],
)
def test_different_guidelines_do_not_merge(
    store: MemoryStore, instruction: str, tokens: tuple[str, ...]
) -> None:
    a = store.add_guideline(guideline("Send hello to Alice", "<app:message>"))
    b = store.add_guideline(guideline(instruction, *tokens))
    assert a != b
    assert _count(store, "guideline") == 2


def test_expertise_merge_unions_tips_keeps_newest_actions(store: MemoryStore) -> None:
    first = expertise("Post a tweet with the id", tips=["log in first", "keep it short"])
    eid = store.add_expertise(first)
    second = expertise(
        "post a tweet with the ID", tips=["Keep it short.", "mention the id"], tool="post_v2"
    )
    assert store.add_expertise(second) == eid
    assert store.add_expertise(expertise("Post a tweet with the id", token="<app:x>")) != eid
    merged = store.get("expertise", eid)
    assert isinstance(merged, ExpertiseEntry)
    assert merged.successes == 2
    assert merged.tips == ["Keep it short.", "mention the id", "log in first"]
    assert [a.tool for a in merged.actions] == ["post_v2"]


def test_repeated_writes_do_not_pile_up(store: MemoryStore) -> None:
    for _ in range(20):
        store.add_guideline(guideline("Send hello to Alice"))
        store.add_expertise(expertise("Send a message to Alice", token="<app:message>"))
    stats = store.stats()
    assert stats["guidelines"]["count"] == 1
    assert stats["guidelines"]["successes"] == 20
    assert stats["expertise"]["count"] == 1
    assert stats["expertise"]["successes"] == 20


def test_guideline_cap_evicts_least_useful() -> None:
    with MemoryStore(":memory:", max_guidelines=3) as store:
        strong = store.add_guideline(guideline("alpha task one"))
        store.add_guideline(guideline("alpha task one"))  # successes 2
        oldest_weak = store.add_guideline(guideline("bravo job two"))
        newer_weak = store.add_guideline(guideline("charlie work three"))
        newest = store.add_guideline(guideline("delta chore four"))
        ids = {e.id for e in store.list("guideline")}
        assert ids == {strong, newer_weak, newest}
        assert oldest_weak not in ids


def test_just_written_entry_survives_the_cap() -> None:
    with MemoryStore(":memory:", max_guidelines=1) as store:
        old = store.add_guideline(guideline("alpha task one"))
        store.add_guideline(guideline("alpha task one"))
        new = store.add_guideline(guideline("bravo job two"))
        assert [e.id for e in store.list()] == [new]
        assert old != new


def test_expertise_cap_is_per_token() -> None:
    with MemoryStore(":memory:", max_expertise_per_token=2) as store:
        for word in ("alpha", "bravo", "charlie"):
            store.add_expertise(expertise(f"{word} subtask", token="<app:a>"))
            store.add_expertise(expertise(f"{word} subtask", token="<app:b>"))
        assert store.stats()["expertise"]["by_token"] == {"<app:a>": 2, "<app:b>": 2}
        assert {e.subtask for e in store.list("expertise", task_token="<app:a>")} == {
            "bravo subtask",
            "charlie subtask",
        }


def test_mark_used_list_delete_clear(store: MemoryStore) -> None:
    g = store.add_guideline(guideline("Send hello to Alice", "<app:message>", "<app:twitter>"))
    e1 = store.add_expertise(expertise("post a tweet"))
    e2 = store.add_expertise(expertise("send a message", token="<app:message>"))
    store.mark_used("expertise", [e1, e1, e2])
    store.mark_used("guideline", [])
    assert [e.uses for e in store.list("expertise")] == [1, 1]
    assert [e.id for e in store.list()] == [e2, e1, g]
    assert [e.id for e in store.list(limit=2)] == [e2, e1]
    assert {e.id for e in store.list(task_token="<app:twitter>")} == {g, e1}
    assert store.delete("expertise", e1) is True
    assert store.delete("expertise", e1) is False
    assert store.clear("expertise") == {"expertise": 1}
    assert store.clear() == {"guideline": 1, "expertise": 0}
    assert store.list() == []


def _age(path: Path, table: str, entry_id: int, when: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(f"UPDATE {table} SET updated_at = ? WHERE id = ?", [when, entry_id])
    conn.close()


def test_prune(db_file: Path) -> None:
    with MemoryStore(db_file) as store:
        old_weak = store.add_guideline(guideline("alpha task one"))
        old_strong = store.add_guideline(guideline("bravo job two"))
        store.add_guideline(guideline("bravo job two"))
        new_weak = store.add_guideline(guideline("charlie work three"))
        _age(db_file, "guidelines", old_weak, "2020-01-01T00:00:00.000000+00:00")
        _age(db_file, "guidelines", old_strong, "2020-01-01T00:00:00.000000+00:00")
        with pytest.raises(ValueError, match="prune needs"):
            store.prune()
        deleted = store.prune(min_successes=2, older_than_days=30)
        assert deleted == {"guideline": 1, "expertise": 0}
        assert {e.id for e in store.list()} == {old_strong, new_weak}
        assert store.prune(keep=1, kind="guideline") == {"guideline": 1}
        assert [e.id for e in store.list()] == [old_strong]
        assert store.prune(older_than_days=30) == {"guideline": 1, "expertise": 0}


def test_stats(store: MemoryStore) -> None:
    store.add_guideline(guideline("a b c", "<app:message>", "<app:twitter>"))
    store.add_expertise(expertise("post", token="<app:twitter>"))
    stats = store.stats()
    assert stats["path"] == ":memory:"
    assert stats["guidelines"] == {
        "count": 1,
        "successes": 1,
        "uses": 0,
        "by_token": {"<app:message>": 1, "<app:twitter>": 1},
    }
    assert stats["expertise"]["by_token"] == {"<app:twitter>": 1}


def test_unknown_kind_is_rejected(store: MemoryStore) -> None:
    with pytest.raises(ValueError, match="unknown memory kind"):
        store.list("runs")  # type: ignore[call-overload]
