"""`coder dev` as a user runs it: a real process, health SERVING for every hosted service, a
first-run owner account whose one-time password signs in with `coder login`, the edge serving
REST and OpenAPI beside gRPC, and a clean exit on SIGTERM; a supervised companion restarted
after a kill -9, a missing optional one in the banner, and every child gone after Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
import pytest

from coder.planning.v1 import planning_service_pb2 as pb
from coder.planning.v1 import planning_service_pb2_grpc, project_pb2
from tests.cli.processes import PYTHON, Output, alive, free_port, http_server, pids, wait_until

CODER = [sys.executable, "-m", "cli"]


def read_until(process: subprocess.Popen[str], pattern: re.Pattern[str], within: float) -> str:
    """Read the process's output until `pattern` matches; the first group is returned.

    Reads the pipe's file descriptor directly: a text wrapper would buffer lines ahead of
    what `select` can see.
    """
    assert process.stdout is not None
    descriptor = process.stdout.fileno()
    selector = selectors.DefaultSelector()
    selector.register(descriptor, selectors.EVENT_READ)
    seen = ""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if selector.select(timeout=0.5):
            chunk = os.read(descriptor, 65536).decode()
            if not chunk:
                break
            seen += chunk
            found = pattern.search(seen)
            if found:
                return found.group(1)
    raise AssertionError(f"no match for {pattern.pattern!r} in:\n{seen}")


@pytest.mark.timeout(180)
def test_dev_serves_every_service_and_drains_on_sigterm(tmp_path: Path) -> None:
    port, edge_port = free_port(), free_port()
    env = {
        **os.environ,
        "CODER_DATA_DIR": str(tmp_path / ".coder"),
        "CODER_LOG_LEVEL": "warning",
        "CODER_DEV_TEMPORAL_PORT": str(free_port()),
    }
    env.pop("CODER_STORE_URL", None)
    env.pop("CODER_TEMPORAL_URL", None)
    server = subprocess.Popen(
        [*CODER, "dev", "--port", str(port), "--edge-port", str(edge_port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        health = subprocess.run(
            [*CODER, "health", "--target", f"127.0.0.1:{port}", "--wait", "90"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert health.returncode == 0, health.stdout + health.stderr
        assert "coder.planning.v1.PlanningService: SERVING" in health.stdout

        password = read_until(server, re.compile(r"password: (\S+)"), within=40)
        token = subprocess.run(
            [
                *CODER,
                "login",
                "--target",
                f"127.0.0.1:{port}",
                "--email",
                "owner@coder.localhost",
                "--password-stdin",
            ],
            input=password + "\n",
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = planning_service_pb2_grpc.PlanningServiceStub(channel)
            created = stub.CreateProject(
                pb.CreateProjectRequest(project=project_pb2.Project(name="from the cli test")),
                metadata=(("authorization", f"Bearer {token.stdout.strip()}"),),
                timeout=10,
            )
        assert created.project.organization_id
        edge = f"http://127.0.0.1:{edge_port}"
        bearer = {"authorization": f"Bearer {token.stdout.strip()}"}
        listed = httpx.get(f"{edge}/api/v1/planning/projects", headers=bearer, timeout=10)
        assert listed.status_code == 200, listed.text
        assert [p["name"] for p in listed.json()["projects"]] == ["from the cli test"]
        assert httpx.get(f"{edge}/openapi.json", timeout=10).json()["openapi"].startswith("3.1")
        assert (tmp_path / ".coder" / "coder.db").exists()
        assert (tmp_path / ".coder" / "dev-account.json").exists()
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output


@pytest.mark.timeout(90)
def test_dev_restarts_a_killed_companion_and_stops_every_child_on_ctrl_c(tmp_path: Path) -> None:
    port, edge_port, web_port = free_port(), free_port(), free_port()
    record = tmp_path / "web.pids"
    declared = [
        {
            "name": "web",
            "command": [PYTHON, str(http_server(tmp_path)), str(web_port), str(record)],
            "health": f"http://127.0.0.1:{web_port}/",
        },
        {"name": "absent", "command": "no-such-program-for-coder-tests", "optional": True},
    ]
    env = {
        **os.environ,
        "CODER_DATA_DIR": str(tmp_path / ".coder"),
        "CODER_LOG_LEVEL": "warning",
        "CODER_DEV_COMPANIONS": json.dumps(declared),
        "CODER_DEV_TEMPORAL_PORT": str(free_port()),
    }
    env.pop("CODER_STORE_URL", None)
    server = subprocess.Popen(
        [*CODER, "dev", "--port", str(port), "--edge-port", str(edge_port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = Output(server)
    try:
        banner = output.wait_for(r"coder: companions\n(.*)\n(.*)\n(.*)\n(.*)\n", within=60)
        first = pids(record)[0]
        assert banner.group(1).startswith(
            f"  - temporal: running on 127.0.0.1:{env['CODER_DEV_TEMPORAL_PORT']} (pid "
        )
        # Run outside the repository, the built-in UI has no ui/ folder to run from.
        assert banner.group(2) == "  - ui: missing (directory ui does not exist)"
        assert banner.group(3) == f"  - web: running on http://127.0.0.1:{web_port} (pid {first})"
        assert banner.group(4) == (
            "  - absent: missing (no-such-program-for-coder-tests not found on PATH)"
        )
        output.wait_for(re.escape("coder: the web UI is not running (directory ui does not exist)"))
        assert f"[web] hello from {first}" in output.text

        os.kill(first, signal.SIGKILL)
        wait_until(lambda: len(pids(record)) == 2)
        second = pids(record)[1]
        output.wait_for(
            re.escape(f"[web] coder: running on http://127.0.0.1:{web_port} (pid {second})")
        )
        assert httpx.get(f"http://127.0.0.1:{web_port}/", timeout=5).status_code == 200
        assert "[web] coder: killed by SIGKILL; restarting in" in output.text
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    text = output.close()
    assert server.returncode == 0, text
    assert "[web] coder: stopped (killed by SIGTERM)" in text
    wait_until(lambda: not any(alive(pid) for pid in pids(record)), within=5)
