"""Web UI benchmark: first-load JS per route (gzipped, as Chromium loads it) and the board's time
to interactive with 500 tasks beside the same board with 50, in one run.

    .venv/bin/python scripts/bench/ui.py [--runs 5]

Builds nothing: run `make ui-build` first (`make bench-ui` does). Starts one `coder dev` on free
ports with its state in a temporary folder, then `node ui/e2e/bench.mjs`, which seeds the two
projects through the edge, signs in through the UI in Debian's Chromium and prints the tables
for docs/benchmarks.md. Time to interactive: from the navigation's start until every card is
on the board and a `j` press has focused one (the board answers the keyboard).
Goals (issue 8): the board's first-load JS <= 180 kB gzipped; 500 tasks interactive <= 1.0 s.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UI = ROOT / "ui"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    if not (UI / ".next" / "BUILD_ID").exists():
        sys.exit("the UI is not built: run `make ui-build`")
    port, edge_port, ui_port = free_port(), free_port(), free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {
            **os.environ,
            "CODER_DATA_DIR": data,
            "CODER_LOG_LEVEL": "warning",
            "CODER_DEV_UI_PORT": str(ui_port),
            "CODER_DEV_TEMPORAL_PORT": str(free_port()),
            "CODER_EDGE_API_USER_LIMIT": "100000",
            "CODER_EDGE_API_ORGANIZATION_LIMIT": "100000",
            "NO_COLOR": "1",
        }
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "dev",
                "--port",
                str(port),
                "--edge-port",
                str(edge_port),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        seen: list[str] = []
        password = ""
        for line in process.stdout:
            seen.append(line)
            if found := re.search(r"password: (\S+)", line):
                password = found.group(1)
            if "coder: open http" in line or "web UI is not running" in line:
                break
        # Keep reading, so coder dev never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in process.stdout or ()], daemon=True).start()
        try:
            if not password or "web UI is not running" in seen[-1]:
                sys.exit("".join(seen))
            subprocess.run(
                ["node", str(UI / "e2e" / "bench.mjs")],
                cwd=ROOT,
                env={
                    **os.environ,
                    "UI_URL": f"http://127.0.0.1:{ui_port}",
                    "EDGE_URL": f"http://127.0.0.1:{edge_port}",
                    "OWNER_EMAIL": "owner@coder.localhost",
                    "OWNER_PASSWORD": password,
                    "RUNS": str(options.runs),
                },
                check=True,
            )
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
