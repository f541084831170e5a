"""The web UI end to end, in Debian's Chromium against one real `coder dev`
(ui/e2e/run.mjs): sign-in, a project on the board, live changes between two members, the
conflict dialog, field violations, revoking a session; a prompt edited with a render preview
and diffed side by side, labels and an experiment, a shared prompt overridden and a version
deleted through its confirmation; a secret stored, masked and revealed with a reason that lands
in the audit, moved to a project, exported as a bundle that imports back, the keys rewrapped;
sign-in through OpenID Connect at a real provider process; a provider and model registered with
it, the playground streaming from the AI tests' local model server, the usage and a quota's
alerts; a task assigned through REST reaching the assignee's open inbox live (bell count, item,
mark read), notification preferences and defaults kept, a webhook endpoint's signed test
delivery in its log (the run's own loopback receiver), a template preview; a knowledge page
created, edited with a live preview, a revision diffed and restored and the page found by
search, the page tree (a child, trash and restore, move); an external MCP server (tests/mcp's)
registered and its tool tried through a form made from its schema, a collection created and
listed; accessibility.
Screenshots of the main pages in light and dark land in ui/e2e/.out/."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.ai.providers import LocalProvider
from tests.mcp.external import External
from tests.ui.conftest import CHROMIUM, ROOT, UI, Suite

OUT = UI / "e2e" / ".out"


# The budget covers the session fixtures too: `npm run build` and starting coder dev.
@pytest.mark.timeout(1200)
def test_the_web_ui_end_to_end(
    suite: Suite, model_provider: LocalProvider, mcp_server: External
) -> None:
    if not CHROMIUM.exists():
        # As with Redis and RabbitMQ: skipped on a laptop, a failure under CI.
        message = f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    run = subprocess.run(
        ["node", str(UI / "e2e" / "run.mjs")],
        cwd=ROOT,
        env={
            **os.environ,
            "UI_URL": suite.ui_url,
            "EDGE_URL": suite.edge_url,
            "OWNER_EMAIL": suite.owner_email,
            "OWNER_PASSWORD": suite.owner_password,
            "OUT_DIR": str(OUT),
            "PROVIDER_URL": model_provider.openai_url,
            "MCP_URL": mcp_server.url,
            "OIDC_ISSUER": suite.oidc_issuer,
        },
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report + "\n--- coder dev ---\n" + suite.output.text[-6000:]
    assert "e2e: 20 passed, 0 failed" in run.stdout, report
    for page in (
        "sign-in",
        "board",
        "list",
        "task-drawer",
        "sessions",
        "settings-organization-members",
        "prompt-diff",
        "prompt-override",
        "prompt-delete-version",
        "secret-reveal",
        "secret-export",
        "secret-keys",
        "ai-playground",
        "usage-alerts",
        "notifications-inbox",
        "notification-bell",
        "notification-preferences",
        "notification-webhook",
        "notification-templates",
        "knowledge-editor",
        "knowledge-revisions",
        "knowledge-search",
        "mcp-try-tool",
        "embeddings-collections",
    ):
        for theme in ("light", "dark"):
            assert (OUT / f"{page}-{theme}.png").stat().st_size > 0
