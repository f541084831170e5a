"""SDK clients per provider and key, kept for reuse (each holds a connection pool)."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from coder.ai.v1 import resources_pb2
from services.ai._providers import ChatClient, build_client


class ClientPool:
    """One SDK client per (provider version, key digest), the least recently used dropped
    past `size`. A changed provider or rotated key gets a new client."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._clients: OrderedDict[tuple[str, str, str], ChatClient] = OrderedDict()

    def client(self, provider: resources_pb2.Provider, api_key: str) -> ChatClient:
        key = (provider.id, provider.etag, hashlib.sha256(api_key.encode()).hexdigest())
        found = self._clients.get(key)
        if found is not None:
            self._clients.move_to_end(key)
            return found
        client = build_client(provider.kind, provider.base_url, api_key, provider.api_version)
        self._clients[key] = client
        while len(self._clients) > self._size:
            self._clients.popitem(last=False)
        return client
