"""Import of a folder of Markdown files (front matter kept, folders as parent pages) and
export of a space as a zip that imports again as the same tree."""

from __future__ import annotations

import io
import zipfile

import grpc
from google.protobuf.json_format import MessageToDict

from coder.knowledge.v1 import knowledge_pb2 as kb
from coder.knowledge.v1 import knowledge_service_pb2 as api
from coder.knowledge.v1.knowledge_service_pb2_grpc import KnowledgeServiceStub
from tests.fixtures.grpc_errors import rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.knowledge.factories import create_page, create_space

FOLDER = {
    "ops/index.md": "---\ntitle: Operations\nowner: sre\n---\nHow we run things.\n",
    "ops/deploy/rollback.md": (
        "---\ntags: [risk=high, prod]\nreviewed: 2024-05-01\n---\n# Rolling back\n\nSteps.\n"
    ),
    "intro.md": "Welcome.\n",
}


async def import_files(
    stub: KnowledgeServiceStub, token: str, space_id: str, files: dict[str, str]
) -> list[kb.Page]:
    answer = await stub.ImportPages(
        api.ImportPagesRequest(
            space_id=space_id,
            files=[api.MarkdownFile(path=path, content=text) for path, text in files.items()],
        ),
        metadata=auth(token),
    )
    return list(answer.pages)


class TestImport:
    async def test_files_become_pages_and_folders_their_parents(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        pages = {p.title: p for p in await import_files(stub, token(org), space.id, FOLDER)}
        assert set(pages) == {"Operations", "deploy", "Rolling back", "intro"}
        assert pages["deploy"].parent_id == pages["Operations"].id
        assert pages["Rolling back"].parent_id == pages["deploy"].id
        assert pages["intro"].parent_id == ""
        rollback = pages["Rolling back"]
        assert [(t.name, t.value) for t in rollback.tags] == [("risk", "high"), ("prod", "")]
        assert MessageToDict(rollback.front_matter) == {
            "tags": ["risk=high", "prod"],
            "reviewed": "2024-05-01",
        }
        assert MessageToDict(pages["Operations"].front_matter) == {
            "title": "Operations",
            "owner": "sre",
        }
        assert rollback.markdown == "# Rolling back\n\nSteps.\n"

    async def test_bad_front_matter_names_the_file(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        error = await rpc_error(
            import_files(stub, token(org), space.id, {"a.md": "ok", "b.md": "---\n- x\n---\n"}),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"files[1]"}


class TestExport:
    async def test_an_export_imports_again_as_the_same_tree(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        await import_files(stub, token(org), space.id, FOLDER)
        await create_page(stub, token(org), space.id, "Release", steps=("Tag", "Ship"))
        exported = await stub.ExportSpace(
            api.ExportSpaceRequest(space_id=space.id), metadata=auth(token(org))
        )
        assert exported.pages == 5
        with zipfile.ZipFile(io.BytesIO(exported.archive)) as archive:
            files = {name: archive.read(name).decode() for name in archive.namelist()}
        assert set(files) == {
            "Operations/index.md",
            "Operations/deploy/index.md",
            "Operations/deploy/Rolling-back.md",
            "intro.md",
            "Release.md",
        }
        assert "owner: sre" in files["Operations/index.md"]
        again = await create_space(stub, token(org), "Again")
        pages = {p.title: p for p in await import_files(stub, token(org), again.id, files)}
        assert set(pages) == {"Operations", "deploy", "Rolling back", "intro", "Release"}
        assert pages["Rolling back"].parent_id == pages["deploy"].id
        assert [(t.name, t.value) for t in pages["Rolling back"].tags] == [
            ("risk", "high"),
            ("prod", ""),
        ]
        assert pages["Release"].kind == kb.PAGE_KIND_RUNBOOK
        assert [s.text for s in pages["Release"].steps] == ["Tag", "Ship"]
