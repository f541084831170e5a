"""Proto ↔ document mapping of collections, documents, chunks and jobs.

Documents use lowerCamelCase names and the kit's time text. A chunk's vector is kept as its
float32 bytes in base64 (`vector`: 2 KB for 384 dimensions rather than ~8 KB of JSON numbers);
in distributed mode the chunk also carries it as a JSON array (`embedding`), the form Cosmos
DB's vector index and VectorDistance read. A chunk carries copies of its document's metadata
(`meta`), tags and title so that a Cosmos DB query filters chunks without a join.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from google.protobuf import json_format, struct_pb2

from coder.embeddings.v1 import resources_pb2
from services.embeddings._index import IndexedChunk, IndexedDocument, MetricName
from services.kit import fill_timestamp
from services.kit.store import Document

COLLECTION_KIND = "collection"
NAME_KIND = "name"

PROVIDER_NAMES = {resources_pb2.PROVIDER_LOCAL: "local", resources_pb2.PROVIDER_AI_SERVICE: "ai"}
METRIC_NAMES = {
    resources_pb2.METRIC_COSINE: "cosine",
    resources_pb2.METRIC_DOT_PRODUCT: "dot",
    resources_pb2.METRIC_EUCLIDEAN: "euclidean",
}
JOB_STATES = {
    "queued": resources_pb2.JOB_STATE_QUEUED,
    "running": resources_pb2.JOB_STATE_RUNNING,
    "succeeded": resources_pb2.JOB_STATE_SUCCEEDED,
    "failed": resources_pb2.JOB_STATE_FAILED,
    "cancelled": resources_pb2.JOB_STATE_CANCELLED,
}
FINISHED = frozenset({"succeeded", "failed", "cancelled"})


def name_claim_id(name: str) -> str:
    return f"name:{name}"


def document_key(collection_id: str, document_id: str) -> str:
    """Id of a document's document: its collection and source id."""
    return f"{collection_id}~{document_id}"


def chunk_id(key: str, generation: str, index: int) -> str:
    return f"{key}~{generation}~{index}"


def content_hash(title: str, content: str) -> str:
    digest = hashlib.sha256(title.encode())
    digest.update(b"\0")
    digest.update(content.encode())
    return digest.hexdigest()


def labels_hash(metadata: dict[str, Any], tags: list[str]) -> str:
    """Digest of what filters read (metadata and tags), to tell a metadata-only change."""
    text = json.dumps([metadata, sorted(tags)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def vector_text(vector: npt.NDArray[np.float32]) -> str:
    return base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode()


def vector_of(text: str, dimensions: int) -> npt.NDArray[np.float32]:
    values = np.frombuffer(base64.b64decode(text), dtype="<f4")
    if values.shape != (dimensions,):
        raise ValueError(f"a stored vector of {values.shape} for {dimensions} dimensions")
    return values.astype(np.float32)


def struct_dict(value: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(value)


# --- collections -------------------------------------------------------------------------------


def collection_document(collection: resources_pb2.Collection, create_time: str) -> Document:
    return {
        "id": collection.id,
        "kind": COLLECTION_KIND,
        "name": collection.name,
        "description": collection.description,
        "provider": PROVIDER_NAMES[collection.provider],
        "model": collection.model,
        "dimensions": collection.dimensions,
        "metric": METRIC_NAMES[collection.metric],
        "chunking": {
            "maxTokens": collection.chunking.max_tokens,
            "overlapTokens": collection.chunking.overlap_tokens,
            "markdown": collection.chunking.markdown,
        },
        "createTime": create_time,
    }


@dataclass(frozen=True, slots=True)
class StoredCollection:
    """A collection's document as the service works with it."""

    id: str
    organization_id: str
    name: str
    description: str
    provider: str
    model: str
    dimensions: int
    metric: MetricName
    max_tokens: int
    overlap_tokens: int
    markdown: bool
    create_time: str
    etag: str

    @property
    def local(self) -> bool:
        return self.provider == "local"

    @classmethod
    def of(cls, document: Document) -> StoredCollection:
        chunking = document["chunking"]
        return cls(
            id=document["id"],
            organization_id=document.get("organizationId", ""),
            name=document["name"],
            description=document.get("description", ""),
            provider=document["provider"],
            model=document["model"],
            dimensions=document["dimensions"],
            metric=document["metric"],
            max_tokens=chunking["maxTokens"],
            overlap_tokens=chunking["overlapTokens"],
            markdown=chunking["markdown"],
            create_time=document["createTime"],
            etag=document.get("_etag", ""),
        )

    def proto(self, document_count: int = 0) -> resources_pb2.Collection:
        providers = {name: value for value, name in PROVIDER_NAMES.items()}
        metrics = {name: value for value, name in METRIC_NAMES.items()}
        collection = resources_pb2.Collection(
            id=self.id,
            name=self.name,
            description=self.description,
            provider=providers[self.provider],
            model=self.model,
            dimensions=self.dimensions,
            metric=metrics[self.metric],
            chunking=resources_pb2.ChunkingPolicy(
                max_tokens=self.max_tokens,
                overlap_tokens=self.overlap_tokens,
                markdown=self.markdown,
            ),
            document_count=document_count,
            etag=self.etag,
        )
        fill_timestamp(collection.create_time, self.create_time)
        return collection


# --- documents and chunks ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A document's document as the service works with it."""

    collection_id: str
    id: str
    title: str
    metadata: dict[str, Any]
    tags: list[str]
    content_hash: str
    labels_hash: str
    chunk_count: int
    token_count: int
    generation: str
    update_time: str
    etag: str = ""

    @property
    def key(self) -> str:
        return document_key(self.collection_id, self.id)

    def document(self) -> Document:
        return {
            "id": self.key,
            "collectionId": self.collection_id,
            "documentId": self.id,
            "title": self.title,
            "metadata": self.metadata,
            "tags": self.tags,
            "contentHash": self.content_hash,
            "labelsHash": self.labels_hash,
            "chunkCount": self.chunk_count,
            "tokenCount": self.token_count,
            "generation": self.generation,
            "updateTime": self.update_time,
        }

    @classmethod
    def of(cls, document: Document) -> StoredDocument:
        return cls(
            collection_id=document["collectionId"],
            id=document["documentId"],
            title=document.get("title", ""),
            metadata=document.get("metadata", {}),
            tags=document.get("tags", []),
            content_hash=document["contentHash"],
            labels_hash=document["labelsHash"],
            chunk_count=document["chunkCount"],
            token_count=document["tokenCount"],
            generation=document["generation"],
            update_time=document["updateTime"],
            etag=document.get("_etag", ""),
        )

    def proto(self, *, with_etag: bool = True) -> resources_pb2.Document:
        message = resources_pb2.Document(
            id=self.id,
            collection_id=self.collection_id,
            title=self.title,
            tags=self.tags,
            content_hash=self.content_hash,
            chunk_count=self.chunk_count,
            token_count=self.token_count,
            etag=self.etag if with_etag else "",
        )
        message.metadata.update(self.metadata)
        fill_timestamp(message.update_time, self.update_time)
        return message

    def indexed(self) -> IndexedDocument:
        return IndexedDocument(self.id, self.title, dict(self.metadata), frozenset(self.tags))


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """A chunk's document: its text and place, its vector, its document's labels."""

    index: int
    text: str
    heading_path: tuple[str, ...]
    start: int
    end: int
    tokens: int
    vector: npt.NDArray[np.float32]

    def document(self, owner: StoredDocument, *, with_array: bool) -> Document:
        body: Document = {
            "id": chunk_id(owner.key, owner.generation, self.index),
            "collectionId": owner.collection_id,
            "documentKey": owner.key,
            "documentId": owner.id,
            "generation": owner.generation,
            "index": self.index,
            "text": self.text,
            "headingPath": list(self.heading_path),
            "start": self.start,
            "end": self.end,
            "tokens": self.tokens,
            "vector": vector_text(self.vector),
            "title": owner.title,
            "meta": owner.metadata,
            "tags": owner.tags,
        }
        if with_array:
            body["embedding"] = [float(x) for x in self.vector]
        return body

    @classmethod
    def of(cls, document: Document, dimensions: int) -> StoredChunk:
        return cls(
            index=document["index"],
            text=document["text"],
            heading_path=tuple(document.get("headingPath", ())),
            start=document["start"],
            end=document["end"],
            tokens=document["tokens"],
            vector=vector_of(document["vector"], dimensions),
        )

    def indexed(self, owner: StoredDocument) -> IndexedChunk:
        return IndexedChunk(
            chunk_id(owner.key, owner.generation, self.index),
            owner.id,
            self.index,
            self.text,
            self.heading_path,
            self.start,
            self.end,
            self.tokens,
        )


def chunk_proto(chunk: IndexedChunk) -> resources_pb2.Chunk:
    return resources_pb2.Chunk(
        document_id=chunk.document_id,
        index=chunk.index,
        text=chunk.text,
        heading_path=chunk.heading_path,
        start_offset=chunk.start,
        end_offset=chunk.end,
        token_count=chunk.tokens,
    )


# --- jobs --------------------------------------------------------------------------------------


JobRecord = dict[str, Any]
"""A job's stored state (its progress fields are set one patch at a time)."""


def new_job(job_id: str, collection_id: str, total: int, now: str, lease_until: str) -> JobRecord:
    return {
        "id": job_id,
        "collectionId": collection_id,
        "state": "queued",
        "total": total,
        "done": 0,
        "unchanged": 0,
        "embeddedChunks": 0,
        "error": "",
        "cancelRequested": False,
        "leaseUntil": lease_until,
        "createTime": now,
        "updateTime": now,
    }


def job_from_document(document: Document, *, now: str) -> resources_pb2.Job:
    state = document["state"]
    error = document.get("error", "")
    if state not in FINISHED and document.get("leaseUntil", "") < now:
        # The process running it stopped without finishing: what it indexed stays indexed.
        state, error = "failed", "interrupted: the process running the job stopped"
    job = resources_pb2.Job(
        id=document["id"],
        collection_id=document["collectionId"],
        state=JOB_STATES[state],
        total_documents=document["total"],
        done_documents=document["done"],
        unchanged_documents=document["unchanged"],
        embedded_chunks=document["embeddedChunks"],
        error=error,
    )
    fill_timestamp(job.create_time, document["createTime"])
    fill_timestamp(job.update_time, document["updateTime"])
    return job
