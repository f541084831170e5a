"""The HTTP server under the edge: uvicorn, configured once for every way the edge runs
(`coder edge`, `coder dev`, the tests), with an HTTP/1.1 protocol that bounds a request's head.

- `proxy_headers` is always off: uvicorn would otherwise rewrite the client address from
  `X-Forwarded-For` for any peer in `FORWARDED_ALLOW_IPS` (loopback by default) before the
  edge sees the request. Which proxies count is the front door's decision alone
  (`CODER_EDGE_TRUSTED_PROXIES`, `edge.proxies`).
- The head (request line and header fields) is limited while it is parsed: a target over
  `url_bytes_limit` is 414, a head over `header_bytes_limit` or with a field over its limit
  is 431, and a head still incomplete `header_timeout_seconds` after it began is 408. Each
  answer is the edge's error body, and the connection is closed. uvicorn's own plain-text 400
  for an unparsable request becomes the error body too.
- A connection closed while the client is still sending (a 413 before the body was read) is
  closed *lingering*, as nginx does: the write side is shut after the answer, what still
  arrives is read and dropped for up to `LINGER_SECONDS`, then the socket closes. Closing at
  once would make the kernel reset the connection, and a reset can destroy the answer before
  the client read it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from google.rpc import code_pb2
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from edge.errors import EdgeRefusal, edge_status
from edge.frontdoor import HeadLimits, SecurityHeaders, error_message, head_refusal
from edge.gateway import request_id_of
from edge.settings import EdgeSettings
from services.kit import new_id


def _response(refused: EdgeRefusal, request_id: str, security: SecurityHeaders) -> bytes:
    status, headers, body = error_message(refused, request_id)
    headers = SecurityHeaders.added(headers, security.for_scheme("http"))
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, '')}".encode()]
    lines += [name + b": " + value for name, value in headers]
    if not any(name == b"connection" for name, _ in headers):
        lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


LINGER_SECONDS = 2.0

_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
}


class _LingeringTransport:
    """The transport a request cycle writes to: `close()` lingers (see the module docstring)
    while the request is not fully received."""

    def __init__(self, protocol: EdgeHttpProtocol, transport: asyncio.Transport) -> None:
        self._protocol = protocol
        self._transport = transport

    def close(self) -> None:
        self._protocol.linger()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class EdgeHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the edge's head limits (`configure` sets them)."""

    limits: HeadLimits
    security: SecurityHeaders
    header_timeout: float

    @classmethod
    def configure(cls, settings: EdgeSettings) -> type[EdgeHttpProtocol]:
        """A protocol class bound to these settings' limits."""
        return type(
            "EdgeHttpProtocol",
            (cls,),
            {
                "limits": HeadLimits.of(settings),
                "security": SecurityHeaders(settings.hsts_seconds),
                "header_timeout": settings.header_timeout_seconds,
            },
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._head_fields = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False
        self._received = True
        self._lingering = False

    def data_received(self, data: bytes) -> None:
        if self._refused or self._lingering:
            return  # dropped: the answer is out, the connection is closing
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # httptools keeps a field until it is complete, so a head sent without its end
        # would grow without bound: count what arrived while the head was incomplete.
        if self._in_head and self._head_bytes > self.limits.total_bytes and not self._refused:
            self._refuse(
                head_refusal(
                    431, f"the request head is larger than {self.limits.total_bytes} bytes"
                )
            )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._received = False
        self._in_head = True
        self._head_fields = 0
        if not self._refused:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if not self._refused and len(self.url) > self.limits.url_bytes:
            self._refuse(
                head_refusal(
                    414,
                    f"the request target is longer than {self.limits.url_bytes} bytes",
                    "URI_TOO_LONG",
                )
            )

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._head_fields += 1
        if not self._refused and self._head_fields > self.limits.count:
            self._refuse(head_refusal(431, f"more than {self.limits.count} header fields"))

    def on_headers_complete(self) -> None:
        self._end_head()
        if self._refused:
            return
        refused = self.limits.refusal(self.headers, len(self.url))
        if refused is not None:
            self._refuse(refused)
            return
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.scope is self.scope:
            self.cycle.transport = _LingeringTransport(self, self.transport)  # type: ignore[assignment]

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._received = True
        if not self._refused:
            super().on_message_complete()

    def eof_received(self) -> None:
        if self._lingering:
            self.transport.close()

    def linger(self) -> None:
        """Close the connection, lingering when the client may still be sending."""
        if self._received or self.transport.is_closing():
            self.transport.close()
            return
        self._lingering = True
        if self.flow is not None:
            self.flow.resume_reading()  # uvicorn pauses reading while a body is unread
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_head()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        refused = EdgeRefusal(
            edge_status(code_pb2.INVALID_ARGUMENT, "the request is not valid HTTP", "INVALID_HTTP"),
            headers={"connection": "close"},
        )
        self._refuse(refused)

    def _end_head(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self._refused:
            message = f"the request head did not arrive within {self.header_timeout:g} s"
            self._refuse(head_refusal(408, message, "HEADER_TIMEOUT"))

    def _refuse(self, refused: EdgeRefusal) -> None:
        """Answer `refused` and close, without running the app."""
        self._end_head()
        self._refused = True
        if self.transport.is_closing():
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in (self.headers or ())
            if name == b"x-request-id"
        }
        request_id = request_id_of(headers) if headers else new_id()
        self.transport.write(_response(refused, request_id, self.security))
        self.linger()


def server_config(app: Any, settings: EdgeSettings, **options: Any) -> uvicorn.Config:
    """The uvicorn config of an edge app: the bounded protocol, no proxy-header rewriting
    (whatever `options` says), WebSocket messages no larger than a request body."""
    options.setdefault("access_log", False)  # the front door writes structured lines
    options.setdefault("ws_max_size", settings.body_limit_bytes)
    options.setdefault("server_header", False)
    options.setdefault("host", settings.host)
    options.setdefault("port", settings.port)
    options.update(
        http=EdgeHttpProtocol.configure(settings),
        proxy_headers=False,
        forwarded_allow_ips="",
    )
    return uvicorn.Config(app, **options)
