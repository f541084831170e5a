"""Markdown rendering, page links and front matter (`_markdown`)."""

from __future__ import annotations

import pytest

from services.knowledge._markdown import (
    FrontMatterError,
    first_heading,
    join_front_matter,
    render,
    split_front_matter,
)


class TestRender:
    def test_hostile_markup_is_escaped_or_dropped(self) -> None:
        rendered = render(
            "<img src=x onerror=alert(1)>\n\n[a](javascript:alert(1)) [b](https://x.test)"
        )
        assert "<img" not in rendered.html
        assert "javascript:" not in rendered.html.replace("[a](javascript:alert(1))", "")
        assert '<a href="https://x.test" rel="noopener noreferrer nofollow">b</a>' in rendered.html

    def test_tables_and_fenced_code(self) -> None:
        rendered = render("| a |\n|---|\n| 1 |\n\n```python\nx = 1\n```\n")
        assert "<table>" in rendered.html
        assert '<code class="language-python">' in rendered.html

    def test_page_links_are_collected_once_and_rewritten(self) -> None:
        rendered = render("[x](page:P1) [y](page:P2) [z](page:P1) [bad](page:../etc)")
        assert rendered.links == ("P1", "P2")
        assert 'href="/knowledge/pages/P1"' in rendered.html


class TestFrontMatter:
    def test_a_mapping_is_split_off_and_written_back(self) -> None:
        split = split_front_matter("---\ntitle: T\nwhen: 2024-01-02\n---\n# Body\n")
        assert split.front_matter == {"title": "T", "when": "2024-01-02"}
        assert split.body == "# Body\n"
        again = split_front_matter(join_front_matter(split.front_matter, split.body))
        assert again == split

    def test_text_without_front_matter_is_all_body(self) -> None:
        assert split_front_matter("plain\n---\n").front_matter == {}

    def test_a_list_is_refused(self) -> None:
        with pytest.raises(FrontMatterError):
            split_front_matter("---\n- a\n---\nbody")

    def test_the_first_heading(self) -> None:
        assert first_heading("intro\n# Title #\n## Sub") == "Title"
