"""Chunking: token windows with overlap, sections by Markdown heading with their heading
path, fenced code blocks never cut unless longer than a chunk."""

from __future__ import annotations

import re

from services.embeddings._chunking import chunk


def words(text: str) -> list[tuple[int, int]]:
    """A tokenizer for tests: each word and each punctuation mark is a token."""
    return [m.span() for m in re.finditer(r"\w+|[^\w\s]", text)]


def test_plain_text_is_cut_into_windows_that_overlap() -> None:
    text = " ".join(f"w{i}" for i in range(25))
    chunks = chunk(text, words, max_tokens=10, overlap=3, markdown=False)
    assert [c.tokens for c in chunks][:2] == [10, 10]
    assert chunks[0].text.split()[-3:] == chunks[1].text.split()[:3]
    assert chunks[-1].text.endswith("w24")
    assert all(text[c.start : c.end] == c.text for c in chunks)


def test_a_heading_starts_a_chunk_and_names_its_path() -> None:
    text = "# Guide\n\nIntro text.\n\n## Install\n\nRun the installer.\n\n# Other\n\nMore."
    chunks = chunk(text, words, max_tokens=50, overlap=5, markdown=True)
    assert [(c.heading_path, c.text.splitlines()[0]) for c in chunks] == [
        (("Guide",), "# Guide"),
        (("Guide", "Install"), "## Install"),
        (("Other",), "# Other"),
    ]


def test_a_code_block_is_kept_whole() -> None:
    code = "```python\n" + "\n".join(f"x{i} = {i}" for i in range(6)) + "\n```"
    text = "Some words before the code here.\n\n" + code + "\n\nAnd after."
    chunks = chunk(text, words, max_tokens=30, overlap=4, markdown=True)
    holding = [c for c in chunks if "x0" in c.text]
    assert len(holding) == 1 and code in holding[0].text
    assert not any("x3" in c.text and "x0" not in c.text for c in chunks)


def test_a_code_block_longer_than_a_chunk_is_cut_at_line_ends() -> None:
    code = "```\n" + "\n".join(f"line{i} = {i}" for i in range(40)) + "\n```"
    chunks = chunk(code, words, max_tokens=20, overlap=0, markdown=True)
    assert len(chunks) > 1
    for piece in chunks[:-1]:
        assert re.search(r"line\d+ = \d+$", piece.text), piece.text


def test_headings_inside_code_are_not_headings() -> None:
    text = "# Real\n\n```\n# not a heading\n```\n"
    chunks = chunk(text, words, max_tokens=50, overlap=0, markdown=True)
    assert [c.heading_path for c in chunks] == [("Real",)]
