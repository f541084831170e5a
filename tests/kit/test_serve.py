"""`serve()` as a process runs it: a stop signal during start-up (a companion still waiting for
its health) is obeyed at once, and the companion cut short is stopped too."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from services.kit import Settings, serve

    class Slow:
        async def start(self, host):
            print("starting", flush=True)
            await asyncio.sleep(600)

        async def stop(self):
            print("companion stopped", flush=True)

    directory = Path(sys.argv[1])
    settings = Settings(data_dir=directory, store_url=f"sqlite:///{directory / 's.db'}")
    asyncio.run(serve([], settings, port=0, companions=[Slow()]))
    print("served", flush=True)
    """
)


def test_a_stop_during_start_up_is_obeyed_at_once(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        while process.stdout.readline().strip() != "starting":
            assert process.poll() is None, "serve() exited before starting its companion"
        signalled = time.monotonic()
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0
        marks = [line for line in output.splitlines() if line in ("companion stopped", "served")]
        assert marks == ["companion stopped", "served"]
        # Far less than the companion's 600 s start: the stop did not wait for it.
        assert time.monotonic() - signalled < 30
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
