"""Settings of the knowledge service, read from `CODER_KNOWLEDGE_*` environment variables.

They live here rather than in the kit's Settings because only this service reads them.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KnowledgeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CODER_KNOWLEDGE_", env_file=".env", extra="ignore"
    )

    semantic: bool = Field(
        True,
        description="Whether pages are indexed in, and searched by meaning through, the "
        "Embeddings service (hosted in the same process or reached as a peer). Off, search "
        "is full text only and SEARCH_MODE_SEMANTIC is refused.",
    )
    consumer: str = Field(
        "knowledge-semantic-index",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
        description="The durable queue of the consumer that keeps the semantic index; "
        "deployments sharing one broker give each its own.",
    )
