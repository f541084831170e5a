"""Supervised child processes of `coder dev` (the UI's server, Temporal's dev server, your own):
started after the gRPC host serves, health-checked, restarted with backoff when they die,
their output prefixed with their name, stopped in reverse order of start.

Each child runs in its own session (process group), so a Ctrl-C in the terminal reaches only
`coder dev`, which then stops the children itself, in order: SIGTERM to the child's group,
SIGKILL after a grace period. On Linux each child also asks the kernel (`prctl
PR_SET_PDEATHSIG`) for a SIGKILL when `coder dev` dies without stopping it (`kill -9`); that
covers the direct child only, so a companion should exec its server rather than wrap it in a
shell. Elsewhere a hard-killed `coder dev` can leave its children running.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import enum
import os
import random
import shutil
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

import httpx

if TYPE_CHECKING:
    from services.kit import Host

_PR_SET_PDEATHSIG = 1


class CompanionMissing(RuntimeError):
    """A required companion cannot start here: its executable or a file it needs is absent."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"companion {name!r} cannot start: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """When a companion that stopped on its own is started again.

    A failure is *fast* when the attempt stayed up less than `stable_after` seconds; the delay
    before the next attempt grows exponentially with consecutive fast failures (capped at
    `max_delay`, ± `jitter` of itself so companions that died together do not restart in
    lockstep), and after `max_fast_failures` of them the companion is given up on.
    """

    initial_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2
    stable_after: float = 30.0
    max_fast_failures: int = 5

    def delay(self, failures: int, draw: float) -> float:
        """Seconds to wait after the `failures`-th consecutive fast failure (1-based);
        `draw` is a uniform random number in [0, 1)."""
        exponent = min(max(failures - 1, 0), 64)
        base = min(self.max_delay, self.initial_delay * self.multiplier**exponent)
        return min(self.max_delay, max(0.0, base * (1 + self.jitter * (2 * draw - 1))))


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """How to tell a companion is up: `http(s)://…` answering 2xx/3xx, or `tcp://host:port`
    accepting a connection; polled every `interval` seconds for up to `within` seconds."""

    url: str
    within: float = 30.0
    interval: float = 0.2

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme in ("http", "https") and parts.hostname:
            return
        if parts.scheme == "tcp" and parts.hostname and parts.port and parts.path in ("", "/"):
            return
        raise ValueError(
            f"health {self.url!r}: expected http://host[:port]/path, https://… or tcp://host:port"
        )

    @property
    def display(self) -> str:
        """Where the companion answers, for the banner (`host:port` for a TCP check)."""
        return self.url.removeprefix("tcp://").rstrip("/")

    async def probe(self) -> bool:
        """One check, bounded by a short timeout; never raises for an unreachable target."""
        parts = urlsplit(self.url)
        timeout = max(self.interval, 2.0)
        if parts.scheme == "tcp":
            try:
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(parts.hostname, parts.port), timeout
                )
            except (OSError, TimeoutError):
                return False
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return True
        # trust_env off: a proxy from the environment must not stand in for a local server.
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            try:
                reply = await client.get(self.url)
            except httpx.HTTPError:
                return False
        return 200 <= reply.status_code < 400


@dataclass(frozen=True, slots=True)
class CompanionSpec:
    """One supervised process: its command, where and with what environment it runs, how to
    tell it is up, whether `coder dev` may run without it, and what must exist before it can
    start (`requires`, relative to `cwd`: a built app such as `ui/.next`)."""

    name: str
    argv: tuple[str, ...]
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    health: HealthCheck | None = None
    optional: bool = False
    requires: tuple[Path, ...] = ()
    restart: RestartPolicy = RestartPolicy()
    grace: float = 10.0

    def missing(self) -> str | None:
        """Why this companion cannot start on this machine, or None when it can."""
        base = self.cwd or Path.cwd()
        if self.cwd is not None and not self.cwd.is_dir():
            return f"directory {self.cwd} does not exist"
        program = self.argv[0]
        if os.sep in program:
            if not os.access(base / program, os.X_OK):
                return f"{program} is not an executable file"
        elif shutil.which(program, path=self.env.get("PATH", os.environ.get("PATH"))) is None:
            return f"{program} not found on PATH"
        for needed in self.requires:
            if not (base / needed).exists():
                return f"{needed} does not exist"
        return None


class State(enum.Enum):
    """Where a companion is in its life."""

    STOPPED = "stopped"
    MISSING = "missing"
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Status:
    """A companion's state, its detail (where it answers while running, otherwise why it is
    in that state) and its process id while it has one."""

    state: State
    detail: str = ""
    pid: int | None = None


class Console:
    """Writes companions' output lines prefixed `[name] `; the prefix is colored when the
    stream is a terminal (and `NO_COLOR` is not set)."""

    _COLORS = ("36", "35", "33", "32", "34", "31")

    def __init__(self, stream: TextIO | None = None, *, color: bool | None = None) -> None:
        self._stream = stream or sys.stdout
        if color is None:
            color = self._stream.isatty() and "NO_COLOR" not in os.environ
        self._color = color
        self._palette: dict[str, str] = {}

    def line(self, name: str, text: str) -> None:
        """Write one line of `name`'s output."""
        prefix = f"[{name}]"
        if self._color:
            code = self._palette.setdefault(name, self._COLORS[len(self._palette) % 6])
            prefix = f"\x1b[{code}m{prefix}\x1b[0m"
        self._stream.write(f"{prefix} {text}\n")
        self._stream.flush()

    def note(self, name: str, text: str) -> None:
        """Write what the supervisor did with `name` (started, restarting, gave up)."""
        self.line(name, f"coder: {text}")


def _die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` asking Linux to SIGKILL the child when its parent dies; None elsewhere.

    The kernel ties the signal to the thread that forked, so children must be spawned from a
    thread that lives as long as the supervisor (the event loop's, in `coder dev` the main one).
    """
    if not sys.platform.startswith("linux"):
        return None
    # Resolved in the parent: after fork the child only calls the function.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return preexec


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _ended(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:  # a real-time signal has no name
            return f"killed by signal {-code}"
    return f"exited with code {code}"


class ProcessCompanion:
    """Supervises one child process (a `Companion` of the gRPC host): starts it, waits for its
    health, restarts it by its `RestartPolicy`, stops it with SIGTERM then SIGKILL."""

    def __init__(
        self,
        spec: CompanionSpec,
        console: Console | None = None,
        *,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.spec = spec
        self.status = Status(State.STOPPED)
        self._console = console or Console()
        self._draw = draw
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._settled = asyncio.Event()

    async def start(self, host: Host) -> None:
        """Start beside `host`; the child finds the gRPC server in `CODER_GRPC_TARGET`."""
        await self.launch({"CODER_GRPC_TARGET": f"{host.resources.settings.host}:{host.port}"})

    async def launch(self, extra_env: Mapping[str, str] | None = None) -> None:
        """Start supervising and return once the first attempt is known: healthy, failed
        (restarts go on in the background) or not startable. A missing optional companion
        is recorded as MISSING; a missing required one raises `CompanionMissing`."""
        reason = self.spec.missing()
        if reason is not None:
            self.status = Status(State.MISSING, reason)
            if not self.spec.optional:
                raise CompanionMissing(self.spec.name, reason)
            self._console.note(self.spec.name, f"not started: {reason}")
            return
        self._stopping.clear()
        self._settled.clear()
        env = {**os.environ, **(extra_env or {}), **self.spec.env}
        self._task = asyncio.create_task(self._supervise(env), name=f"companion-{self.spec.name}")
        settled = asyncio.create_task(self._settled.wait())
        await asyncio.wait({self._task, settled}, return_when=asyncio.FIRST_COMPLETED)
        settled.cancel()
        if self._task.done():
            self._task.result()

    async def stop(self) -> None:
        """Stop the child (SIGTERM to its group, SIGKILL after `grace`) and stop restarting."""
        self._stopping.set()
        process = self._process
        if process is not None and process.returncode is None:
            await self._terminate(process)
            self._console.note(self.spec.name, f"stopped ({_ended(await process.wait())})")
        if self._task is not None:
            await self._task
            self._task = None
        if self.status.state is not State.MISSING:
            self.status = Status(State.STOPPED)

    async def _supervise(self, env: Mapping[str, str]) -> None:
        loop = asyncio.get_running_loop()
        policy = self.spec.restart
        failures = 0
        while not self._stopping.is_set():
            began = loop.time()
            outcome = await self._attempt(env)
            if self._stopping.is_set():
                break
            if loop.time() - began >= policy.stable_after:
                failures = 0
            failures += 1
            if failures >= policy.max_fast_failures:
                detail = f"{outcome}; gave up after {failures} fast failures"
                self.status = Status(State.FAILED, detail)
                self._console.note(self.spec.name, f"{detail} (the suite keeps running)")
                self._settled.set()
                return
            delay = policy.delay(failures, self._draw())
            self.status = Status(State.RESTARTING, f"{outcome}; restarting in {delay:.1f} s")
            self._console.note(self.spec.name, self.status.detail)
            self._settled.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _attempt(self, env: Mapping[str, str]) -> str:
        """Run the child once; returns how the attempt ended."""
        self.status = Status(State.STARTING)
        try:
            process = await asyncio.create_subprocess_exec(
                *self.spec.argv,
                cwd=self.spec.cwd,
                env=dict(env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        except OSError as error:
            return f"cannot start: {error}"
        self._process = process
        assert process.stdout is not None
        pump = asyncio.create_task(self._pump(process.stdout))
        exited = asyncio.create_task(process.wait())
        try:
            if self._stopping.is_set():  # stop() ran while the child was being spawned
                await self._terminate(process)
            health = self.spec.health
            if health is not None and not await self._healthy(health, exited) and not exited.done():
                await self._terminate(process)
                return f"not healthy within {health.within:g} s"
            if not exited.done():
                self.status = Status(State.RUNNING, health.display if health else "", process.pid)
                where = f" on {health.display}" if health else ""
                self._console.note(self.spec.name, f"running{where} (pid {process.pid})")
                self._settled.set()
            return _ended(await exited)
        finally:
            # What the child left in its group (a server it forked) would hold its port.
            _signal_group(process.pid, signal.SIGKILL)
            await exited
            # A descendant that left the group may still hold the output pipe open.
            await asyncio.wait({pump}, timeout=self.spec.grace)
            pump.cancel()
            self._process = None

    async def _healthy(self, health: HealthCheck, exited: asyncio.Task[int]) -> bool:
        deadline = asyncio.get_running_loop().time() + health.within
        while not exited.done() and not self._stopping.is_set():
            if await health.probe():
                return True
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            await asyncio.wait({exited}, timeout=min(health.interval, remaining))
        return False

    async def _terminate(self, process: asyncio.subprocess.Process) -> None:
        _signal_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), self.spec.grace)
        except TimeoutError:
            _signal_group(process.pid, signal.SIGKILL)
            await process.wait()

    async def _pump(self, stream: asyncio.StreamReader) -> None:
        pending = b""
        while chunk := await stream.read(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self._console.line(self.spec.name, line.decode(errors="replace").rstrip("\r"))
        if pending:
            self._console.line(self.spec.name, pending.decode(errors="replace"))


class Supervisor:
    """The process companions of `coder dev` as one `Companion`: started in the order given,
    stopped in reverse."""

    def __init__(self, specs: Sequence[CompanionSpec], console: Console | None = None) -> None:
        console = console or Console()
        self.companions = [ProcessCompanion(spec, console) for spec in specs]

    def check(self) -> None:
        """Raise `CompanionMissing` for the first required companion that cannot start here,
        so `coder dev` can refuse before it binds any port."""
        for companion in self.companions:
            reason = companion.spec.missing()
            if reason is not None and not companion.spec.optional:
                raise CompanionMissing(companion.spec.name, reason)

    async def start(self, host: Host) -> None:
        """Start every companion beside `host`, in order."""
        await self.launch({"CODER_GRPC_TARGET": f"{host.resources.settings.host}:{host.port}"})

    async def launch(self, extra_env: Mapping[str, str] | None = None) -> None:
        """Start every companion in order; if one cannot start, stop those already started."""
        started: list[ProcessCompanion] = []
        try:
            for companion in self.companions:
                await companion.launch(extra_env)
                started.append(companion)
        except BaseException:
            for companion in reversed(started):
                await companion.stop()
            raise

    async def stop(self) -> None:
        """Stop every companion, the last started first."""
        for companion in reversed(self.companions):
            await companion.stop()

    def banner(self) -> list[str]:
        """One line per companion: running (where, pid), missing (why), restarting, failed."""
        lines = []
        for companion in self.companions:
            status = companion.status
            text = status.state.value
            if status.state is State.RUNNING:
                where = f" on {status.detail}" if status.detail else ""
                text += f"{where} (pid {status.pid})"
            elif status.detail:
                text += f" ({status.detail})"
            lines.append(f"  - {companion.spec.name}: {text}")
        return lines
