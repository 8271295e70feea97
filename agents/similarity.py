"""Lexical similarity of an instruction to texts and to apps: simple, explainable, no model.

Texts are reduced to content words (lower case, stop words dropped, ``snake_case`` and
``camelCase`` split, a light suffix strip so ``notes``/``note`` and ``booking``/``book`` meet).
Two texts are as similar as the Jaccard similarity of their content words. An app's score for an
instruction is the sum, over the instruction's distinct words that the app's text (name,
description, tool names and descriptions) contains, of the word's BM25 inverse document
frequency among the apps; a word in the app's own name counts :data:`NAME_WEIGHT` times.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

NAME_WEIGHT = 2.0
"""How much more a word counts when it is in the app's name than in its descriptions."""

_STOP_WORDS = (
    "a about after all also an and any are as at be been before but by can could did do does "
    "for from get give has have he her his i if in into is it its let me my of on or our out "
    "over please she should so some than that the their them then there these they this those "
    "to up us was we were what when which who will with would you your"
)
_STOP = frozenset(_STOP_WORDS.split())
_WORD = re.compile(r"[^\W_]+")


def terms(text: str) -> list[str]:
    """The content words of ``text`` in order: lower case, stop words dropped, stems."""
    return [stem for _, stem in _words(text)]


def _words(text: str) -> list[tuple[str, str]]:
    """(word, stem) for each content word of ``text``, in order."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    return [
        (word, _stem(word))
        for word in _WORD.findall(text.lower())
        if word not in _STOP and (len(word) > 1 or word.isdigit())
    ]


def _stem(word: str) -> str:
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[: -len(suffix)] + keep
            break
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the content words of ``a`` and ``b`` (0.0 when either has none)."""
    sa, sb = set(terms(a)), set(terms(b))
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


def app_name(token: str) -> str:
    """``mail`` for ``<app:mail>``."""
    bare = token.strip().strip("<>")
    return bare.split(":", 1)[1] if ":" in bare else bare


def idf(apps: int, holding: int) -> float:
    """BM25's inverse document frequency of a word that ``holding`` of ``apps`` apps contain."""
    return math.log(1 + (apps - holding + 0.5) / (holding + 0.5))


@dataclass(frozen=True)
class AppScore:
    """How well one app matches an instruction."""

    token: str
    score: float
    matched: tuple[str, ...]
    """The instruction's words the app's text contains, in the instruction's order."""
    first: int
    """Where the first matched word is in the instruction (its length when none is)."""


def score_apps(
    instruction: str,
    agents: Mapping[str, str],
    tools: Mapping[str, Sequence[str]] | None = None,
) -> list[AppScore]:
    """Every app's score for ``instruction``, best first (ties: earlier mention, then token).

    ``agents`` maps token -> description; ``tools`` maps token -> ``name: description`` lines.
    """
    query = _words(instruction)
    names = {tok: set(terms(app_name(tok))) for tok in agents}
    docs = {
        tok: names[tok] | set(terms(desc)) | set(terms(" ".join((tools or {}).get(tok, ()))))
        for tok, desc in agents.items()
    }
    scores = []
    for tok, doc in docs.items():
        score, matched, seen, first = 0.0, [], set(), len(query)
        for position, (word, stem) in enumerate(query):
            if stem in doc and stem not in seen:
                holding = sum(1 for d in docs.values() if stem in d)
                weight = NAME_WEIGHT if stem in names[tok] else 1.0
                score += weight * idf(len(docs), holding)
                seen.add(stem)
                matched.append(word)
                first = min(first, position)
        scores.append(AppScore(tok, score, tuple(matched), first))
    return sorted(scores, key=lambda s: (-s.score, s.first, s.token))


def recruit_apps(scores: Sequence[AppScore], max_nodes: int) -> list[AppScore]:
    """The apps to recruit, in the order the instruction mentions them: the best one, and every
    other that scores at least as much as one instruction word that no other app has (two
    words each shared with one other app do too); at most ``max_nodes``."""
    if not scores:
        return []
    floor = idf(len(scores), 1) - 1e-9
    chosen = [scores[0], *(s for s in scores[1:] if s.score >= floor)][: max(1, max_nodes)]
    return sorted(chosen, key=lambda s: (s.first, -s.score, s.token))
