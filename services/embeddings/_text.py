"""Words of a text for BM25 and highlights: lower-cased Unicode words, stop words left out."""

from __future__ import annotations

import re
from collections.abc import Iterator

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

STOP_WORDS = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
    )
)


def words(text: str) -> list[str]:
    """The text's searchable words, in order (repeats kept: they are term frequencies)."""
    return [w for w in (m.group().lower() for m in _WORD.finditer(text)) if w not in STOP_WORDS]


def spans(text: str, terms: frozenset[str]) -> Iterator[tuple[int, int]]:
    """Character spans of the words of `text` that are among `terms`, adjacent ones merged
    (a phrase of matching words is one highlight)."""
    start = end = -1
    for match in _WORD.finditer(text):
        if match.group().lower() not in terms:
            continue
        gap = text[end : match.start()] if end >= 0 else ""
        if end >= 0 and not gap.strip():
            end = match.end()
            continue
        if end >= 0:
            yield start, end
        start, end = match.start(), match.end()
    if end >= 0:
        yield start, end
