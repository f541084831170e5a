"""Schemathesis over Secret Management, the AI Service and the Notification Manager
(tests/integration/schemathesis_run.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.schemathesis_run import cheap_password_hashing, fuzz

__all__ = ["cheap_password_hashing"]  # the module's autouse fixture


@pytest.mark.timeout(900)
async def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    edge_url: str, tmp_path: Path
) -> None:
    await fuzz(edge_url, tmp_path, "secret-ai-notification")
