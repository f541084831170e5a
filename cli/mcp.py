"""`coder mcp`: the platform's MCP gateway over stdio, for local agents (an MCP client that
starts its servers as child processes). The token is an access token (`coder login`), read
from `CODER_TOKEN` so it never shows in a process list."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from services.kit import EMBEDDED_GRPC_PORT
from services.mcp.protocol import serve_stdio


def mcp_command(options: argparse.Namespace) -> int:
    token = os.environ.get("CODER_TOKEN", "").strip()
    if not token:
        print("coder mcp: set CODER_TOKEN to an access token (`coder login`)", file=sys.stderr)
        return 2
    target = options.target or f"127.0.0.1:{EMBEDDED_GRPC_PORT}"
    asyncio.run(serve_stdio(target, token))
    return 0
