"""A 150 MB body to `/auth/login` is refused with 413 while the edge's memory stays where it
was: `coder edge` in its own process, its resident set read from /proc before and after."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.edge.conftest import free_socket

ROOT = Path(__file__).resolve().parents[2]
BODY_BYTES = 150 * 1024 * 1024
GROWTH_LIMIT_BYTES = 4 * 1024 * 1024

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")


def resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def edge_process() -> Iterator[tuple[int, int]]:
    """`coder edge` on a free port (no service behind it: a refused body never needs one);
    yields its pid and port."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    environment = {
        **os.environ,
        "CODER_EDGE_PORT": str(port),
        "CODER_EDGE_PEER_HOST": "127.0.0.1",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "CODER_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "edge"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the edge exited while starting"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert time.monotonic() < deadline, "the edge did not start listening"
            time.sleep(0.05)
        yield process.pid, port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def send_huge_body(port: int, *, chunked: bool) -> bytes:
    """POST 150 MB to /auth/login, reading the answer while sending; the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    framing = (
        "transfer-encoding: chunked" if chunked else f"content-length: {BODY_BYTES}"
    ).encode()
    writer.write(
        b"POST /auth/login HTTP/1.1\r\nhost: edge\r\ncontent-type: application/json\r\n"
        + framing
        + b"\r\n\r\n"
    )
    piece = b"7" * (1024 * 1024)
    if chunked:
        piece = b"%x\r\n" % len(piece) + piece + b"\r\n"

    async def send() -> None:
        with contextlib.suppress(ConnectionError):
            for _ in range(BODY_BYTES // (1024 * 1024)):
                writer.write(piece)
                await writer.drain()

    sending = asyncio.create_task(send())
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        answer = head + await asyncio.wait_for(reader.readexactly(length), 30)
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        writer.close()
    return answer


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_150_mb_login_body_is_413_without_the_edge_growing(
    edge_process: tuple[int, int], chunked: bool
) -> None:
    pid, port = edge_process
    # Warm up the very path (imports, buffers) so the baseline holds what a refusal needs.
    for _ in range(3):
        assert b" 413 " in await send_huge_body(port, chunked=chunked)
    baseline = resident_bytes(pid)
    answer = await send_huge_body(port, chunked=chunked)
    grown = resident_bytes(pid) - baseline
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b'"reason":"BODY_TOO_LARGE"' in answer
    assert grown < GROWTH_LIMIT_BYTES, f"the edge grew by {grown / 1e6:.1f} MB"
