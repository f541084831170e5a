"""Cutting a document into token chunks: sections by Markdown heading, code blocks kept whole,
overlap between the chunks of one section.

A chunk never spans two sections (a heading starts a new one and every chunk of it carries the
heading path), and never cuts inside a fenced code block unless that block alone is longer than
a chunk, when it is cut at line ends. Within a section a chunk ends, by preference, at a block
boundary (a blank line), then at a sentence end, then at any token; the next chunk starts
`overlap` tokens earlier, except that it never starts inside a code block.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Offsets = Sequence[tuple[int, int]]
Tokenize = Callable[[str], Offsets]
"""Character spans of a text's tokens (the model's tokenizer, without special tokens)."""

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SENTENCE_END = re.compile(r"[.!?;:]$")


@dataclass(frozen=True, slots=True)
class ChunkText:
    """One chunk: its text, where it sits in the document, and its size in tokens."""

    index: int
    text: str
    heading_path: tuple[str, ...]
    start: int
    end: int
    tokens: int


@dataclass(frozen=True, slots=True)
class _Section:
    start: int
    end: int
    heading_path: tuple[str, ...]
    code: tuple[tuple[int, int], ...]  # character spans of fenced code blocks
    breaks: frozenset[int]  # character offsets where a block (paragraph) starts


def _sections(content: str, markdown: bool) -> list[_Section]:
    """The document's sections, each with its code blocks and paragraph starts."""
    sections: list[_Section] = []
    path: list[tuple[int, str]] = []  # (level, title)
    start, code, breaks = 0, [], set()  # type: ignore[var-annotated]
    fence: str | None = None
    fence_start = 0
    offset = 0
    blank_before = True
    section_path: tuple[str, ...] = ()
    for line in content.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if markdown and fence is not None:
            if bare.strip().startswith(fence):
                code.append((fence_start, offset + len(line)))
                fence = None
            offset += len(line)
            continue
        opened = _FENCE.match(bare) if markdown else None
        heading = _HEADING.match(bare) if markdown else None
        if heading is not None:
            if offset > start and content[start:offset].strip():
                sections.append(
                    _Section(start, offset, section_path, tuple(code), frozenset(breaks))
                )
            level = len(heading.group(1))
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, heading.group(2).strip()))
            section_path = tuple(title for _, title in path)
            start, code, breaks = offset, [], set()
        elif opened is not None:
            fence, fence_start = opened.group(1)[:3], offset
            breaks.add(offset)
        elif bare.strip() and blank_before:
            breaks.add(offset)
        blank_before = not bare.strip()
        offset += len(line)
    if fence is not None:  # an unclosed fence runs to the end, as CommonMark says
        code.append((fence_start, offset))
    if content[start:].strip():
        sections.append(_Section(start, len(content), section_path, tuple(code), frozenset(breaks)))
    return sections


def chunk(
    content: str,
    tokenize: Tokenize,
    *,
    max_tokens: int,
    overlap: int,
    markdown: bool,
) -> list[ChunkText]:
    """The chunks of `content`, in order. `overlap` must be less than `max_tokens`."""
    if overlap >= max_tokens:
        raise ValueError("overlap must be less than max_tokens")
    chunks: list[ChunkText] = []
    for section in _sections(content, markdown):
        text = content[section.start : section.end]
        spans = [(a + section.start, b + section.start) for a, b in tokenize(text)]
        for first, last in _windows(content, section, spans, max_tokens, overlap):
            begin, end = spans[first][0], spans[last - 1][1]
            chunks.append(
                ChunkText(
                    len(chunks),
                    content[begin:end],
                    section.heading_path,
                    begin,
                    end,
                    last - first,
                )
            )
    return chunks


def _windows(
    content: str, section: _Section, spans: Sequence[tuple[int, int]], size: int, overlap: int
) -> list[tuple[int, int]]:
    """Token windows [first, last) covering the section's tokens."""
    count = len(spans)
    if count == 0:
        return []

    def in_code(position: int) -> tuple[int, int] | None:
        """The code block a cut before token `position` would split."""
        before, after = spans[position - 1][0], spans[position][0]
        for begin, end in section.code:
            if begin <= before and after < end:
                return begin, end
        return None

    def rank(position: int) -> int:
        """How good a cut before token `position` is: 3 block, 2 sentence, 1 token, 0 never."""
        if position >= count:
            return 3
        if in_code(position) is not None:
            between = content[spans[position - 1][1] : spans[position][0]]
            return -1 if "\n" in between else 0  # -1: a line end inside code, for long blocks
        between = content[spans[position - 1][1] : spans[position][0]]
        if "\n\n" in between or spans[position][0] in section.breaks:
            return 3
        if _SENTENCE_END.search(content[spans[position - 1][0] : spans[position - 1][1]]):
            return 2
        return 1

    windows: list[tuple[int, int]] = []
    first = 0
    while first < count:
        limit = min(first + size, count)
        if limit == count:
            windows.append((first, count))
            break
        last = _best_cut(first, limit, rank, size)
        windows.append((first, last))
        following = max(last - overlap, first + 1)
        while following < last and in_code(following) is not None:
            following += 1
        first = following
    return windows


def _best_cut(first: int, limit: int, rank: Callable[[int], int], size: int) -> int:
    """Where the window starting at `first` ends: the best-ranked cut in its second half
    (the latest among equals), else any allowed cut, else a line end inside code, else the
    limit itself."""
    floor = first + max(1, size // 2)
    best, best_rank = -1, 0
    for position in range(limit, floor - 1, -1):
        value = rank(position)
        if value > best_rank:
            best, best_rank = position, value
            if value == 3:
                break
    if best > 0:
        return best
    for position in range(limit, first, -1):
        if rank(position) > 0:
            return position
    for position in range(limit, first, -1):
        if rank(position) == -1:
            return position
    return limit
