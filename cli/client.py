"""`coder health` and `coder login`: commands that talk to a running suite over gRPC."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services import catalog
from services.kit import EMBEDDED_GRPC_PORT


async def _check(target: str, names: list[str], wait: float) -> bool:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            statuses: dict[str, str] = {}
            for name in names:
                try:
                    reply = await stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=2)
                    statuses[name] = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
                except grpc.aio.AioRpcError as error:
                    statuses[name] = error.code().name
            healthy = all(status == "SERVING" for status in statuses.values())
            if healthy or asyncio.get_running_loop().time() >= deadline:
                for name, status in statuses.items():
                    print(f"{name or '(server)'}: {status}")
                return healthy
            await asyncio.sleep(0.5)


def health_command(options: argparse.Namespace) -> int:
    """Exit 0 when the server and every (or `--domain`'s) service answers SERVING."""
    names = ["", "coder.ops.v1.OpsService"]
    for definition in catalog.load_all():
        if options.domain in (None, definition.domain):
            names += list(definition.service_names)
    target = options.target or f"127.0.0.1:{EMBEDDED_GRPC_PORT}"
    return 0 if asyncio.run(_check(target, names, options.wait)) else 1


async def _login(target: str, email: str, password: str, organization_id: str) -> str:
    from coder.identity.v1 import identity_service_pb2 as identity
    from coder.identity.v1 import identity_service_pb2_grpc

    async with grpc.aio.insecure_channel(target) as channel:
        stub = identity_service_pb2_grpc.IdentityServiceStub(channel)
        reply = await stub.Login(
            identity.LoginRequest(
                email=email,
                password=password,
                organization_id=organization_id,
                device_label="coder login",
            ),
            timeout=30,
        )
    return str(reply.result.access_token)


def login_command(options: argparse.Namespace) -> int:
    """Sign in with a password (prompted, or one line of stdin) and print the access token."""
    if options.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {options.email}: ")
    target = options.target or f"127.0.0.1:{EMBEDDED_GRPC_PORT}"
    try:
        token = asyncio.run(_login(target, options.email, password, options.org or ""))
    except grpc.aio.AioRpcError as error:
        print(f"coder: sign-in refused: {error.details()}", file=sys.stderr)
        return 1
    print(token)
    return 0
