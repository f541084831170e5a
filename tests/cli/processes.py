"""Helpers of the cli tests: free ports, small Python programs written by a test to run as
companions, process liveness, and polling a condition with a deadline."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def program(directory: Path, name: str, source: str) -> Path:
    """Write a Python program to `directory/name.py` and return its path."""
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def http_server(directory: Path) -> Path:
    """`python http_server.py PORT PIDS`: appends its pid to PIDS, says hello, serves HTTP 200."""
    return program(
        directory,
        "http_server",
        """
        import http.server, os, sys

        class Ok(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        port, pids = int(sys.argv[1]), sys.argv[2]
        with open(pids, "a") as out:
            out.write(f"{os.getpid()}\\n")
        server = http.server.HTTPServer(("127.0.0.1", port), Ok)
        print(f"hello from {os.getpid()}", flush=True)
        server.serve_forever()
        """,
    )


def pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie counts as gone). Linux: reads /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def eventually(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Return once `condition()` holds; AssertionError after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.05)


def wait_until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """`eventually` for synchronous tests."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        time.sleep(0.05)


class Output:
    """Collects a process's stdout on a thread, so a test can poll it while doing other
    things without the pipe filling up."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        self._descriptor = process.stdout.fileno()
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        # The descriptor itself: a buffered read would wait to fill its buffer.
        while chunk := os.read(self._descriptor, 65536):
            self._chunks.append(chunk)

    @property
    def text(self) -> str:
        return b"".join(self._chunks).decode(errors="replace")

    def wait_for(self, pattern: str, within: float = 30.0) -> re.Match[str]:
        """The first match of `pattern` in the output; AssertionError with the output after
        `within` seconds."""
        deadline = time.monotonic() + within
        while (found := re.search(pattern, self.text)) is None:
            if time.monotonic() > deadline or not self._thread.is_alive():
                found = re.search(pattern, self.text)
                if found is not None:
                    return found
                raise AssertionError(f"no match for {pattern!r} in:\n{self.text}")
            time.sleep(0.05)
        return found

    def close(self, within: float = 10.0) -> str:
        """Wait for the end of the output (the process has exited) and return all of it."""
        self._thread.join(within)
        return self.text
