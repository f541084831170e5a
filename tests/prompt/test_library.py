"""The shared library's publication: idempotent, a changed file becomes a new version with
`latest` and `production` on it, replicas racing publish it once, and a broken file is caught
when the library loads."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from services.kit import Resources
from services.prompt.repository import SHARED_PARTITION, PromptRepositories
from services.prompt.service.library import SharedLibrary, load_specs

SPEC = """\
name: {name}
type: PROMPT_TYPE_TEXT
description: test library prompt
version:
  template: "{template} {{{{ who }}}}"
  variables:
    - name: who
      type: VARIABLE_TYPE_STRING
      defaultValue: world
"""


def library_file(directory: Path, name: str, template: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / "prompt.yaml"
    path.write_text(SPEC.format(name=name, template=template))
    return directory


async def published(resources: Resources, directory: Path) -> None:
    repositories = PromptRepositories(resources.store, resources.relay)
    await SharedLibrary(repositories.prompts, resources.clock, load_specs(directory)).ensure()


class TestPublication:
    async def test_publishing_again_changes_nothing_and_a_new_file_is_a_new_version(
        self, resources: Resources, tmp_path: Path
    ) -> None:
        name = f"test/lib-{uuid.uuid4().hex[:8]}"
        prompts = PromptRepositories(resources.store, resources.relay).prompts
        await published(resources, library_file(tmp_path, name, "Hello"))
        first = await prompts.prompt_by_name(SHARED_PARTITION, name)
        assert first is not None and first.shared
        assert {k: v.version for k, v in first.labels.items()} == {"latest": 1, "production": 1}

        await published(resources, library_file(tmp_path, name, "Hello"))
        again = await prompts.prompt_by_name(SHARED_PARTITION, name)
        assert again is not None and (again.latest_version, again.etag) == (1, first.etag)

        await published(resources, library_file(tmp_path, name, "Hi"))
        changed = await prompts.prompt_by_name(SHARED_PARTITION, name)
        assert changed is not None and changed.latest_version == 2
        assert changed.labels["production"].version == 2
        assert changed.labels["production"].previous_version == 1
        version = await prompts.version(SHARED_PARTITION, changed.id, 2)
        assert version is not None and version.template == "Hi {{ who }}"

    async def test_racing_replicas_publish_a_change_once(
        self, resources: Resources, tmp_path: Path
    ) -> None:
        name = f"test/race-{uuid.uuid4().hex[:8]}"
        directory = library_file(tmp_path, name, "One")
        await asyncio.gather(*(published(resources, directory) for _ in range(4)))
        library_file(tmp_path, name, "Two")
        await asyncio.gather(*(published(resources, directory) for _ in range(4)))
        prompts = PromptRepositories(resources.store, resources.relay).prompts
        state = await prompts.prompt_by_name(SHARED_PARTITION, name)
        assert state is not None and state.latest_version == 2
        assert await prompts.version(SHARED_PARTITION, state.id, 3) is None

    def test_a_broken_file_fails_the_load(self, tmp_path: Path) -> None:
        (tmp_path / "bad.yaml").write_text(
            "name: test/bad\ntype: PROMPT_TYPE_TEXT\nversion:\n  template: '{{ undeclared }}'\n"
        )
        with pytest.raises(ValueError, match=r"bad\.yaml"):
            load_specs(tmp_path)

    def test_the_shipped_library_loads(self) -> None:
        names = {spec.name for spec in load_specs()}
        assert names == {"coder/code-review", "coder/commit-message", "coder/plan-from-intent"}
