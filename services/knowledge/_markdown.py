"""Markdown: rendering to sanitized HTML (markdown-it-py, then nh3), the page links it holds,
and YAML front matter.

A link whose target is `page:<id>` points at another page of the organization: it renders to
`/knowledge/pages/<id>` and is listed in the page's links, which its target's backlinks read.
Raw HTML in the Markdown is not passed through; whatever the renderer emits is cleaned by nh3
(ammonia) anyway, so no script, event handler or `javascript:` URL reaches a reader.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import nh3
import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

PAGE_SCHEME = "page:"
PAGE_PATH = "/knowledge/pages/"
_PAGE_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)

_ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attributes) for tag, attributes in nh3.ALLOWED_ATTRIBUTES.items()},
    "code": {"class"},  # `language-<name>` of a fenced block, for a highlighter
}


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
        ["table", "strikethrough"]
    )


_MARKDOWN = _parser()


@dataclass(frozen=True, slots=True)
class Rendered:
    """A Markdown text rendered: sanitized HTML and the ids of the pages it links to."""

    html: str
    links: tuple[str, ...]


def _links(tokens: list[Token]) -> list[str]:
    """Rewrite `page:<id>` targets in place and return the ids, in order of first use."""
    found: dict[str, None] = {}
    for token in tokens:
        for child in token.children or ():
            if child.type != "link_open":
                continue
            href = str(child.attrGet("href") or "")
            if href.startswith(PAGE_SCHEME):
                target = href.removeprefix(PAGE_SCHEME)
                if _PAGE_ID.match(target):
                    found.setdefault(target)
                    child.attrSet("href", f"{PAGE_PATH}{target}")
    return list(found)


def render(markdown: str) -> Rendered:
    """Sanitized HTML of `markdown` and the pages it links to."""
    tokens = _MARKDOWN.parse(markdown)
    links = _links(tokens)
    html = _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {})
    clean = nh3.clean(
        html,
        attributes=_ALLOWED_ATTRIBUTES,
        link_rel="noopener noreferrer nofollow",
    )
    return Rendered(clean, tuple(links))


# --- front matter ----------------------------------------------------------------------------


class FrontMatterError(ValueError):
    """Front matter that is not a YAML mapping."""


@dataclass(frozen=True, slots=True)
class Split:
    """A file's front matter (as JSON values) and the Markdown after it."""

    front_matter: dict[str, Any]
    body: str


def _json_values(value: Any) -> Any:
    # YAML has dates and other scalars JSON lacks; a Struct holds JSON only.
    return json.loads(json.dumps(value, default=str))


def split_front_matter(text: str) -> Split:
    """The YAML front matter between the first two `---` lines, if the text starts with one."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return Split({}, text)
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as error:
        raise FrontMatterError(f"front matter is not valid YAML: {error}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrontMatterError("front matter must be a YAML mapping")
    return Split(_json_values({str(k): v for k, v in data.items()}), text[match.end() :])


def join_front_matter(front_matter: dict[str, Any], body: str) -> str:
    """The file text: the front matter as YAML between `---` lines, then the Markdown."""
    if not front_matter:
        return body
    head = yaml.safe_dump(front_matter, sort_keys=False, allow_unicode=True).rstrip("\n")
    return f"---\n{head}\n---\n{body}"


def first_heading(markdown: str) -> str:
    """The text of the first ATX `# ` heading, or empty."""
    for line in markdown.splitlines():
        if line.startswith("# "):
            return line[2:].strip().strip("#").strip()
    return ""
