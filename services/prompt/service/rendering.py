"""Rendering: which prompt and version a name and label mean for an organization, the includes
of its templates, the variables' values, and the sandboxed render.

Resolution of a name is the override rule: the organization's prompt of that name when it
carries the label asked for (or, by number, when the organization has a prompt of that name),
else the shared prompt of that name. Includes resolve by the same rule, so an organization's
override also replaces the prompt wherever another prompt includes it.

Versions never change, so they and their compiled templates are cached by version id, and a
name's prompt id is cached too (names are fixed for a prompt's life); which version a label
means is read from the prompt document at every render, so a render costs one point read. A
version reached through a label is taken from the cache: a label can never point at a deleted
version (deletes are refused while one does). A version asked for by number is always read, since
it may have been deleted.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import jinja2
from google.protobuf import struct_pb2

from coder.prompt.v1 import prompt_pb2, prompt_service_pb2
from services.kit import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    current_principal,
)
from services.prompt._mapping import PromptState, version_id
from services.prompt._stats import assign
from services.prompt._templates import (
    INCLUDE_REFERENCE,
    MAX_INCLUDE_DEPTH,
    RenderRefused,
    render,
)
from services.prompt._variables import resolve_values
from services.prompt.repository import SHARED_PARTITION, PromptRepositories
from services.prompt.service.content import Content, check_content, compile_content
from services.prompt.service.library import SharedLibrary

DEFAULT_LABEL = "production"
CACHE_SIZE = 4096
"""Versions (and names) a process keeps compiled."""

K = TypeVar("K")
V = TypeVar("V")


class _Recent(Generic[K, V]):
    """A bounded map that forgets the least recently used entry."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._size = size

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self._size:
            self._items.popitem(last=False)


@dataclass(frozen=True, slots=True)
class Resolved:
    """A prompt version chosen for a render."""

    partition: str
    prompt: PromptState
    version: prompt_pb2.PromptVersion

    @property
    def shared(self) -> bool:
        return self.partition == SHARED_PARTITION


class IncludeProblem(Exception):
    """An include that does not resolve to a text prompt, or closes a cycle."""

    def __init__(self, reference: str, detail: str) -> None:
        super().__init__(f"{reference}: {detail}")
        self.reference = reference
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Included:
    """Everything a render's includes bring: their compiled templates by reference, and their
    variable declarations (after the including prompt's, which win)."""

    templates: Mapping[str, jinja2.Template]
    variables: tuple[prompt_pb2.Variable, ...]


class RenderService:
    """RenderPrompt and PreviewPrompt."""

    def __init__(self, repositories: PromptRepositories, library: SharedLibrary) -> None:
        self._prompts = repositories.prompts
        self._library = library
        self._compiled: _Recent[tuple[str, str], Content] = _Recent(CACHE_SIZE)
        self._versions: _Recent[tuple[str, str], prompt_pb2.PromptVersion] = _Recent(CACHE_SIZE)
        self._prompt_ids: _Recent[tuple[str, str], str] = _Recent(CACHE_SIZE)

    # --- RPCs ----------------------------------------------------------------------------------

    async def render(
        self, request: prompt_service_pb2.RenderPromptRequest
    ) -> prompt_service_pb2.RenderPromptResponse:
        principal = current_principal()
        organization_id = principal.organization_id
        selector = request.WhichOneof("selector")
        label = request.label if selector == "label" else ""
        if selector is None:
            label = DEFAULT_LABEL
        resolved, experiment_id, variant = await self._choose(
            organization_id,
            request.name,
            label,
            request.version,
            request.bucketing_key or principal.subject,
        )
        content = self.content(resolved)
        included = await self._included_or_refuse(organization_id, content.includes)
        values = self._values(resolved.version, included, request.variables)
        reply = prompt_service_pb2.RenderPromptResponse(
            prompt_id=resolved.prompt.id,
            version_id=resolved.version.id,
            version=resolved.version.version,
            label=label,
            shared=resolved.shared,
            type=resolved.prompt.type,  # type: ignore[arg-type]
            model_config=resolved.version.model_config,
            experiment_id=experiment_id,
            variant=variant,
        )
        self._fill(reply, resolved.prompt.type, resolved.version, content, values, included)
        return reply

    async def preview(
        self, request: prompt_service_pb2.PreviewPromptRequest
    ) -> prompt_service_pb2.PreviewPromptResponse:
        organization_id = current_principal().organization_id
        content = check_content(request.type, request.version)
        try:
            included = await self.includes(organization_id, content.includes)
        except IncludeProblem as problem:
            raise include_violation(problem, "version") from problem
        values = self._values(request.version, included, request.variables)
        reply = prompt_service_pb2.PreviewPromptResponse()
        self._fill(reply, request.type, request.version, content, values, included)
        return reply

    # --- resolution ----------------------------------------------------------------------------

    async def _choose(
        self, organization_id: str, name: str, label: str, number: int, bucketing_key: str
    ) -> tuple[Resolved, str, str]:
        """The version to render, and the experiment and variant that chose it (if any)."""
        partition, prompt = await self._prompt_for(organization_id, name, label, number)
        experiment_id = variant = ""
        if label and (running := prompt.experiments.get(label)) is not None:
            chosen = running.variants[assign(running.id, bucketing_key, running.variants)]
            number, experiment_id, variant = chosen.version, running.id, chosen.name
        elif label:
            number = prompt.labels[label].version
        if label:
            version = await self._labelled_version(partition, prompt.id, number)
        else:
            version = await self._prompts.version(partition, prompt.id, number)
        if version is None:
            raise NotFound(
                f"prompt {name} has no version {number}",
                reason="VERSION_NOT_FOUND",
                violations=[FieldViolation("version", f"no version {number}")],
            )
        return Resolved(partition, prompt, version), experiment_id, variant

    async def _named(self, partition: str, name: str) -> PromptState | None:
        """The partition's prompt of that name: one read when its id is cached (a stale id,
        of a prompt deleted since, falls back to the name's claim)."""
        known = self._prompt_ids.get((partition, name))
        if known is not None:
            state = await self._prompts.prompt(partition, known)
            if state is not None and state.name == name:
                return state
        state = await self._prompts.prompt_by_name(partition, name)
        if state is not None:
            self._prompt_ids.put((partition, name), state.id)
        return state

    async def _labelled_version(
        self, partition: str, prompt_id: str, number: int
    ) -> prompt_pb2.PromptVersion | None:
        key = (partition, version_id(prompt_id, number))
        found = self._versions.get(key)
        if found is None:
            found = await self._prompts.version(partition, prompt_id, number)
            if found is not None:
                self._versions.put(key, found)
        return found

    async def _prompt_for(
        self, organization_id: str, name: str, label: str, number: int
    ) -> tuple[str, PromptState]:
        own = await self._named(organization_id, name)
        if own is not None and (not label or label in own.labels or label in own.experiments):
            return organization_id, own
        await self._library.ensure()
        shared = await self._named(SHARED_PARTITION, name)
        if shared is not None and (not label or label in shared.labels):
            return SHARED_PARTITION, shared
        if own is None and shared is None:
            raise NotFound(
                f"no prompt named {name}",
                reason="PROMPT_NOT_FOUND",
                violations=[FieldViolation("name", f"no prompt named {name}")],
            )
        raise NotFound(
            f"prompt {name} has no label {label}",
            reason="LABEL_NOT_FOUND",
            violations=[FieldViolation("label", f"{name} has no label {label}")],
        )

    async def resolve_reference(self, organization_id: str, reference: str) -> Resolved:
        """The version an include's `name@label` means now; IncludeProblem when none."""
        match = INCLUDE_REFERENCE.match(reference)
        if match is None:
            raise IncludeProblem(reference, "is not a name@label reference")
        name, label = match["name"], match["label"]
        try:
            partition, prompt = await self._prompt_for(organization_id, name, label, 0)
        except NotFound as missing:
            raise IncludeProblem(reference, missing.message) from missing
        if prompt.type != prompt_pb2.PROMPT_TYPE_TEXT:
            raise IncludeProblem(reference, "only text prompts can be included")
        target = prompt.labels.get(label)
        version = (
            None
            if target is None
            else await self._labelled_version(partition, prompt.id, target.version)
        )
        if version is None:
            raise IncludeProblem(reference, "its label points at no version")
        return Resolved(partition, prompt, version)

    async def includes(
        self,
        organization_id: str,
        references: Sequence[str],
        *,
        including: str = "",
    ) -> Included:
        """Every template the references include, transitively, with their declarations;
        IncludeProblem for one that does not resolve, a chain deeper than MAX_INCLUDE_DEPTH or
        a cycle (including the prompt named `including`, when new content is checked)."""
        templates: dict[str, jinja2.Template] = {}
        variables: list[prompt_pb2.Variable] = []
        pending = [(reference, (including,) if including else ()) for reference in references]
        while pending:
            reference, chain = pending.pop(0)
            if reference in templates:
                continue
            name = reference.rpartition("@")[0]
            if name in chain:
                raise IncludeProblem(reference, "includes itself, directly or through others")
            if len(chain) >= MAX_INCLUDE_DEPTH:
                raise IncludeProblem(reference, f"includes nest deeper than {MAX_INCLUDE_DEPTH}")
            resolved = await self.resolve_reference(organization_id, reference)
            content = self.content(resolved)
            templates[reference] = content.templates[0].template
            variables.extend(resolved.version.variables)
            pending.extend((nested, (*chain, name)) for nested in content.includes)
        return Included(templates, tuple(variables))

    async def _included_or_refuse(
        self, organization_id: str, references: Sequence[str]
    ) -> Included:
        try:
            return await self.includes(organization_id, references)
        except IncludeProblem as problem:
            raise FailedPrecondition(
                f"the prompt includes {problem.reference}, which {problem.detail}",
                reason="INCLUDE_UNRESOLVED",
                metadata={"include": problem.reference},
            ) from problem

    def content(self, resolved: Resolved) -> Content:
        """The version's compiled templates, from the cache when they were compiled before."""
        key = (resolved.partition, resolved.version.id)
        found = self._compiled.get(key)
        if found is None:
            found = compile_content(resolved.prompt.type, resolved.version)
            self._compiled.put(key, found)
        return found

    # --- values and output ---------------------------------------------------------------------

    @staticmethod
    def _values(
        version: prompt_pb2.PromptVersion,
        included: Included,
        given: Mapping[str, struct_pb2.Value],
    ) -> dict[str, object]:
        values, violations = resolve_values([*version.variables, *included.variables], given)
        if violations:
            raise InvalidArgument(
                f"{violations[0].field}: {violations[0].description}",
                reason="VARIABLES_INVALID",
                violations=violations,
            )
        return values

    @staticmethod
    def _fill(
        reply: prompt_service_pb2.RenderPromptResponse | prompt_service_pb2.PreviewPromptResponse,
        prompt_type: int,
        version: prompt_pb2.PromptVersion,
        content: Content,
        values: Mapping[str, object],
        included: Included,
    ) -> None:
        try:
            if prompt_type == prompt_pb2.PROMPT_TYPE_TEXT:
                reply.text = render(content.templates[0], values, included.templates)
                return
            for message, compiled in zip(version.messages, content.templates, strict=True):
                text = render(compiled, values, included.templates)
                reply.messages.add(role=message.role, content=text)
        except RenderRefused as refused:
            field = f"variables.{refused.undefined}" if refused.undefined else "variables"
            raise refused.error(field) from refused


def include_violation(problem: IncludeProblem, field: str) -> InvalidArgument:
    """An include problem found while checking new content, as INVALID_ARGUMENT on `field`."""
    return InvalidArgument(
        f"the template includes {problem.reference}, which {problem.detail}",
        reason="INCLUDE_UNRESOLVED",
        violations=[FieldViolation(field, f"{problem.reference} {problem.detail}")],
    )
