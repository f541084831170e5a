"""Batch indexing jobs: accepted at once, run in the background by the accepting process,
their progress stored (so any replica answers GetJob and WatchJob) and their cancellation a flag
the runner reads between groups of documents.

A running job holds a lease it renews with each group; a job whose lease ran out (its process
stopped) reads as FAILED, interrupted — what it had indexed stays indexed, and sending the same
documents again embeds only those not yet indexed (their content hashes match).
The job's embedding calls to the AI Service are made on behalf of its `embeddings.job.started`
event, since no caller's token outlives the StartIndexJob call.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

from coder.embeddings.v1 import embeddings_service_pb2 as api
from coder.embeddings.v1 import events_pb2, resources_pb2
from coder.events.v1 import event_pb2
from services.embeddings._mapping import JobRecord, StoredCollection, job_from_document, new_job
from services.embeddings._providers import Embedders
from services.embeddings.events import EmbeddingsEvents
from services.embeddings.repository import EmbeddingsRepository
from services.embeddings.service.collections import CollectionService
from services.embeddings.service.indexing import Indexer, Target, check_inputs
from services.kit import (
    Clock,
    DomainError,
    NotFound,
    Principal,
    current_principal,
    get_logger,
    new_id,
    time_text,
)
from services.kit.bus import EventFactory

GROUP = 16
"""Documents indexed per step: embedded in one run, progress stored and cancellation read
after each."""
LEASE = timedelta(minutes=5)
WATCH_POLL_SECONDS = 2.0
"""How often a watch re-reads a job run by another process (this process's jobs wake it)."""
JOB_STARTED = "embeddings.job.started"

_log = get_logger("embeddings.jobs")


class JobService:
    """Starts, reports, streams and cancels batch indexing jobs."""

    def __init__(
        self,
        repository: EmbeddingsRepository,
        collections: CollectionService,
        indexer: Indexer,
        embedders: Embedders,
        clock: Clock,
    ) -> None:
        self._repository = repository
        self._collections = collections
        self._indexer = indexer
        self._embedders = embedders
        self._clock = clock
        self._running: dict[str, asyncio.Task[None]] = {}
        self._changed: dict[str, asyncio.Event] = {}

    def _now(self) -> str:
        return time_text(self._clock.now())

    def _lease(self) -> str:
        return time_text(self._clock.now() + LEASE)

    async def start(
        self, collection_id: str, documents: Sequence[resources_pb2.DocumentInput]
    ) -> resources_pb2.Job:
        principal = current_principal()
        partition = principal.organization_id
        check_inputs(documents)
        collection = await self._collections.require(partition, collection_id)
        now = self._now()
        body = new_job(new_id(), collection_id, len(documents), now, self._lease())
        job = job_from_document(body, now=now)
        started = EventFactory.acting(principal, self._clock)(
            JOB_STARTED, body["id"], events_pb2.JobStarted(job=job)
        )
        await self._repository.create_job(partition, body, [started])
        # A fresh context: the job outlives the call, its deadline and its token.
        task = asyncio.get_running_loop().create_task(
            self._run(principal, started, collection, body["id"], list(documents)),
            context=contextvars.Context(),
        )
        self._running[body["id"]] = task
        task.add_done_callback(lambda _: self._running.pop(body["id"], None))
        return job

    async def _run(
        self,
        principal: Principal,
        started: event_pb2.Event,
        collection: StoredCollection,
        job_id: str,
        documents: list[resources_pb2.DocumentInput],
    ) -> None:
        partition = principal.organization_id
        target = Target(
            partition,
            collection,
            self._embedders.for_collection(
                collection.provider, collection.model, collection.dimensions, started
            ),
            EmbeddingsEvents.acting(principal, self._clock),
        )
        done = unchanged = chunks = 0
        state, error = "succeeded", ""
        try:
            await self._update(partition, job_id, state="running")
            for begin in range(0, len(documents), GROUP):
                current = await self._repository.job(partition, job_id)
                if current is None or current.get("cancelRequested"):
                    state = "cancelled"
                    break
                indexed = await self._indexer.index(target, documents[begin : begin + GROUP])
                done += len(indexed.results)
                unchanged += sum(
                    1 for r in indexed.results if r.outcome == api.UPSERT_OUTCOME_UNCHANGED
                )
                chunks += indexed.embedded_chunks
                await self._update(
                    partition, job_id, done=done, unchanged=unchanged, embeddedChunks=chunks
                )
        except DomainError as failure:
            state, error = "failed", failure.message if failure.exposed else failure.reason
        except Exception:
            _log.exception("embeddings.job_failed", job_id=job_id)
            state, error = "failed", "internal error"
        try:
            await self._update(partition, job_id, state=state, error=error)
        except DomainError:
            _log.warning("embeddings.job_unrecorded", job_id=job_id, state=state)

    async def _update(self, partition: str, job_id: str, **changes: object) -> None:
        await self._repository.update_job(
            partition,
            job_id,
            {**changes, "updateTime": self._now(), "leaseUntil": self._lease()},
        )
        self._changed.setdefault(job_id, asyncio.Event()).set()

    async def _require(self, partition: str, job_id: str) -> JobRecord:
        found = await self._repository.job(partition, job_id)
        if found is None:
            raise NotFound(f"no job {job_id!r}", reason="JOB_NOT_FOUND")
        return found

    async def get(self, job_id: str) -> resources_pb2.Job:
        partition = current_principal().organization_id
        return job_from_document(await self._require(partition, job_id), now=self._now())

    async def watch(self, job_id: str) -> AsyncIterator[resources_pb2.Job]:
        partition = current_principal().organization_id
        last: resources_pb2.Job | None = None
        while True:
            changed = self._changed.setdefault(job_id, asyncio.Event())
            changed.clear()
            job = job_from_document(await self._require(partition, job_id), now=self._now())
            if job != last:
                yield job
                last = job
            if job.state in _FINISHED_STATES:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), WATCH_POLL_SECONDS)

    async def cancel(self, job_id: str) -> resources_pb2.Job:
        partition = current_principal().organization_id
        found = await self._require(partition, job_id)
        job = job_from_document(found, now=self._now())
        if job.state in _FINISHED_STATES:
            return job
        await self._repository.update_job(
            partition, job_id, {"cancelRequested": True, "updateTime": self._now()}
        )
        task = self._running.get(job_id)
        if task is not None:
            await asyncio.shield(asyncio.wait({task}))
        return job_from_document(await self._require(partition, job_id), now=self._now())

    async def close(self) -> None:
        """Stop this process's jobs (at shutdown); they read as interrupted once their lease
        ends."""
        for task in list(self._running.values()):
            task.cancel()
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)


_FINISHED_STATES = frozenset(
    {
        resources_pb2.JOB_STATE_SUCCEEDED,
        resources_pb2.JOB_STATE_FAILED,
        resources_pb2.JOB_STATE_CANCELLED,
    }
)
