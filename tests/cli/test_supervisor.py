"""The companion supervisor on real child processes: restart with backoff and its reset, giving
up after fast failures, health deadlines, missing companions, reverse stop order, SIGKILL after
the grace period for the whole process group, children dying with a hard-killed parent, and
prefixed output."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli.supervisor import (
    CompanionMissing,
    CompanionSpec,
    Console,
    HealthCheck,
    ProcessCompanion,
    RestartPolicy,
    State,
    Status,
    Supervisor,
)
from tests.cli.processes import (
    PYTHON,
    alive,
    eventually,
    free_port,
    http_server,
    pids,
    program,
    wait_until,
)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; PR_SET_PDEATHSIG is Linux-only"
)
ROOT = Path(__file__).resolve().parents[2]
QUICK = RestartPolicy(initial_delay=0.01, max_delay=0.05, jitter=0.0)


def listener(directory: Path) -> Path:
    """`python listener.py NAME PORT LOG [--ignore-term] [--fork]`: logs `start NAME`, logs
    `stop NAME` on SIGTERM and exits (or ignores SIGTERM), optionally forks a sleeping child
    whose pid it logs, then listens on PORT."""
    return program(
        directory,
        "listener",
        """
        import os, signal, socket, subprocess, sys, time

        name, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]

        def write(line):
            with open(log, "a") as out:
                out.write(line + "\\n")

        def on_term(*_):
            write(f"stop {name}")
            sys.exit(0)

        if "--ignore-term" in sys.argv:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        else:
            signal.signal(signal.SIGTERM, on_term)
        if "--fork" in sys.argv:
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            write(f"child {child.pid}")
        write(f"start {name}")
        server = socket.create_server(("127.0.0.1", port))
        while True:
            server.accept()[0].close()
        """,
    )


def log_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


class TestRestartPolicy:
    def test_delay_doubles_up_to_the_cap(self) -> None:
        policy = RestartPolicy(initial_delay=0.5, multiplier=2, max_delay=4, jitter=0)
        assert [policy.delay(n, 0.5) for n in range(1, 7)] == [0.5, 1, 2, 4, 4, 4]

    def test_jitter_spreads_the_delay_within_its_fraction_and_the_cap(self) -> None:
        policy = RestartPolicy(initial_delay=1, multiplier=2, max_delay=3, jitter=0.25)
        assert policy.delay(1, 0.0) == 0.75
        assert policy.delay(1, 0.5) == 1.0
        assert 1.24 < policy.delay(1, 0.999) < 1.25
        assert policy.delay(2, 0.999) == pytest.approx(2.499)
        assert policy.delay(3, 0.999) == 3  # 3 * 1.2 capped
        assert policy.delay(10_000, 0.5) == 3  # no overflow for a long streak


class TestHealthCheck:
    @pytest.mark.parametrize("url", ["ftp://host/", "tcp://127.0.0.1", "tcp://:80", "localhost"])
    def test_rejects_what_it_cannot_probe(self, url: str) -> None:
        with pytest.raises(ValueError, match="expected http"):
            HealthCheck(url)

    async def test_tcp_probe_sees_a_listener_come_and_go(self) -> None:
        server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        check = HealthCheck(f"tcp://127.0.0.1:{port}")
        assert await check.probe()
        server.close()
        await server.wait_closed()
        assert not await check.probe()


class TestRestarts:
    async def test_a_killed_companion_is_restarted_and_healthy_again(self, tmp_path: Path) -> None:
        port, record = free_port(), tmp_path / "pids"
        health = HealthCheck(f"http://127.0.0.1:{port}/")
        spec = CompanionSpec(
            "web",
            (PYTHON, str(http_server(tmp_path)), str(port), str(record)),
            health=health,
            restart=QUICK,
        )
        companion = ProcessCompanion(spec, Console(io.StringIO()))
        await companion.launch()
        try:
            assert companion.status.state is State.RUNNING
            first = companion.status.pid
            assert first is not None
            assert pids(record) == [first]
            os.kill(first, signal.SIGKILL)
            await eventually(
                lambda: companion.status.state is State.RUNNING and companion.status.pid != first
            )
            assert await health.probe()
            assert pids(record) == [first, companion.status.pid]
        finally:
            await companion.stop()
        assert companion.status == Status(State.STOPPED)
        assert not any(alive(pid) for pid in pids(record))

    async def test_gives_up_after_consecutive_fast_failures(self, tmp_path: Path) -> None:
        attempts = tmp_path / "attempts"
        crash = program(
            tmp_path,
            "crash",
            f"""
            with open({str(attempts)!r}, "a") as out:
                out.write("attempt\\n")
            raise SystemExit(3)
            """,
        )
        output = io.StringIO()
        policy = RestartPolicy(initial_delay=0.01, max_fast_failures=3, stable_after=60)
        companion = ProcessCompanion(
            CompanionSpec("crash", (PYTHON, str(crash)), restart=policy), Console(output)
        )
        await companion.launch()
        await eventually(lambda: companion.status.state is State.FAILED)
        assert companion.status.detail == "exited with code 3; gave up after 3 fast failures"
        assert log_lines(attempts) == ["attempt"] * 3
        assert "[crash] coder: exited with code 3; restarting in" in output.getvalue()
        assert "gave up after 3 fast failures (the suite keeps running)" in output.getvalue()
        await companion.stop()

    async def test_an_attempt_that_stayed_up_resets_the_count(self, tmp_path: Path) -> None:
        attempts = tmp_path / "attempts"
        crash = program(
            tmp_path,
            "crash",
            f"""
            with open({str(attempts)!r}, "a") as out:
                out.write("attempt\\n")
            raise SystemExit(1)
            """,
        )
        # Every attempt counts as stable, so the streak never reaches two.
        policy = RestartPolicy(initial_delay=0.01, max_fast_failures=2, stable_after=0)
        companion = ProcessCompanion(
            CompanionSpec("crash", (PYTHON, str(crash)), restart=policy), Console(io.StringIO())
        )
        await companion.launch()
        try:
            await eventually(lambda: len(log_lines(attempts)) >= 4)
            assert companion.status.state is not State.FAILED
        finally:
            await companion.stop()
        assert companion.status == Status(State.STOPPED)

    async def test_not_healthy_within_the_deadline_is_killed_and_counted(
        self, tmp_path: Path
    ) -> None:
        record = tmp_path / "pids"
        silent = program(
            tmp_path,
            "silent",
            f"""
            import os, time
            with open({str(record)!r}, "a") as out:
                out.write(f"{{os.getpid()}}\\n")
            time.sleep(600)
            """,
        )
        spec = CompanionSpec(
            "silent",
            (PYTHON, str(silent)),
            health=HealthCheck(f"tcp://127.0.0.1:{free_port()}", within=0.5),
            restart=RestartPolicy(max_fast_failures=1),
            grace=1,
        )
        companion = ProcessCompanion(spec, Console(io.StringIO()))
        await companion.launch()
        assert companion.status.state is State.FAILED
        assert companion.status.detail == "not healthy within 0.5 s; gave up after 1 fast failures"
        assert len(pids(record)) == 1
        assert not alive(pids(record)[0])
        await companion.stop()


class TestMissing:
    async def test_a_missing_optional_executable_is_reported_not_fatal(self) -> None:
        output = io.StringIO()
        supervisor = Supervisor(
            [CompanionSpec("tool", ("no-such-program-for-coder-tests",), optional=True)],
            Console(output),
        )
        await supervisor.launch()
        assert supervisor.companions[0].status.state is State.MISSING
        assert supervisor.banner() == [
            "  - tool: missing (no-such-program-for-coder-tests not found on PATH)"
        ]
        assert "[tool] coder: not started: no-such-program-for-coder-tests not found on PATH" in (
            output.getvalue()
        )
        await supervisor.stop()
        assert supervisor.companions[0].status.state is State.MISSING

    async def test_a_missing_built_app_is_reported(self, tmp_path: Path) -> None:
        spec = CompanionSpec(
            "ui", (PYTHON, "-c", "pass"), cwd=tmp_path, requires=(Path("ui/.next"),), optional=True
        )
        companion = ProcessCompanion(spec, Console(io.StringIO()))
        await companion.launch()
        assert companion.status.state is State.MISSING
        assert companion.status.detail == "ui/.next does not exist"

    async def test_a_missing_required_companion_stops_those_started_before_it(
        self, tmp_path: Path
    ) -> None:
        log = tmp_path / "log"
        port = free_port()
        first = CompanionSpec(
            "first",
            (PYTHON, str(listener(tmp_path)), "first", str(port), str(log)),
            health=HealthCheck(f"tcp://127.0.0.1:{port}"),
        )
        required = CompanionSpec("needed", ("no-such-program-for-coder-tests",))
        supervisor = Supervisor([first, required], Console(io.StringIO()))
        with pytest.raises(CompanionMissing, match="'needed' cannot start: no-such-program"):
            await supervisor.launch()
        assert log_lines(log) == ["start first", "stop first"]


class TestStopping:
    async def test_stops_in_reverse_order_of_start(self, tmp_path: Path) -> None:
        log, script = tmp_path / "log", listener(tmp_path)
        specs = []
        for name in ("a", "b", "c"):
            port = free_port()
            specs.append(
                CompanionSpec(
                    name,
                    (PYTHON, str(script), name, str(port), str(log)),
                    health=HealthCheck(f"tcp://127.0.0.1:{port}"),
                )
            )
        supervisor = Supervisor(specs, Console(io.StringIO()))
        await supervisor.launch()
        assert [c.status.state for c in supervisor.companions] == [State.RUNNING] * 3
        await supervisor.stop()
        assert log_lines(log) == ["start a", "start b", "start c", "stop c", "stop b", "stop a"]

    async def test_sigkill_after_the_grace_period_takes_the_whole_group(
        self, tmp_path: Path
    ) -> None:
        log, port, output = tmp_path / "log", free_port(), io.StringIO()
        spec = CompanionSpec(
            "stubborn",
            (PYTHON, str(listener(tmp_path)), "stubborn", str(port), str(log), "--ignore-term"),
            health=HealthCheck(f"tcp://127.0.0.1:{port}"),
            grace=0.3,
        )
        companion = ProcessCompanion(
            dataclasses.replace(spec, argv=(*spec.argv, "--fork")), Console(output)
        )
        await companion.launch()
        parent = companion.status.pid
        child = int(next(line for line in log_lines(log) if line.startswith("child")).split()[1])
        assert parent is not None
        assert alive(parent)
        assert alive(child)
        await companion.stop()
        assert not alive(parent)
        await eventually(lambda: not alive(child), within=5)
        assert "[stubborn] coder: stopped (killed by SIGKILL)" in output.getvalue()

    def test_children_die_with_a_hard_killed_supervisor(self, tmp_path: Path) -> None:
        record = tmp_path / "pids"
        driver = program(
            tmp_path,
            "driver",
            f"""
            import asyncio, io, sys
            from cli.supervisor import CompanionSpec, Console, ProcessCompanion

            async def main():
                spec = CompanionSpec("sleeper", (sys.executable, "-c", {_sleeper(record)!r}))
                await ProcessCompanion(spec, Console(io.StringIO())).launch()
                await asyncio.Event().wait()

            asyncio.run(main())
            """,
        )
        process = subprocess.Popen([PYTHON, str(driver)], cwd=ROOT)
        try:
            wait_until(lambda: len(pids(record)) == 1)
            sleeper = pids(record)[0]
            assert alive(sleeper)
        finally:
            process.kill()
            process.wait(timeout=10)
        wait_until(lambda: not alive(sleeper))


class TestConsole:
    async def test_output_lines_carry_the_companion_name(self, tmp_path: Path) -> None:
        output = io.StringIO()
        talk = program(
            tmp_path,
            "talk",
            """
            import sys
            print("hello")
            print("to stderr", file=sys.stderr, flush=True)
            sys.stdout.write("no newline")
            """,
        )
        spec = CompanionSpec(
            "talk", (PYTHON, str(talk)), restart=RestartPolicy(max_fast_failures=1)
        )
        companion = ProcessCompanion(spec, Console(output))
        await companion.launch()
        await eventually(lambda: companion.status.state is State.FAILED)
        lines = output.getvalue().splitlines()
        assert {"[talk] hello", "[talk] to stderr", "[talk] no newline"} <= set(lines)

    def test_the_prefix_is_colored_only_on_a_terminal(self) -> None:
        plain, colored = io.StringIO(), io.StringIO()
        Console(plain).line("ui", "ready")
        console = Console(colored, color=True)
        console.line("ui", "ready")
        console.line("temporal", "ready")
        assert plain.getvalue() == "[ui] ready\n"
        assert colored.getvalue() == (
            "\x1b[36m[ui]\x1b[0m ready\n\x1b[35m[temporal]\x1b[0m ready\n"
        )


def _sleeper(record: Path) -> str:
    return (
        f"import os, time; open({str(record)!r}, 'a').write(f'{{os.getpid()}}\\n'); time.sleep(600)"
    )
