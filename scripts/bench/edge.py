"""Edge benchmark: one backend RPC (Planning GetTask with a valid token) driven directly over
gRPC, through the edge's REST route and through Envoy's REST route, side by side in one run.

    .venv/bin/python scripts/bench/edge.py [--seconds 10] [--concurrency 16] [--tasks 200]
                                           [--client auto|wrk|python]

Every part runs in its own process, as deployed: the Planning host (`coder serve planning`,
SQLite, in-process bus and cache), the edge (`coder edge`), Envoy (the config `coder
envoy-config` renders, with a listener rate limit too high to bite), and the load generator.
This process only starts them, seeds the tasks and serves the JWKS Envoy fetches; it is idle
while a row runs.

Load: HTTP rows use wrk (`apt-get install -y wrk` on Debian/Ubuntu, `brew install wrk` on macOS)
with a Lua script that sends the bearer token and cycles through the tasks; without wrk (or with
`--client python`) a Python client (aiohttp) in its own process does it. The gRPC row always uses
a Python grpc.aio client in its own process. All clients are closed-loop: `--concurrency` calls
in flight. Goal (issue 3): the edge at >= 80% of Envoy's requests/s, with a p99 no more than
1.5x Envoy's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from coder.planning.v1 import planning_service_pb2 as pb
from coder.planning.v1 import project_pb2, task_pb2
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from services.deploy import EnvoyOptions, render
from services.kit import SigningKey, jwks

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
ISSUER = "coder"
AUDIENCE = "coder-api"
START_SECONDS = 60.0
UNLIMITED = ("USER", "ORGANIZATION", "IP")  # the edge's per-window /api quotas


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- load clients (run as `edge.py load ...` in their own process) ------------------------------


@dataclass
class Result:
    name: str
    tool: str
    calls: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.calls / self.seconds


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


async def _closed_loop(
    call: Callable[[int], Awaitable[bool]], seconds: float, concurrency: int
) -> tuple[int, int, float, list[float]]:
    """`concurrency` workers calling `call(n)` back to back for `seconds` after a warm-up;
    returns (calls, errors, elapsed, sorted latencies)."""
    counter = iter(range(10**12))
    warm_until = time.perf_counter() + min(2.0, seconds / 5)
    while time.perf_counter() < warm_until:
        await asyncio.gather(*(call(next(counter)) for _ in range(concurrency)))
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            ok = await call(next(counter))
            latencies.append(time.perf_counter() - began)
            errors += not ok

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), errors, time.perf_counter() - started, sorted(latencies)


async def _load_http(plan: dict[str, Any], seconds: float, concurrency: int) -> Result:
    paths: list[str] = plan["paths"]
    headers = {"authorization": f"Bearer {plan['token']}"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(plan["url"], connector=connector, headers=headers) as session:

        async def call(n: int) -> bool:
            async with session.get(paths[n % len(paths)]) as response:
                await response.read()
                return response.status == 200

        calls, errors, elapsed, ordered = await _closed_loop(call, seconds, concurrency)
    return Result(
        "", "python", calls, errors, elapsed, _percentile(ordered, 0.5), _percentile(ordered, 0.99)
    )


async def _load_grpc(plan: dict[str, Any], seconds: float, concurrency: int) -> Result:
    metadata = (("authorization", f"Bearer {plan['token']}"),)
    requests = [pb.GetTaskRequest(project_id=plan["project"], task_id=t) for t in plan["tasks"]]
    async with grpc.aio.insecure_channel(plan["target"]) as channel:
        stub = PlanningServiceStub(channel)

        async def call(n: int) -> bool:
            try:
                await stub.GetTask(requests[n % len(requests)], metadata=metadata, timeout=10)
            except grpc.aio.AioRpcError:
                return False
            return True

        calls, errors, elapsed, ordered = await _closed_loop(call, seconds, concurrency)
    return Result(
        "", "python", calls, errors, elapsed, _percentile(ordered, 0.5), _percentile(ordered, 0.99)
    )


def profiled_edge_main(options: argparse.Namespace) -> None:
    """`coder edge` under cProfile; the stats are written on SIGTERM (uvicorn re-raises the
    signal after its graceful shutdown, so the process would otherwise die before writing)."""
    import cProfile

    # This script's own name shadows the `edge` package while its folder leads sys.path.
    here = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != here]
    from cli.main import main

    profiler = cProfile.Profile()

    def dump(*_: object) -> None:
        profiler.disable()
        profiler.dump_stats(options.stats)
        os._exit(0)

    signal.signal(signal.SIGTERM, dump)
    profiler.enable()
    main(["edge", "--port", str(options.port)])
    dump()


def load_main(options: argparse.Namespace) -> None:
    plan = json.loads(Path(options.plan).read_text())
    runner = _load_grpc if options.kind == "grpc" else _load_http
    result = asyncio.run(runner(plan, options.seconds, options.concurrency))
    print(json.dumps(result.__dict__))


# --- wrk -----------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _wrk_script(directory: Path, plan: dict[str, Any]) -> Path:
    paths = ", ".join(json.dumps(path) for path in plan["paths"])
    script = directory / "get_task.lua"
    script.write_text(
        f'wrk.headers["authorization"] = "Bearer {plan["token"]}"\n'
        f"local paths = {{{paths}}}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n % #paths + 1\n"
        '  return wrk.format("GET", paths[n])\n'
        "end\n"
    )
    return script


def _wrk_latency(output: str, label: str) -> float:
    match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {label}% latency in wrk's output:\n{output}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(
    wrk: str, url: str, script: Path, seconds: float, concurrency: int, warm: bool = True
) -> Result:
    threads = str(min(2, concurrency))
    base = [wrk, "-t", threads, "-c", str(concurrency), "-s", str(script), "--latency"]
    if warm:
        subprocess.run([*base, "-d", "2s", url], capture_output=True, check=True, timeout=60)
    done = subprocess.run(
        [*base, "-d", f"{seconds:g}s", "--timeout", "10s", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    output = done.stdout
    total = re.search(r"^\s*(\d+) requests in ([\d.]+)(\w+)", output, re.MULTILINE)
    if total is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    elapsed = float(total.group(2)) * _UNITS[total.group(3)] / 1000
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    socket_errors = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(socket_errors.group(i)) for i in range(1, 5))
    return Result(
        "",
        "wrk",
        int(total.group(1)),
        errors,
        elapsed,
        _wrk_latency(output, "50"),
        _wrk_latency(output, "99"),
    )


# --- the processes under test --------------------------------------------------------------------


class Processes:
    """Subprocesses started by this run, each in its own session, stopped on exit."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        with (self._logs / f"{name}.log").open("wb") as log:
            self._started.append(
                subprocess.Popen(
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env={**os.environ, **env},
                    cwd=ROOT,
                    start_new_session=True,
                )
            )

    def check(self) -> None:
        for process in self._started:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{process.args!r} exited with {process.returncode}\n{self.logs()}"
                )

    def logs(self) -> str:
        """The end of every process's log, for a failure message."""
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
            for log in sorted(self._logs.glob("*.log"))
        )

    def stop(self) -> None:
        for process in reversed(self._started):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self._started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@contextlib.contextmanager
def serving_jwks(document: dict[str, Any]) -> Iterator[str]:
    """The JWKS Envoy's jwt_authn fetches, on a loopback port (a stand-in for the edge's
    `/.well-known/jwks.json`: this benchmark issues its own tokens)."""
    body = json.dumps(document).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def wait_grpc(target: str, processes: Processes) -> None:
    deadline = time.monotonic() + START_SECONDS
    async with grpc.aio.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            processes.check()
            with contextlib.suppress(grpc.aio.AioRpcError):
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the host at {target} did not become ready\n{processes.logs()}")


async def wait_http(url: str, processes: Processes) -> None:
    deadline = time.monotonic() + START_SECONDS
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            processes.check()
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer\n{processes.logs()}")


async def seed(target: str, token: str, count: int) -> tuple[str, list[str]]:
    metadata = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(target) as channel:
        stub = PlanningServiceStub(channel)
        project = await stub.CreateProject(
            pb.CreateProjectRequest(project=project_pb2.Project(name="bench")), metadata=metadata
        )
        ids: list[str] = []
        for n in range(count):
            reply = await stub.CreateTask(
                pb.CreateTaskRequest(
                    project_id=project.project.id,
                    task=task_pb2.Task(
                        title=f"task {n}",
                        description="benchmark task " * 4,
                        labels=[f"l{n % 7}", "bench"],
                        priority=task_pb2.TASK_PRIORITY_MEDIUM,
                    ),
                ),
                metadata=metadata,
            )
            ids.append(reply.task.id)
    return project.project.id, ids


def run_python_load(kind: str, plan_file: Path, seconds: float, concurrency: int) -> Result:
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "load",
            kind,
            str(plan_file),
            "--seconds",
            str(seconds),
            "--concurrency",
            str(concurrency),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=seconds + 120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {kind} load client failed:\n{done.stderr[-3000:]}")
    fields = json.loads(done.stdout.strip().splitlines()[-1])
    return Result(**fields)


async def run(options: argparse.Namespace) -> list[Result]:
    wrk = shutil.which("wrk") if options.client in ("auto", "wrk") else None
    if options.client == "wrk" and wrk is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (or --client python)")
    key = SigningKey.generate()
    token = key.mint(
        subject="bench-user",
        organization_id="bench-org",
        issuer=ISSUER,
        audience=AUDIENCE,
        roles=["member"],
        lifetime_seconds=3600,
    )
    with (
        tempfile.TemporaryDirectory(prefix="edge-bench-") as scratch,
        serving_jwks(jwks([key])) as jwks_url,
    ):
        directory = Path(scratch)
        (directory / "jwks.json").write_text(json.dumps(jwks([key])))
        processes = Processes(directory)
        try:
            grpc_port, edge_port = free_port(), free_port()
            target = f"127.0.0.1:{grpc_port}"
            quiet = {
                "CODER_LOG_LEVEL": "warning",
                "CODER_DATA_DIR": str(directory),
                # The bench's one token outlives the default 15 minutes a service accepts.
                "CODER_TOKEN_MAX_SECONDS": "3600",
            }
            processes.start(
                "host",
                [str(BIN / "coder"), "serve", "planning", "--port", str(grpc_port)],
                {
                    **quiet,
                    "CODER_STORE_URL": f"sqlite:///{directory / 'bench.db'}",
                    "CODER_JWKS_FILE": str(directory / "jwks.json"),
                },
            )
            await wait_grpc(target, processes)
            project, tasks = await seed(target, token, options.tasks)
            command = [str(BIN / "coder"), "edge"]
            if options.profile_edge:
                command = [sys.executable, __file__, "profiled-edge", str(options.profile_edge)]
            processes.start(
                "edge",
                [*command, "--port", str(edge_port)],
                {
                    **quiet,
                    "CODER_EDGE_GRPC_TARGET": target,
                    "CODER_EDGE_JWKS_FILE": str(directory / "jwks.json"),
                    # As Envoy's listener limit is raised above: measure the path, not a quota.
                    **{f"CODER_EDGE_API_{name}_LIMIT": "100000" for name in UNLIMITED},
                },
            )
            envoy_options = EnvoyOptions(
                listen_address="127.0.0.1",
                listen_port=free_port(),
                admin_port=free_port(),
                embedded_port=grpc_port,
                edge_url=jwks_url,
                ui_url=jwks_url,
                descriptor=ROOT / "gen" / "descriptor.binpb",
                rate_limit=10_000_000,
            )
            config = directory / "envoy.yaml"
            config.write_text(
                render(envoy_options, {"planning": ("coder.planning.v1.PlanningService",)})
            )
            processes.start(
                "envoy",
                [
                    str(BIN / "envoy"),
                    "-c",
                    str(config),
                    "--disable-hot-restart",
                    "--base-id",
                    str(os.getpid()),
                    "--log-level",
                    "warn",
                ],
                {},
            )
            edge_url = f"http://127.0.0.1:{edge_port}"
            envoy_url = f"http://127.0.0.1:{envoy_options.listen_port}"
            await wait_http(f"{edge_url}/api/v1/ops/echo", processes)
            await wait_http(f"{envoy_url}/api/v1/ops/echo", processes)

            paths = [f"/api/v1/planning/projects/{project}/tasks/{task}" for task in tasks]
            plan: dict[str, Any] = {
                "token": token,
                "project": project,
                "tasks": tasks,
                "target": target,
                "paths": paths,
            }
            results: list[Result] = []
            grpc_plan = directory / "grpc.json"
            grpc_plan.write_text(json.dumps(plan))
            direct = run_python_load("grpc", grpc_plan, options.seconds, options.concurrency)
            direct.name = "gRPC direct (grpc.aio)"
            results.append(direct)
            for name, url in (("edge REST", edge_url), ("Envoy REST", envoy_url)):
                processes.check()
                if wrk is not None:
                    script = _wrk_script(directory, plan)
                    result = run_wrk(wrk, url, script, options.seconds, options.concurrency)
                else:
                    http_plan = directory / "http.json"
                    http_plan.write_text(json.dumps({**plan, "url": url}))
                    result = run_python_load(
                        "http", http_plan, options.seconds, options.concurrency
                    )
                result.name = name
                results.append(result)
            return results
        finally:
            processes.stop()


def report(results: list[Result], options: argparse.Namespace) -> None:
    print(
        f"\nedge benchmark: Planning GetTask, {options.seconds:g} s per row, "
        f"{options.concurrency} calls in flight, {options.tasks} tasks, {os.cpu_count()} cores\n"
    )
    print("| path | client | requests/s | p50 ms | p99 ms | errors |")
    print("|---|---|---:|---:|---:|---:|")
    for result in results:
        print(
            f"| {result.name} | {result.tool} | {result.rate:,.0f} | {result.p50_ms:.2f} | "
            f"{result.p99_ms:.2f} | {result.errors} |"
        )
    by_name = {result.name: result for result in results}
    edge, envoy = by_name["edge REST"], by_name["Envoy REST"]
    throughput = edge.rate / envoy.rate
    tail = edge.p99_ms / envoy.p99_ms
    met = throughput >= 0.8 and tail <= 1.5
    print(
        f"\nedge at {throughput:.0%} of Envoy's requests/s (goal >= 80%), "
        f"p99 {tail:.2f}x Envoy's (goal <= 1.5x): goal {'met' if met else 'NOT met'}."
    )
    if any(result.errors for result in results):
        print("some calls failed: the figures are not valid", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command")
    load = commands.add_parser("load", help="(internal) run one load client and print JSON")
    load.add_argument("kind", choices=["grpc", "http"])
    load.add_argument("plan")
    for command in (parser, load):
        command.add_argument("--seconds", type=float, default=10.0)
        command.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--profile-edge",
        type=Path,
        metavar="FILE",
        help="run the edge under cProfile and write its stats to FILE (read with pstats)",
    )
    profiled = commands.add_parser("profiled-edge", help="(internal) the edge under cProfile")
    profiled.add_argument("stats", type=Path)
    profiled.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    if options.command == "load":
        load_main(options)
        return
    if options.command == "profiled-edge":
        profiled_edge_main(options)
        return
    report(asyncio.run(run(options)), options)


if __name__ == "__main__":
    main()
