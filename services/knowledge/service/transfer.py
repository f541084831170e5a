"""Import of a folder of Markdown files, and export of a space as a zip of them.

Import: each file is a page, each folder a parent page. A folder's own page is its
`index.md` (or `README.md`), or a `<folder>.md` beside it, or else an empty page named after
the folder. Front matter is kept on the page whole (less `id`, which named the page of another
export); `title` (else the first `# ` heading, else the file name), `tags` (a list of `name`
or `name=value`, or a mapping) and `type: runbook` with `steps` (a list of texts) are read
from it. Pages are created parents first, one batch each: a failure part-way leaves the pages
made so far (the answer's error says which file stopped it).

Export writes the same shape back: `<title>.md` per page, `<title>/index.md` for a page with
children, each with front matter (the kept front matter, then `id`, `title`, `tags`, and
`type`/`steps` for a runbook), so an export imports again as the same tree.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.json_format import MessageToDict, ParseDict

from coder.knowledge.v1 import knowledge_pb2, knowledge_service_pb2
from services.kit import (
    FieldViolation,
    InvalidArgument,
    current_principal,
    validate_message,
)
from services.knowledge import _markdown
from services.knowledge.repository import KnowledgeRepository
from services.knowledge.service.access import READ, WRITE, SpaceAccess
from services.knowledge.service.pages import PageService

FOLDER_PAGES = ("index", "readme")
_SLUG = re.compile(r"[^\w.-]+", re.UNICODE)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class _Node:
    key: str
    """The page's place: its path without the extension (a folder's page: the folder)."""
    file_index: int
    """Index of its file in the request; -1 for a folder without one."""


def _file_violation(index: int, description: str) -> InvalidArgument:
    return InvalidArgument(
        f"file {index} cannot be imported: {description}",
        reason="IMPORT_INVALID",
        violations=[FieldViolation(f"files[{index}]", description)],
    )


def _nodes(files: Sequence[knowledge_service_pb2.MarkdownFile]) -> list[_Node]:
    """Every page to make, parents first."""
    owners: dict[str, int] = {}
    folders: set[str] = set()
    for index, file in enumerate(files):
        stem = file.path.rsplit(".", 1)[0]
        folder, _, name = stem.rpartition("/")
        key = folder if folder and name.lower() in FOLDER_PAGES else stem
        if key in owners:
            raise _file_violation(index, f"another file is already the page {key}")
        owners[key] = index
        parts = folder.split("/") if folder else []
        folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    keys = set(owners) | folders
    ordered = sorted(keys, key=lambda key: (key.count("/"), key))
    return [_Node(key, owners.get(key, -1)) for key in ordered]


def _tags(value: Any) -> list[knowledge_pb2.Tag]:
    if isinstance(value, dict):
        return [knowledge_pb2.Tag(name=str(k), value=str(v or "")) for k, v in value.items()]
    if isinstance(value, list):
        tags = []
        for item in value:
            name, _, tag_value = str(item).partition("=")
            tags.append(knowledge_pb2.Tag(name=name.strip(), value=tag_value.strip()))
        return tags
    if isinstance(value, str) and value:
        return [knowledge_pb2.Tag(name=value)]
    return []


def page_of_file(key: str, text: str) -> knowledge_pb2.Page:
    """The draft of a page from a file's text (FrontMatterError for bad front matter)."""
    split = _markdown.split_front_matter(text)
    matter = dict(split.front_matter)
    matter.pop("id", None)
    title = str(matter.get("title") or "") or _markdown.first_heading(split.body)
    page = knowledge_pb2.Page(
        title=(title or key.rpartition("/")[2])[:300],
        markdown=split.body,
        tags=_tags(matter.get("tags")),
    )
    if str(matter.get("type", "")).lower() == "runbook":
        page.kind = knowledge_pb2.PAGE_KIND_RUNBOOK
        for step in matter.get("steps") or []:
            page.steps.add(text=str(step))
    if matter:
        ParseDict(matter, page.front_matter)
    return page


def _slug(title: str) -> str:
    return _SLUG.sub("-", title).strip("-.") or "page"


def file_text(page: knowledge_pb2.Page) -> str:
    """A page as a Markdown file with front matter."""
    matter: dict[str, Any] = MessageToDict(page.front_matter) if page.front_matter else {}
    matter.update(
        id=page.id,
        title=page.title,
        tags=[f"{t.name}={t.value}" if t.value else t.name for t in page.tags],
    )
    if page.kind == knowledge_pb2.PAGE_KIND_RUNBOOK:
        matter.update(type="runbook", steps=[step.text for step in page.steps])
    return _markdown.join_front_matter(matter, page.markdown)


def archive(pages: Sequence[knowledge_pb2.Page]) -> bytes:
    """The zip of a space's live pages, nested as they are. A page whose parent is not among
    them (it cannot be, for a live page of a live parent) goes at the top."""
    ids = {page.id for page in pages}
    children: dict[str, list[knowledge_pb2.Page]] = {}
    for page in pages:
        parent = page.parent_id if page.parent_id in ids else ""
        children.setdefault(parent, []).append(page)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        pending: list[tuple[str, str]] = [("", "")]
        while pending:
            parent, folder = pending.pop()
            taken: set[str] = set()
            for page in sorted(children.get(parent, []), key=lambda p: (p.title.casefold(), p.id)):
                name = _slug(page.title)
                suffix = 2
                while name.casefold() in taken:
                    name = f"{_slug(page.title)}-{suffix}"
                    suffix += 1
                taken.add(name.casefold())
                if page.id in children:
                    path = f"{folder}{name}/index.md"
                    pending.append((page.id, f"{folder}{name}/"))
                else:
                    path = f"{folder}{name}.md"
                info = zipfile.ZipInfo(path, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                zipped.writestr(info, file_text(page))
    return buffer.getvalue()


class TransferService:
    """ImportPages, ExportSpace."""

    def __init__(
        self, repository: KnowledgeRepository, access: SpaceAccess, pages: PageService
    ) -> None:
        self._repository = repository
        self._access = access
        self._pages = pages

    async def import_pages(
        self, request: knowledge_service_pb2.ImportPagesRequest
    ) -> list[knowledge_pb2.Page]:
        principal = current_principal()
        space = await self._access.space(principal, request.space_id, WRITE)
        await self._pages.check_parent(principal, space.id, request.parent_id)
        nodes = _nodes(request.files)
        drafts: dict[str, knowledge_pb2.Page] = {}
        for node in nodes:
            if node.file_index < 0:
                drafts[node.key] = knowledge_pb2.Page(title=node.key.rpartition("/")[2][:300])
                continue
            try:
                draft = page_of_file(node.key, request.files[node.file_index].content)
                validate_message(draft)
            except _markdown.FrontMatterError as bad:
                raise _file_violation(node.file_index, str(bad)) from None
            except InvalidArgument as invalid:
                details = "; ".join(f"{v.field}: {v.description}" for v in invalid.violations)
                raise _file_violation(node.file_index, details) from None
            drafts[node.key] = draft
        made: dict[str, str] = {}
        pages = []
        for node in nodes:
            draft = drafts[node.key]
            parent_key = node.key.rpartition("/")[0]
            draft.parent_id = made[parent_key] if parent_key else request.parent_id
            page = await self._pages.create_in(principal, space, draft, "Imported")
            made[node.key] = page.id
            page.html = ""
            pages.append(page)
        return pages

    async def export(self, space_id: str) -> tuple[bytes, int]:
        principal = current_principal()
        space = await self._access.space(principal, space_id, READ)
        pages = await self._repository.live_pages(principal.organization_id, space.id)
        return archive(pages), len(pages)
