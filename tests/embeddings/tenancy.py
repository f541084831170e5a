"""What the suite-wide tenant-isolation test (tests/integration/test_tenant_isolation.py) needs
of the embeddings service: organization B's collection with a document and a job, a valid body
for each route that takes one, and which of B's ids each path parameter names."""

from __future__ import annotations

from typing import Any

from tests.integration.tenancy import Tenant, created

DOCUMENT = "b-secret-page"
TEXT = "B secret embedded text about the vault combination."

BODIES: dict[str, dict[str, Any]] = {
    "EmbeddingsService_CreateCollection": {"name": "planted"},
    "EmbeddingsService_UpsertDocuments": {"documents": [{"id": DOCUMENT, "content": "planted"}]},
    "EmbeddingsService_Search": {"query": "vault combination"},
    "EmbeddingsService_StartIndexJob": {"documents": [{"id": DOCUMENT, "content": "planted"}]},
    "EmbeddingsService_CancelJob": {},
}

ID_OF_PARAMETER = {
    "collection_id": "embeddings_collection",
    "document_id": "embeddings_document",
    "job_id": "embeddings_job",
}

SECRETS = (TEXT, "b-secret-collection")
"""Text of B's resources that must never appear in an answer to A."""


async def seed(b: Tenant) -> dict[str, str]:
    collection = await created(
        b.client, "/api/v1/embeddings/collections", {"name": "b-secret-collection"}, "collection"
    )
    upserted = await b.client.post(
        f"/api/v1/embeddings/collections/{collection}/documents:upsert",
        json={"documents": [{"id": DOCUMENT, "content": TEXT}]},
    )
    assert upserted.status_code == 200, upserted.text
    started = await b.client.post(
        f"/api/v1/embeddings/collections/{collection}/jobs",
        json={"documents": [{"id": DOCUMENT, "content": TEXT}]},
    )
    assert started.status_code == 200, started.text
    job = started.json()["job"]["id"]
    return {
        "embeddings_collection": collection,
        "embeddings_document": DOCUMENT,
        "embeddings_job": job,
    }


async def untouched(b: Tenant, ids: dict[str, str]) -> None:
    collection = ids["embeddings_collection"]
    got = await b.client.get(f"/api/v1/embeddings/collections/{collection}")
    assert got.json()["collection"]["name"] == "b-secret-collection"
    path = f"/api/v1/embeddings/collections/{collection}/documents/{DOCUMENT}"
    document = (await b.client.get(path, params={"includeChunks": "true"})).json()
    assert [chunk["text"] for chunk in document["chunks"]] == [TEXT]
    job = (await b.client.get(f"/api/v1/embeddings/jobs/{ids['embeddings_job']}")).json()["job"]
    assert job["totalDocuments"] == 1
