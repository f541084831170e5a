"""Settings of the usage service, read from `CODER_USAGE_*` environment variables.

They live here rather than in the kit's Settings because only this service reads them.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class UsageSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODER_USAGE_", env_file=".env", extra="ignore")

    retention_days: int = Field(
        400,
        ge=1,
        description="How long usage records, hourly buckets and alerts are kept; daily and "
        "monthly aggregates are kept for good.",
    )

    consumer_prefix: str = Field(
        "usage",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
        description="Prefix of the durable queues the service consumes from, "
        "`<prefix>-<domain>`; deployments sharing one broker give each its own.",
    )

    consumers: int = Field(
        4,
        ge=1,
        le=64,
        description="Consumers per queue in this process. The bus lets each hold one prefetch "
        "of unacknowledged events, and an event is acknowledged only once recorded, so more "
        "consumers mean more events per atomic write.",
    )

    @property
    def retention_seconds(self) -> int:
        return self.retention_days * 86_400
