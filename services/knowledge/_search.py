"""Full-text search: the query syntax, the terms a page is indexed by, BM25 scoring, exact
phrases, snippets, and reciprocal rank fusion with semantic results.

The syntax is BookStack's, as far as the knowledge base has the concepts:
- `word`: the page's title or body holds the word (every word must match);
- `"exact phrase"`: the words in that order, adjacent;
- `[name]`, `[name=value]`: a tag of that name (and value), case-insensitive;
- `{in_name:text}`: the title holds every word of `text`;
- `{updated_by:me}`, `{created_by:me}` (or a user id), `{type:page}`, `{type:runbook}`.

Words are lowercased runs of letters and digits (Unicode); nothing is stemmed, so `deploy`
does not find `deployment` (meaning search does). A page's document carries its distinct
words (`terms`) and those of its title (`titleTerms`); the store narrows the candidates by
ARRAY_CONTAINS on them, and BM25 ranks what it returns (see the service README for the
figures and the trade-off).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from services.kit import FieldViolation, InvalidArgument

MAX_TERMS = 4000
"""Distinct words indexed per page (its first ones); a longer page is still found by those."""
K1 = 1.2
B = 0.75
RRF_K = 60
"""The constant of reciprocal rank fusion (Cormack et al.): score = Σ 1 / (k + rank)."""
SNIPPET_CHARS = 160

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_TOKEN = re.compile(r'"([^"]*)"|\[([^\]]*)\]|\{([^}]*)\}|(\S+)')
_FILTERS = ("in_name", "updated_by", "created_by", "type")
_TYPES = ("page", "runbook")


def words(text: str) -> list[str]:
    """The words of a text, lowercased, in order."""
    return [w.lower() for w in _WORD.findall(text)]


def index_terms(title: str, body: str) -> tuple[list[str], list[str], int]:
    """(distinct words of title and body, distinct words of the title, length in words)."""
    title_words = words(title)
    all_words = title_words + words(body)
    distinct = list(dict.fromkeys(all_words))[:MAX_TERMS]
    return distinct, list(dict.fromkeys(title_words)), len(all_words)


def tag_keys(tags: Iterable[tuple[str, str]]) -> list[str]:
    """The indexed forms of tags: `name` and `name=value`, lowercased."""
    keys: dict[str, None] = {}
    for name, value in tags:
        keys.setdefault(name.strip().lower())
        if value:
            keys.setdefault(f"{name.strip().lower()}={value.strip().lower()}")
    return list(keys)


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A query split into its parts."""

    terms: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    tags: tuple[str, ...] = ()
    in_name: tuple[str, ...] = ()
    updated_by: str = ""
    created_by: str = ""
    kind: str = ""
    text: str = ""
    """The words and phrases as plain text, for the semantic side."""

    @property
    def required(self) -> tuple[str, ...]:
        """Every word a matching page holds: the words and those of the phrases."""
        found = dict.fromkeys(self.terms)
        for phrase in self.phrases:
            found.update(dict.fromkeys(phrase))
        return tuple(found)

    @property
    def ranked(self) -> bool:
        """Whether there is text to rank by (else the filters alone select, newest first)."""
        return bool(self.terms or self.phrases)


def _invalid(description: str) -> InvalidArgument:
    return InvalidArgument(
        f"the query is not valid: {description}",
        reason="QUERY_INVALID",
        violations=[FieldViolation("query", description)],
    )


@dataclass
class _Parts:
    terms: list[str] = field(default_factory=list)
    phrases: list[tuple[str, ...]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    in_name: list[str] = field(default_factory=list)
    filters: dict[str, str] = field(default_factory=dict)
    text: list[str] = field(default_factory=list)


def _filter(parts: _Parts, body: str, me: str) -> None:
    name, colon, value = body.partition(":")
    name, value = name.strip().lower(), value.strip()
    if not colon or name not in _FILTERS or not value:
        raise _invalid(f"{{{body}}} is not a filter; use {', '.join(_FILTERS)} with a value")
    if name == "in_name":
        parts.in_name.extend(words(value))
    elif name == "type":
        if value.lower() not in _TYPES:
            raise _invalid(f"type must be one of {', '.join(_TYPES)}")
        parts.filters["type"] = value.lower()
    else:
        parts.filters[name] = me if value.lower() == "me" else value


def parse_query(query: str, me: str) -> ParsedQuery:
    """The parts of a query; `me` is the caller's user id. INVALID_ARGUMENT (on `query`) for an
    unknown filter. An empty query selects every page (newest first)."""
    parts = _Parts()
    for phrase, tag, filter_body, word in _TOKEN.findall(query):
        if word:
            parts.terms.extend(words(word))
            parts.text.append(word)
        elif filter_body:
            _filter(parts, filter_body, me)
        elif tag:
            name, _, value = tag.partition("=")
            if not name.strip():
                raise _invalid(f"[{tag}] names no tag")
            parts.tags.extend(tag_keys([(name, value)])[-1:])
        elif phrase.strip():
            tokens = tuple(words(phrase))
            if tokens:
                parts.phrases.append(tokens)
                parts.text.append(phrase)
    return ParsedQuery(
        terms=tuple(dict.fromkeys(parts.terms)),
        phrases=tuple(parts.phrases),
        tags=tuple(dict.fromkeys(parts.tags)),
        in_name=tuple(dict.fromkeys(parts.in_name)),
        updated_by=parts.filters.get("updated_by", ""),
        created_by=parts.filters.get("created_by", ""),
        kind=parts.filters.get("type", ""),
        text=" ".join(parts.text),
    )


# --- matching and ranking ---------------------------------------------------------------------


def _word_pattern(words_in_order: Sequence[str]) -> re.Pattern[str]:
    """Those words adjacent in that order, each a whole word (words are runs of letters
    and digits; anything else separates them)."""
    body = r"[\W_]+".join(re.escape(word) for word in words_in_order)
    return re.compile(rf"(?<![^\W_]){body}(?![^\W_])")


def has_phrase(text: str, phrase: Sequence[str]) -> bool:
    """Whether the lowercased `text` holds `phrase` as adjacent words."""
    return _word_pattern(phrase).search(text) is not None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A page the store returned for the query's words and filters."""

    id: str
    text: str
    """Title, body and steps, lowercased."""
    length: int
    """How many words `text` holds."""


def bm25(
    candidates: Sequence[Candidate],
    query: ParsedQuery,
    document_frequency: dict[str, int],
    total_pages: int,
) -> list[tuple[str, float]]:
    """The candidates holding every phrase, scored by BM25 over the query's words, best
    first (ties by id). A word missing from `document_frequency` weighs 1 (its IDF is left
    out: with a single word it is the same for every candidate). The average length is the
    candidates' own: they are the pages that hold every word, the set the score compares."""
    phrases = [_word_pattern(phrase) for phrase in query.phrases]
    matching = [c for c in candidates if all(p.search(c.text) for p in phrases)]
    if not matching:
        return []
    average = sum(c.length for c in matching) / len(matching) or 1.0
    terms = [(term, _word_pattern([term])) for term in query.required]
    scored = []
    for candidate in matching:
        score = 0.0
        for term, pattern in terms:
            frequency = len(pattern.findall(candidate.text))
            df = document_frequency.get(term)
            idf = 1.0 if df is None else math.log(1 + (total_pages - df + 0.5) / (df + 0.5))
            saturation = K1 * (1 - B + B * candidate.length / average)
            score += idf * frequency * (K1 + 1) / (frequency + saturation)
        scored.append((candidate.id, score))
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    return scored


def snippet(text: str, query: ParsedQuery) -> str:
    """About `SNIPPET_CHARS` characters of `text` around the first word of the query found in
    it (case-insensitive), or its start."""
    flat = " ".join(text.split())
    lower = flat.lower()
    position = -1
    for term in query.required:
        match = re.search(rf"(?<![^\W_]){re.escape(term)}(?![^\W_])", lower)
        if match is not None and (position < 0 or match.start() < position):
            position = match.start()
    start = max(0, position - SNIPPET_CHARS // 3) if position > 0 else 0
    piece = flat[start : start + SNIPPET_CHARS]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + SNIPPET_CHARS < len(flat) else ""
    return f"{prefix}{piece}{suffix}"


def fuse(*rankings: Sequence[str]) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of rankings (ids best first): score Σ 1 / (RRF_K + rank), best
    first, ties by id."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, id in enumerate(ranking, start=1):
            scores[id] = scores.get(id, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
