"""Settings of the AI service, read from `CODER_AI_*` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODER_AI_", env_file=".env", extra="ignore")

    attempt_timeout_seconds: float = Field(
        60.0, gt=0, description="Deadline of one attempt at a provider, unless it sets its own."
    )
    max_retries: int = Field(
        1, ge=0, le=5, description="Further tries at the same model after a retryable failure."
    )
    max_retry_wait_seconds: float = Field(
        5.0,
        ge=0,
        description="Longest Retry-After honoured by waiting; a longer one falls back at once "
        "and cools the model down for that long.",
    )
    cool_down_seconds: float = Field(
        30.0, gt=0, description="How long a failing model is skipped by routing."
    )
    cache_ttl_seconds: float = Field(
        3600.0, gt=0, description="How long a cached answer is served (requests with cache)."
    )
    credential_ttl_seconds: float = Field(
        60.0, gt=0, description="How long a provider key read from Secret Management is kept."
    )
    # At most one unit per microsecond: the limiter's resolution.
    organization_requests_per_minute: int = Field(600, ge=1, le=60_000_000)
    organization_tokens_per_minute: int = Field(2_000_000, ge=1, le=60_000_000)
    user_requests_per_minute: int = Field(120, ge=1, le=60_000_000)
    user_tokens_per_minute: int = Field(400_000, ge=1, le=60_000_000)
    quota_check: bool = Field(
        True, description="Ask Usage Tracking's CheckQuota before every provider call."
    )
