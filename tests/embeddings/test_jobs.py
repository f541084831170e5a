"""Batch indexing jobs: progress streamed to the end, unchanged documents counted and not
embedded, cancellation stops after the documents in hand."""

from __future__ import annotations

from coder.embeddings.v1 import embeddings_service_pb2 as api
from coder.embeddings.v1 import resources_pb2
from tests.embeddings.factories import Stub, create_collection, document, ids_of, search
from tests.fixtures.tokens import TokenFactory, auth


async def watched(stub: Stub, token: str, job_id: str) -> list[resources_pb2.Job]:
    stream = stub.WatchJob(api.WatchJobRequest(job_id=job_id), metadata=auth(token))
    return [reply.job async for reply in stream]


def pages(count: int, prefix: str = "page") -> list[resources_pb2.DocumentInput]:
    return [document(f"{prefix}-{i}", f"Page {i} is about topic number {i}.") for i in range(count)]


class TestJobs:
    async def test_progress_is_streamed_until_the_job_succeeds(
        self, stub: Stub, token: TokenFactory, org: str
    ) -> None:
        member = token(org)
        collection = await create_collection(stub, member)
        started = await stub.StartIndexJob(
            api.StartIndexJobRequest(collection_id=collection.id, documents=pages(40)),
            metadata=auth(member),
        )
        assert started.job.total_documents == 40
        progress = await watched(stub, member, started.job.id)
        assert progress[-1].state == resources_pb2.JOB_STATE_SUCCEEDED
        assert progress[-1].done_documents == 40 and progress[-1].embedded_chunks == 40
        done = [job.done_documents for job in progress]
        assert done == sorted(done)
        assert ids_of(await search(stub, member, collection.id, "topic number 7", k=1)) == [
            "page-7"
        ]
        again = await stub.StartIndexJob(
            api.StartIndexJobRequest(collection_id=collection.id, documents=pages(40)),
            metadata=auth(member),
        )
        final = (await watched(stub, member, again.job.id))[-1]
        assert (final.unchanged_documents, final.embedded_chunks) == (40, 0)

    async def test_a_cancelled_job_stops_and_keeps_what_it_indexed(
        self, stub: Stub, token: TokenFactory, org: str
    ) -> None:
        member = token(org)
        collection = await create_collection(stub, member)
        started = await stub.StartIndexJob(
            api.StartIndexJobRequest(collection_id=collection.id, documents=pages(400)),
            metadata=auth(member),
        )
        cancelled = await stub.CancelJob(
            api.CancelJobRequest(job_id=started.job.id), metadata=auth(member)
        )
        assert cancelled.job.state == resources_pb2.JOB_STATE_CANCELLED
        assert cancelled.job.done_documents < 400
        listed = await stub.ListDocuments(
            api.ListDocumentsRequest(collection_id=collection.id, page_size=1000),
            metadata=auth(member),
        )
        assert len(listed.documents) == cancelled.job.done_documents
        got = await stub.GetJob(api.GetJobRequest(job_id=started.job.id), metadata=auth(member))
        assert got.job == cancelled.job
