"""Settings of the MCP service, read from `CODER_MCP_*` environment variables.

They live here rather than in the kit's Settings because only this service reads them.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class McpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODER_MCP_", env_file=".env", extra="ignore")

    tool_timeout_seconds: float = Field(
        30.0,
        gt=0,
        le=300,
        description="How long a tool call may take when its server names no timeout (and "
        "how long a platform tool's RPC may take), within the caller's own deadline.",
    )
    discovery_timeout_seconds: float = Field(
        15.0, gt=0, le=300, description="How long a refresh may wait for a server's tool list."
    )
    calls_per_minute: int = Field(
        120,
        ge=1,
        description="Tool calls one caller may make per minute in an organization (GCRA, "
        "shared by every replica through the cache backend).",
    )
