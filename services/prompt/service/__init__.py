"""The prompt domain rules, one module per concern:

| concern | module | class |
|---|---|---|
| prompts, shared prompts and overrides | `prompts.py` | `PromptCatalog` |
| versions and diffs | `versions.py` | `VersionService` |
| labels and the label policy | `labels.py` | `LabelService` |
| rendering and includes | `rendering.py` | `RenderService` |
| A/B experiments and outcomes | `experiments.py` | `ExperimentService` |
| the shared library's publication | `library.py` | `SharedLibrary` |
| checking a version's content | `content.py` | — |

`PromptDomain` wires them together once per process.
"""

from __future__ import annotations

from services.kit import Clock
from services.kit.cache import LockManager
from services.prompt.repository import PromptRepositories
from services.prompt.service.experiments import ExperimentService
from services.prompt.service.labels import LabelService
from services.prompt.service.library import SharedLibrary, SharedSpec, load_specs
from services.prompt.service.prompts import PromptCatalog
from services.prompt.service.rendering import RenderService
from services.prompt.service.versions import VersionService


class PromptDomain:
    """Every part of the prompt service, sharing one set of repositories and one library."""

    def __init__(
        self,
        repositories: PromptRepositories,
        clock: Clock,
        locks: LockManager,
        specs: tuple[SharedSpec, ...] | None = None,
    ) -> None:
        self.library = SharedLibrary(
            repositories.prompts, clock, load_specs() if specs is None else specs
        )
        self.rendering = RenderService(repositories, self.library)
        self.prompts = PromptCatalog(repositories, self.library, self.rendering, clock, locks)
        self.versions = VersionService(repositories, self.prompts, clock, locks)
        self.labels = LabelService(repositories, self.prompts, clock, locks)
        self.experiments = ExperimentService(repositories, self.prompts, clock)


__all__ = ["PromptDomain"]
