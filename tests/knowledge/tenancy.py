"""What the suite-wide tenant-isolation test (tests/integration/test_tenant_isolation.py) needs
of the knowledge service: organization B's space with a page at revision 2 (a runbook, with a
comment), a template and a trashed page; a valid body for each route that takes one, and which
of B's ids each path parameter names."""

from __future__ import annotations

from typing import Any

from tests.integration.tenancy import Tenant, created

BODIES: dict[str, dict[str, Any]] = {
    "KnowledgeService_UpdateSpace": {"name": "taken over"},
    "KnowledgeService_SetSpacePermissions": {"grants": []},
    "KnowledgeService_CreatePage": {"page": {"title": "planted"}},
    "KnowledgeService_UpdatePage": {"title": "taken over"},
    "KnowledgeService_RestorePageRevision": {},
    "KnowledgeService_CheckRunbookStep": {"checked": True},
    "KnowledgeService_ResetRunbook": {},
    "KnowledgeService_CreateComment": {"markdown": "planted"},
    "KnowledgeService_UpdateComment": {"markdown": "taken over"},
    "KnowledgeService_UpdatePageTemplate": {"name": "taken over"},
    "KnowledgeService_RestorePage": {},
    "KnowledgeService_ImportPages": {"files": [{"path": "planted.md", "content": "planted"}]},
}

ID_OF_PARAMETER = {
    "space_id": "knowledge_space",
    "space.id": "knowledge_space",
    "page_id": "knowledge_page",
    "page.id": "knowledge_page",
    "revision": "knowledge_revision",
    "step_id": "knowledge_step",
    "comment_id": "knowledge_comment",
    "comment.id": "knowledge_comment",
    "page_template_id": "knowledge_template",
    "page_template.id": "knowledge_template",
}

SECRETS = (
    "B secret space",
    "B secret runbook",
    "B secret body",
    "B secret comment",
    "B secret template",
)
"""Text of B's resources that must never appear in an answer to A."""


async def seed(b: Tenant) -> dict[str, str]:
    space = await created(b.client, "/api/v1/knowledge/spaces", {"name": "B secret space"}, "space")
    answer = await b.client.post(
        f"/api/v1/knowledge/spaces/{space}/pages",
        json={
            "page": {
                "title": "B secret runbook",
                "markdown": "B secret body",
                "kind": "PAGE_KIND_RUNBOOK",
                "steps": [{"text": "B secret step"}],
            }
        },
    )
    assert answer.status_code == 201, answer.text
    page = answer.json()["page"]
    edited = await b.client.patch(
        f"/api/v1/knowledge/pages/{page['id']}", json={"markdown": "B secret body, revised"}
    )
    assert edited.status_code == 200, edited.text
    comment = await created(
        b.client,
        f"/api/v1/knowledge/pages/{page['id']}/comments",
        {"markdown": "B secret comment"},
        "comment",
    )
    template = await created(
        b.client,
        "/api/v1/knowledge/pageTemplates",
        {"name": "B secret template"},
        "pageTemplate",
    )
    trashed = await b.client.post(
        f"/api/v1/knowledge/spaces/{space}/pages", json={"page": {"title": "B trashed"}}
    )
    assert trashed.status_code == 201, trashed.text
    gone = await b.client.delete(f"/api/v1/knowledge/pages/{trashed.json()['page']['id']}")
    assert gone.status_code == 200, gone.text
    return {
        "knowledge_space": space,
        "knowledge_page": page["id"],
        "knowledge_revision": "1",
        "knowledge_step": page["steps"][0]["id"],
        "knowledge_comment": comment,
        "knowledge_template": template,
    }


async def untouched(b: Tenant, ids: dict[str, str]) -> None:
    page = (await b.client.get(f"/api/v1/knowledge/pages/{ids['knowledge_page']}")).json()["page"]
    assert (page["title"], page["markdown"], page["revision"]) == (
        "B secret runbook",
        "B secret body, revised",
        2,
    )
    assert [step["checked"] for step in page["steps"]] == [False]
    space = (await b.client.get(f"/api/v1/knowledge/spaces/{ids['knowledge_space']}")).json()
    assert (space["space"]["name"], space["space"]["grants"]) == ("B secret space", [])
    comments = await b.client.get(f"/api/v1/knowledge/pages/{ids['knowledge_page']}/comments")
    assert [c["markdown"] for c in comments.json()["comments"]] == ["B secret comment"]
    template = await b.client.get(f"/api/v1/knowledge/pageTemplates/{ids['knowledge_template']}")
    assert template.json()["pageTemplate"]["name"] == "B secret template"
    binned = await b.client.get("/api/v1/knowledge/recycleBin")
    assert [p["title"] for p in binned.json()["pages"]] == ["B trashed"]
    listed = await b.client.get(f"/api/v1/knowledge/spaces/{ids['knowledge_space']}/pages")
    assert [p["title"] for p in listed.json()["pages"]] == ["B secret runbook"]
