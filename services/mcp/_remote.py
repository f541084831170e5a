"""Calls to external MCP servers over streamable HTTP, with the official SDK's client: one
connection per operation (discovery or a tool call), bounded by a timeout, the server's
credential as the bearer token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import mcp_types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from services.kit import DeadlineExceeded, FieldViolation, InvalidArgument, Unavailable

LOOPBACK = ("127.0.0.1", "localhost", "::1")
TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
"""Server-side tool names the gateway can offer as `<server>.<tool>`; others are skipped."""


def check_url(url: str, field: str) -> None:
    """An https URL, or http to a loopback host (a server on this machine), without
    credentials in it (those belong in Secret Management)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in ("http", "https"):
        problem = "must be an absolute http(s) URL"
    elif parts.scheme == "http" and host not in LOOPBACK:
        problem = "must use https (http only to a loopback host)"
    elif parts.username or parts.password:
        problem = "must not carry credentials; name a secret in credential_secret_id"
    else:
        return
    raise InvalidArgument(f"{field} is invalid", violations=[FieldViolation(field, problem)])


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to reach one server."""

    url: str
    token: str
    timeout: float


@asynccontextmanager
async def _connected(endpoint: Endpoint) -> AsyncIterator[Client]:
    headers = {"authorization": f"Bearer {endpoint.token}"} if endpoint.token else {}
    http = create_mcp_http_client(headers=headers, timeout=httpx2.Timeout(endpoint.timeout))
    async with http, Client(streamable_http_client(endpoint.url, http_client=http)) as client:
        yield client


async def discover(endpoint: Endpoint) -> list[mcp_types.Tool]:
    """Every tool the server lists (all pages), within the endpoint's timeout."""
    try:
        with anyio.fail_after(endpoint.timeout):
            async with _connected(endpoint) as client:
                tools: list[mcp_types.Tool] = []
                cursor: str | None = None
                while True:
                    page = await client.list_tools(cursor=cursor, cache_mode="refresh")
                    tools.extend(page.tools)
                    cursor = page.next_cursor
                    if not cursor:
                        return tools
    except TimeoutError:
        raise DeadlineExceeded(
            f"the server did not list its tools within {endpoint.timeout:g} s",
            reason="SERVER_TIMEOUT",
        ) from None
    except Exception as error:
        raise Unavailable(
            f"the server could not be reached: {_describe(error)}", reason="SERVER_UNAVAILABLE"
        ) from error


async def call(
    endpoint: Endpoint, tool: str, arguments: dict[str, Any]
) -> mcp_types.CallToolResult:
    """Call one tool on the server, within the endpoint's timeout."""
    try:
        with anyio.fail_after(endpoint.timeout):
            async with _connected(endpoint) as client:
                return await client.call_tool(tool, arguments)
    except TimeoutError:
        raise DeadlineExceeded(
            f"the tool did not answer within {endpoint.timeout:g} s", reason="TOOL_TIMEOUT"
        ) from None
    except Exception as error:
        raise Unavailable(
            f"the server could not be reached: {_describe(error)}", reason="SERVER_UNAVAILABLE"
        ) from error


def _describe(error: BaseException) -> str:
    """The innermost message of an error (anyio wraps a task's failure in groups)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return str(error) or type(error).__name__
