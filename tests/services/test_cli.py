"""`coder dev` as a user runs it: a real process, health SERVING for every hosted service, a
token minted by `coder token` accepted, and a clean exit on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from coder.planning.v1 import planning_service_pb2 as pb
from coder.planning.v1 import planning_service_pb2_grpc, project_pb2

CODER = [sys.executable, "-m", "services.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.timeout(60)
def test_dev_serves_every_service_and_drains_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CODER_DATA_DIR": str(tmp_path / ".coder"), "CODER_LOG_LEVEL": "warning"}
    env.pop("CODER_STORE_URL", None)
    server = subprocess.Popen(
        [*CODER, "dev", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        health = subprocess.run(
            [*CODER, "health", "--target", f"127.0.0.1:{port}", "--wait", "20"],
            env=env,
            capture_output=True,
            text=True,
            timeout=40,
            check=False,
        )
        assert health.returncode == 0, health.stdout + health.stderr
        assert "coder.planning.v1.PlanningService: SERVING" in health.stdout

        token = subprocess.run(
            [*CODER, "token", "--org", "dev-org", "--sub", "dev-user", "--role", "owner"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = planning_service_pb2_grpc.PlanningServiceStub(channel)
            created = stub.CreateProject(
                pb.CreateProjectRequest(project=project_pb2.Project(name="from the cli test")),
                metadata=(("authorization", f"Bearer {token}"),),
                timeout=10,
            )
        assert created.project.organization_id == "dev-org"
        assert (tmp_path / ".coder" / "coder.db").exists()
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert f"gRPC listening on 127.0.0.1:{port}" in output
