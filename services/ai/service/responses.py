"""The exact-match response cache: an answer kept for a while under a digest of everything
that shaped it (organization, chain, messages and options), in the kit cache (Redis in
distributed mode). Only requests that ask for it (`cache: true`) read or fill it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from coder.ai.v1 import ai_service_pb2 as api
from coder.ai.v1 import resources_pb2
from services.kit.cache import Cache


def cache_key(
    organization: str,
    models: Sequence[str],
    messages: Sequence[resources_pb2.Message],
    options: api.ChatOptions,
) -> str:
    digest = hashlib.sha256()
    for part in (organization, "\0".join(models)):
        digest.update(part.encode())
        digest.update(b"\0")
    for message in messages:
        body = message.SerializeToString(deterministic=True)
        digest.update(len(body).to_bytes(8, "big"))
        digest.update(body)
    digest.update(options.SerializeToString(deterministic=True))
    return f"ai:response:{digest.hexdigest()}"


class ResponseCache:
    def __init__(self, cache: Cache, ttl: float) -> None:
        self._cache = cache
        self._ttl = ttl

    async def get(self, key: str) -> api.CreateChatCompletionResponse | None:
        raw = await self._cache.get(key)
        if raw is None:
            return None
        return api.CreateChatCompletionResponse.FromString(raw)

    async def put(self, key: str, response: api.CreateChatCompletionResponse) -> None:
        await self._cache.set(key, response.SerializeToString(), ttl=self._ttl)
