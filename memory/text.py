"""Text helpers: normalisation, near-duplicate similarity, safe FTS5 queries."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)

MAX_QUERY_TERMS = 64
"""Longer queries keep their first terms only (an FTS query of hundreds of ORs is slow)."""

NEAR_DUPLICATE = 0.8
"""Token Jaccard similarity at or above which two instructions are the same memory."""


def words(text: str) -> list[str]:
    """The lower-cased word tokens of ``text``, in order."""
    return [w.lower() for w in _WORD.findall(text)]


def normalise(text: str) -> str:
    """Lower-cased words joined by single spaces: punctuation, case and spacing do not count."""
    return " ".join(words(text))


def jaccard(a: str, b: str) -> float:
    """Jaccard similarity of the word sets of ``a`` and ``b`` (1.0 for two empty texts)."""
    return jaccard_sets(set(words(a)), set(words(b)))


def jaccard_sets(sa: set[str], sb: set[str]) -> float:
    """Jaccard similarity of two word sets (1.0 for two empty sets)."""
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def coverage(query: str, text: str) -> float:
    """The share of ``query``'s distinct words that occur in ``text`` (0.0 to 1.0)."""
    wanted = set(words(query))
    if not wanted:
        return 0.0
    return len(wanted & set(words(text))) / len(wanted)


def near_duplicate(a: str, b: str, threshold: float = NEAR_DUPLICATE) -> bool:
    """Same normalised text, or word Jaccard similarity >= ``threshold``."""
    return normalise(a) == normalise(b) or jaccard(a, b) >= threshold


def fts_query(query: str) -> str | None:
    """An FTS5 MATCH expression for free text: each word quoted, the words OR-ed.

    Quoting strips every FTS operator (``AND``, ``NEAR``, ``*``, ``"``, ``:``, ``^``, ...), so
    any user text is safe; OR lets an entry that shares only some words match. ``None`` when
    the text has no words.
    """
    terms: list[str] = []
    for word in words(query):
        if word not in terms:
            terms.append(word)
        if len(terms) == MAX_QUERY_TERMS:
            break
    if not terms:
        return None
    return " OR ".join(f'"{t}"' for t in terms)
