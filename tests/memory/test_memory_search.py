from __future__ import annotations

import pytest

from memory import (
    Action,
    ExpertiseEntry,
    MemoryStore,
    format_expertise,
    format_guidelines,
    retrieve_expertise,
    retrieve_guidelines,
)
from tests.memory.factories import expertise, guideline


@pytest.fixture
def filled(store: MemoryStore) -> MemoryStore:
    store.add_guideline(
        guideline(
            "Book the cheapest flight to Paris and tweet the booking id",
            "<app:travel>",
            "<app:twitter>",
            text="booking first; its id flows to the tweet",
        )
    )
    store.add_guideline(guideline("Send a message to Alice saying hello", "<app:message>"))
    store.add_guideline(guideline("Buy 10 shares of Apple stock", "<app:trading>"))
    store.add_guideline(guideline("Create a ticket about the broken login", "<app:ticket>"))
    store.add_expertise(expertise("Post a tweet with the booking id", tips=["log in first"]))
    store.add_expertise(expertise("Retweet the latest post from Bob"))
    store.add_expertise(expertise("Send a message to Bob", token="<app:message>"))
    return store


def test_relevant_guideline_ranks_first(filled: MemoryStore) -> None:
    hits = filled.search_guidelines("book a flight to Paris then tweet", k=3)
    assert hits[0][0].instruction.startswith("Book the cheapest flight")
    scores = [score for _, score in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)
    hits = filled.search_guidelines("message alice", k=1)
    assert [e.instruction for e, _ in hits] == ["Send a message to Alice saying hello"]


def test_partial_match_and_stemming(filled: MemoryStore) -> None:
    hits = filled.search_guidelines("buying shares tomorrow", k=2)
    assert hits[0][0].instruction == "Buy 10 shares of Apple stock"


def test_guideline_text_is_searched_too(filled: MemoryStore) -> None:
    hits = filled.search_guidelines("flows", k=3)
    assert [e.task_tokens for e, _ in hits] == [["<app:travel>", "<app:twitter>"]]


def test_guidelines_limited_to_available_tokens(filled: MemoryStore) -> None:
    hits = filled.search_guidelines("flight tweet message", k=5, task_tokens={"<app:message>"})
    assert [e.task_tokens for e, _ in hits] == [["<app:message>"]]


def test_expertise_token_filter(filled: MemoryStore) -> None:
    hits = filled.search_expertise("send a message to Bob", "<app:twitter>", k=5)
    assert hits
    assert all(e.task_token == "<app:twitter>" for e, _ in hits)
    hits = filled.search_expertise("tweet booking id", "<app:twitter>", k=1)
    assert hits[0][0].subtask == "Post a tweet with the booking id"
    assert filled.search_expertise("tweet", "<app:unknown>") == []
    assert {e.task_token for e, _ in filled.search_expertise("bob", None, k=5)} == {
        "<app:twitter>",
        "<app:message>",
    }


def test_tips_are_searched(filled: MemoryStore) -> None:
    hits = filled.search_expertise("log in", "<app:twitter>", k=1)
    assert hits[0][0].tips == ["log in first"]


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced quote',
        "flight AND OR NOT NEAR(paris",
        "tweet* ^booking -id +x",
        "subtask:flight {a b} (c) [d]",
        "'; DROP TABLE guidelines; --",
        "NEAR",
        "AND",
        "é ñ 東京 flight",
    ],
)
def test_fts_syntax_in_queries_is_harmless(filled: MemoryStore, query: str) -> None:
    filled.search_guidelines(query)
    filled.search_expertise(query, "<app:twitter>")
    assert len(filled.list()) == 7


@pytest.mark.parametrize("query", ["", "   ", "?!*()\"'", "-- ::"])
def test_queries_without_words_find_nothing(filled: MemoryStore, query: str) -> None:
    assert filled.search_guidelines(query) == []
    assert filled.search_expertise(query, None) == []


def test_no_match_and_k_zero(filled: MemoryStore) -> None:
    assert filled.search_guidelines("zebra") == []
    assert filled.search_guidelines("flight", k=0) == []


def test_retrieve_records_and_marks_used(filled: MemoryStore) -> None:
    found = retrieve_guidelines(filled, "flight to Paris", k=2)
    assert found.kind == "guideline"
    assert found.query == "flight to Paris"
    assert len(found.entries) == len(found.scores) >= 1
    top = filled.get("guideline", found.ids[0])
    assert top is not None and top.uses == 1
    found = retrieve_expertise(filled, "tweet", "<app:twitter>", mark_used=False)
    assert found.task_token == "<app:twitter>"
    assert all(e.uses == 0 for e in filled.list("expertise"))


def test_format_guidelines_shows_graph_template(filled: MemoryStore) -> None:
    entries = [e for e, _ in filled.search_guidelines("flight paris", k=1)]
    text = format_guidelines(entries)
    assert "Book the cheapest flight to Paris" in text
    assert "booking first; its id flows to the tweet" in text
    assert '{"id": "n2", "task_token": "<app:twitter>"' in text
    assert '"needs": ["n1"]' in text
    assert format_guidelines([]) == ""


def test_format_expertise_shows_tips_and_actions() -> None:
    entry = ExpertiseEntry(
        task_token="<app:twitter>",
        subtask="Post the id",
        tips=[f"tip {i}" for i in range(8)],
        actions=[Action(tool="post_tweet", arguments={"content": "x" * 200, "n": 1})],
        successes=3,
    )
    text = format_expertise([entry], max_tips=2)
    assert "Post the id (succeeded 3 times)" in text
    assert "- tip 1" in text and "tip 2" not in text
    assert 'post_tweet({"content": "' + "x" * 77 + '...", "n": 1})' in text
    assert format_expertise([]) == ""
