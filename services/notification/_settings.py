"""Settings of the notification service, read from `CODER_NOTIFICATION_*` environment variables.

They live here rather than in the kit's Settings because only this service reads them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotificationSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CODER_NOTIFICATION_", env_file=".env", extra="ignore"
    )

    consumer_prefix: str = Field(
        "notification",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
        description="Prefix of the durable queues the service consumes from, "
        "`<prefix>-<domain>`; deployments sharing one broker give each its own.",
    )
    ui_base_url: str = Field(
        "http://localhost:3000",
        description="Where the web UI is served: action links and List-Unsubscribe point there.",
    )

    smtp_host: str = Field("", description="SMTP server; empty turns the email channel off.")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        "starttls", description="`tls`: TLS from the start (465); `starttls`: upgrade after EHLO."
    )
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = Field("Coder <notifications@localhost>", description="The From header.")
    smtp_timeout_seconds: float = Field(15.0, gt=0)
    smtp_ca_file: str = Field(
        "", description="CA bundle the SMTP server's certificate is checked with."
    )

    sweep_interval_seconds: float = Field(
        1.0,
        gt=0,
        description="How often stored timers (retries, held and digest deliveries, "
        "escalations) are looked at.",
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    webhook_max_attempts: int = Field(
        8, ge=1, le=30, description="Attempts of one webhook delivery before it is given up."
    )
    webhook_base_delay_seconds: float = Field(
        5.0, gt=0, description="Delay before the first retry; each next one doubles (jittered)."
    )
    webhook_max_delay_seconds: float = Field(3600.0, gt=0)
    webhook_disable_after: int = Field(
        5, ge=1, description="Failed attempts in a row after which an endpoint is disabled."
    )
    email_max_attempts: int = Field(5, ge=1, le=30)
    dedup_seconds: int = Field(
        300,
        ge=0,
        description="A second notification of the same type about the same subject "
        "to the same person within this window is dropped.",
    )
    escalation_seconds: int = Field(
        900,
        ge=1,
        description="An unread critical notification is escalated after this long: "
        "to email first, then to the organization's admins.",
    )
