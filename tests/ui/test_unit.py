"""The web UI's unit tests (Vitest + Testing Library), run as part of `make test`."""

from __future__ import annotations

import pytest

from tests.ui.conftest import npm, require_ui_dependencies


@pytest.mark.timeout(300)
def test_the_ui_unit_tests_pass() -> None:
    require_ui_dependencies()
    run = npm("test", timeout=280)
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-4000:]
    assert " passed" in run.stdout
