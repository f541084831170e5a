"""Schemathesis over every operation no other `test_schemathesis_*` module fuzzes: the
front door (sign-in, sessions), identity, planning, ops and services without a group of
their own yet (tests/integration/schemathesis_run.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.schemathesis_run import REST_OF_THE_API, cheap_password_hashing, fuzz

__all__ = ["cheap_password_hashing"]  # the module's autouse fixture


@pytest.mark.timeout(900)
async def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    edge_url: str, tmp_path: Path
) -> None:
    await fuzz(edge_url, tmp_path, REST_OF_THE_API)
