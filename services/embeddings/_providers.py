"""Which embedder a collection uses: a local model, or the AI Service's CreateEmbeddings
(an OpenAI-compatible API behind the AI Service's registry, credentials and metering)."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
import numpy as np

from coder.ai.v1 import ai_service_pb2, ai_service_pb2_grpc
from coder.events.v1 import event_pb2
from services.embeddings._models import Embedded, Embedder, LocalModels
from services.kit import FailedPrecondition, NotFound, Peers, domain_error

AI_BATCH = 256
"""Texts per CreateEmbeddings call (the AI Service takes up to 2,048)."""


class AIServiceEmbedder:
    """Embeds through the AI Service with the caller's token, or on behalf of the event that
    started a job."""

    def __init__(
        self,
        peers: Peers,
        model: str,
        dimensions: int,
        on_behalf_of: event_pb2.Event | None = None,
    ) -> None:
        self._peers = peers
        self._model = model
        self._dimensions = dimensions
        self._on_behalf_of = on_behalf_of

    async def embed(self, texts: Sequence[str]) -> Embedded:
        stub = await self._peers.stub(
            ai_service_pb2_grpc.AiServiceStub, on_behalf_of=self._on_behalf_of
        )
        vectors = np.zeros((len(texts), self._dimensions), dtype=np.float32)
        tokens = 0
        for begin in range(0, len(texts), AI_BATCH):
            batch = list(texts[begin : begin + AI_BATCH])
            request = ai_service_pb2.CreateEmbeddingsRequest(
                model=self._model, inputs=batch, dimensions=self._dimensions
            )
            try:
                reply = await stub.CreateEmbeddings(request)
            except grpc.aio.AioRpcError as error:
                refusal = domain_error(error)
                if isinstance(refusal, NotFound):
                    # The collection exists; the model it names is what the AI Service lacks.
                    raise FailedPrecondition(
                        f"collection model {self._model!r}: {refusal}", reason=refusal.reason
                    ) from None
                raise refusal from None
            for embedding in reply.embeddings:
                if len(embedding.values) != self._dimensions or not 0 <= embedding.index < len(
                    batch
                ):
                    raise FailedPrecondition(
                        f"model {self._model!r} returned a vector of {len(embedding.values)} "
                        f"dimensions; the collection has {self._dimensions}",
                        reason="MODEL_DIMENSIONS_CHANGED",
                    )
                vectors[begin + embedding.index] = embedding.values
            tokens += reply.usage.input_tokens
        return Embedded(vectors, tokens, [0] * len(texts))


class Embedders:
    """The embedder of each collection: by provider and model."""

    def __init__(self, models: LocalModels, peers: Peers) -> None:
        self.models = models
        self._peers = peers

    def for_collection(
        self,
        provider: str,
        model: str,
        dimensions: int,
        on_behalf_of: event_pb2.Event | None = None,
    ) -> Embedder:
        if provider == "local":
            return self.models.get(model)
        return AIServiceEmbedder(self._peers, model, dimensions, on_behalf_of)
