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
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cli.supervisor import CompanionSpec, HealthCheck
from services.kit import Settings

RESERVED_NAMES = frozenset({"coder", "edge", "grpc"})
"""Names the console already uses for `coder dev`'s own output."""


def built_in(settings: Settings) -> list[CompanionSpec]:
    """The companions every `coder dev` runs, in start order (none yet).

    The issues that bring the web UI (`npm --prefix ui run start`, requiring `ui/.next`) and
    durable execution (`temporal server start-dev`, its database in `settings.data_dir`) add
    one entry each here, both optional so a checkout without the binary or the built app still
    runs and the banner says what is missing; docs/dev.md shows the two entries.
    """
    return []


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


def companions(settings: Settings, dev: DevSettings | None = None) -> list[CompanionSpec]:
    """The built-in companions then the user's, in start order; names must be unique."""
    dev = dev or DevSettings()
    specs = built_in(settings) + user_companions(dev.companions)
    seen: set[str] = set()
    for spec in specs:
        if spec.name in RESERVED_NAMES or spec.name in seen:
            raise CompanionsError(
                f"CODER_DEV_COMPANIONS: the name {spec.name!r} is "
                + ("reserved" if spec.name in RESERVED_NAMES else "used twice")
            )
        seen.add(spec.name)
    return specs
