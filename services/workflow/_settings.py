"""Settings of the workflow service, read from `CODER_WORKFLOW_*` environment variables.

They live here rather than in the kit's Settings because only this service reads them.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkflowSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODER_WORKFLOW_", env_file=".env", extra="ignore")

    http_hosts: tuple[str, ...] = Field(
        (),
        description="Hosts (`name` or `name:port`) an HTTP call step may reach; none by "
        "default, so a definition reaches no network until an operator allows it.",
    )
