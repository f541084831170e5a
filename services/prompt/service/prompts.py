"""Prompts: creating one with its first version, reading (the organization's own and the shared
ones), updating its description and tags, deleting, and overriding a shared prompt.

The organization always comes from the caller's token; another organization's ids are not
found. Shared prompts are readable by every organization and written only by the library.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from google.protobuf.field_mask_pb2 import FieldMask

from coder.prompt.v1 import prompt_pb2, prompt_service_pb2
from services.kit import (
    AlreadyExists,
    Clock,
    DocumentExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    Principal,
    apply_update,
    check_etag,
    current_principal,
    new_id,
    read_modify_write,
    require_field,
    time_text,
    update_paths,
)
from services.kit.cache import Lock, LockManager
from services.prompt._mapping import LabelState, PromptState, version_id
from services.prompt.events import PromptEvents
from services.prompt.repository import SHARED_PARTITION, PromptRepositories
from services.prompt.service.content import check_content
from services.prompt.service.library import SharedLibrary
from services.prompt.service.rendering import IncludeProblem, RenderService, include_violation

WRITABLE = ("description", "tags")
OUTPUT_ONLY = frozenset(
    {
        "id",
        "organization_id",
        "name",
        "folder",
        "type",
        "latest_version",
        "labels",
        "shared",
        "overrides_shared",
        "created_by",
        "create_time",
        "update_time",
    }
)
DEFAULT_PROTECTED = ("production",)
"""The protected labels of an organization that has set no label policy."""
INCLUDES_LOCK_TTL = 10.0
"""Seconds an includes lock lives if its holder dies; a check and a write take milliseconds."""


def includes_lock(locks: LockManager, organization_id: str) -> AbstractAsyncContextManager[Lock]:
    """Serializes the changes that add include references (a version that includes a prompt)
    with those that must see none (deleting a prompt, removing a label): the references live
    in other documents than the one written, so no etag can guard them."""
    return locks.lock(f"prompt:includes:{organization_id}", ttl=INCLUDES_LOCK_TTL, wait=5.0)


def new_version(
    draft: prompt_pb2.PromptVersion,
    prompt_id: str,
    number: int,
    includes: tuple[str, ...],
    principal: Principal,
    clock: Clock,
) -> prompt_pb2.PromptVersion:
    """A version of the draft's writable content, numbered and stamped."""
    version = prompt_pb2.PromptVersion(
        id=version_id(prompt_id, number),
        prompt_id=prompt_id,
        version=number,
        template=draft.template,
        messages=draft.messages,
        variables=draft.variables,
        commit_message=draft.commit_message,
        includes=includes,
        created_by=principal.subject,
    )
    version.model_config.CopyFrom(draft.model_config)
    version.create_time.FromDatetime(clock.now())
    return version


def with_labels(version: prompt_pb2.PromptVersion, state: PromptState) -> prompt_pb2.PromptVersion:
    del version.labels[:]
    version.labels.extend(state.labels_on(version.version))
    return version


class PromptCatalog:
    """CreatePrompt, GetPrompt, ListPrompts, UpdatePrompt, DeletePrompt, ListSharedPrompts and
    OverrideSharedPrompt; and the prompt lookups the other parts share."""

    def __init__(
        self,
        repositories: PromptRepositories,
        library: SharedLibrary,
        rendering: RenderService,
        clock: Clock,
        locks: LockManager,
    ) -> None:
        self._repositories = repositories
        self._prompts = repositories.prompts
        self._library = library
        self._rendering = rendering
        self._clock = clock
        self._locks = locks

    # --- lookups -------------------------------------------------------------------------------

    def proto(self, state: PromptState, protected: frozenset[str]) -> prompt_pb2.Prompt:
        overrides = not state.shared and state.name in self._library.names
        return state.to_proto(
            frozenset() if state.shared else protected, overrides_shared=overrides
        )

    async def any_prompt(self, organization_id: str, prompt_id: str) -> tuple[str, PromptState]:
        """(partition, prompt): the organization's prompt, or a shared one; NotFound else."""
        own = await self._prompts.prompt(organization_id, prompt_id)
        if own is not None:
            return organization_id, own
        await self._library.ensure()
        shared = await self._prompts.prompt(SHARED_PARTITION, prompt_id)
        if shared is not None:
            return SHARED_PARTITION, shared
        raise NotFound(f"prompt {prompt_id} not found", reason="PROMPT_NOT_FOUND")

    async def own_prompt(self, organization_id: str, prompt_id: str) -> PromptState:
        """The organization's prompt; FAILED_PRECONDITION for a shared one (read-only),
        NotFound for any other id."""
        partition, state = await self.any_prompt(organization_id, prompt_id)
        if partition == SHARED_PARTITION:
            raise FailedPrecondition(
                f"prompt {state.name} is shared and read-only; override it to change it",
                reason="SHARED_PROMPT_READ_ONLY",
            )
        return state

    async def protected(self, organization_id: str) -> frozenset[str]:
        """The organization's protected labels (`production` until its policy says otherwise)."""
        policy = await self._prompts.label_policy(organization_id)
        return frozenset(DEFAULT_PROTECTED if policy is None else policy.protected_labels)

    # --- RPCs ----------------------------------------------------------------------------------

    async def create(
        self, draft: prompt_pb2.Prompt, version_draft: prompt_pb2.PromptVersion
    ) -> tuple[prompt_pb2.Prompt, prompt_pb2.PromptVersion]:
        """Store a new prompt and its version 1 (labelled `latest`); ALREADY_EXISTS when the
        organization has a prompt of that name."""
        require_field(draft.type, "prompt.type", "text or chat")
        return await self._create(
            current_principal(),
            draft.name,
            draft.type,
            draft.description,
            tuple(draft.tags),
            version_draft,
        )

    async def _create(
        self,
        principal: Principal,
        name: str,
        prompt_type: int,
        description: str,
        tags: tuple[str, ...],
        version_draft: prompt_pb2.PromptVersion,
    ) -> tuple[prompt_pb2.Prompt, prompt_pb2.PromptVersion]:
        organization_id = principal.organization_id
        content = check_content(prompt_type, version_draft)
        now = time_text(self._clock.now())
        state = PromptState(
            id=new_id(),
            organization_id=organization_id,
            name=name,
            type=prompt_type,
            description=description,
            tags=tags,
            latest_version=1,
            next_version=2,
            created_by=principal.subject,
            create_time=now,
            update_time=now,
            labels={"latest": LabelState(1, 0, principal.subject, now)},
        )
        version = new_version(version_draft, state.id, 1, content.includes, principal, self._clock)
        protected = await self.protected(organization_id)
        event = PromptEvents.acting(principal, self._clock).version_created(
            self.proto(state, protected), version
        )

        async def write() -> tuple[PromptState, prompt_pb2.PromptVersion]:
            try:
                return await self._prompts.create_prompt(state, version, [event])
            except DocumentExists as taken:
                raise AlreadyExists(
                    f"the organization has a prompt named {name}",
                    reason="PROMPT_EXISTS",
                    violations=[FieldViolation("prompt.name", f"{name} is taken")],
                ) from taken

        if content.includes:
            async with includes_lock(self._locks, organization_id):
                await self._check_includes(organization_id, name, content.includes)
                stored, version = await write()
        else:
            stored, version = await write()
        return self.proto(stored, protected), with_labels(version, stored)

    async def _check_includes(
        self, organization_id: str, name: str, references: tuple[str, ...]
    ) -> None:
        try:
            await self._rendering.includes(organization_id, references, including=name)
        except IncludeProblem as problem:
            raise include_violation(problem, "version") from problem

    async def check_includes(
        self, organization_id: str, name: str, references: tuple[str, ...]
    ) -> None:
        """INVALID_ARGUMENT when new content of prompt `name` includes what does not resolve
        to a text prompt, or closes a cycle through `name`."""
        await self._check_includes(organization_id, name, references)

    async def get(self, prompt_id: str) -> prompt_pb2.Prompt:
        organization_id = current_principal().organization_id
        _, state = await self.any_prompt(organization_id, prompt_id)
        return self.proto(state, await self.protected(organization_id))

    async def list_prompts(
        self, request: prompt_service_pb2.ListPromptsRequest
    ) -> tuple[list[prompt_pb2.Prompt], str]:
        """A page of the organization's prompts by name, and the next page's token."""
        organization_id = current_principal().organization_id
        page = PageRequest.of(request, organization_id)
        states, continuation = await self._prompts.list_prompts(
            organization_id, request.folder, page.size, page.continuation
        )
        protected = await self.protected(organization_id)
        return [self.proto(state, protected) for state in states], page.seal(continuation)

    async def list_shared(
        self, request: prompt_service_pb2.ListSharedPromptsRequest
    ) -> tuple[list[prompt_pb2.Prompt], str]:
        organization_id = current_principal().organization_id
        await self._library.ensure()
        page = PageRequest.of(request, organization_id)
        states, continuation = await self._prompts.list_prompts(
            SHARED_PARTITION, "", page.size, page.continuation
        )
        return [self.proto(state, frozenset()) for state in states], page.seal(continuation)

    async def update(self, changes: prompt_pb2.Prompt, mask: FieldMask) -> prompt_pb2.Prompt:
        """Apply the masked fields (description, tags) of `changes`; without an etag, a lost
        race is retried on a fresh read."""
        paths = update_paths(mask, changes, "prompt", WRITABLE, output_only=OUTPUT_ONLY)
        require_field(changes.id, "prompt.id", "name what to update")
        organization_id = current_principal().organization_id
        protected = await self.protected(organization_id)

        async def attempt() -> prompt_pb2.Prompt:
            state = await self.own_prompt(organization_id, changes.id)
            check_etag(changes.etag, state.etag, "prompt")
            current = self.proto(state, protected)
            updated, changed = apply_update(current, changes, paths)
            if not changed:
                return current
            stored = await self._prompts.replace_prompt(
                state.changed(
                    description=updated.description,
                    tags=tuple(updated.tags),
                    update_time=time_text(self._clock.now()),
                ),
                state.etag,
            )
            return self.proto(stored, protected)

        return await read_modify_write(changes.etag, attempt)

    async def delete(self, prompt_id: str, etag: str) -> None:
        """Delete a prompt nothing depends on: no label but `latest`, no running experiment,
        no other prompt including it."""
        principal = current_principal()
        organization_id = principal.organization_id
        async with includes_lock(self._locks, organization_id):
            state = await self.own_prompt(organization_id, prompt_id)
            check_etag(etag, state.etag, "prompt")
            labelled = sorted(name for name in state.labels if name != "latest")
            if labelled:
                raise FailedPrecondition(
                    f"prompt {state.name} still carries the labels {', '.join(labelled)}; "
                    "remove them first",
                    reason="PROMPT_LABELLED",
                    metadata={"labels": ",".join(labelled)},
                )
            if state.experiments:
                raise FailedPrecondition(
                    f"an experiment runs on prompt {state.name}; stop it first",
                    reason="EXPERIMENT_RUNNING",
                )
            if await self._prompts.included_by_others(organization_id, state.name, state.id):
                raise FailedPrecondition(
                    f"another prompt includes {state.name}; change it first",
                    reason="PROMPT_INCLUDED",
                )
            experiments = await self._repositories.experiments.experiment_ids(
                organization_id, state.id
            )
            event = PromptEvents.acting(principal, self._clock).prompt_deleted(
                self.proto(state, frozenset())
            )
            await self._prompts.delete_prompt(state, state.etag, [event])
        await self._repositories.experiments.delete_outcomes(organization_id, experiments)

    async def override_shared(
        self, shared_id: str, number: int
    ) -> tuple[prompt_pb2.Prompt, prompt_pb2.PromptVersion]:
        """The organization's own prompt of a shared prompt's name, its version 1 a copy of
        the shared version `number` (0: the one labelled `production`)."""
        await self._library.ensure()
        shared = await self._prompts.prompt(SHARED_PARTITION, shared_id)
        if shared is None:
            raise NotFound(f"shared prompt {shared_id} not found", reason="PROMPT_NOT_FOUND")
        if not number:
            number = shared.labels["production"].version
        source = await self._prompts.version(SHARED_PARTITION, shared.id, number)
        if source is None:
            raise NotFound(
                f"shared prompt {shared.name} has no version {number}",
                reason="VERSION_NOT_FOUND",
                violations=[FieldViolation("version", f"no version {number}")],
            )
        draft = prompt_pb2.PromptVersion()
        draft.CopyFrom(source)
        draft.commit_message = f"Copy of the shared prompt's version {number}"
        return await self._create(
            current_principal(), shared.name, shared.type, shared.description, shared.tags, draft
        )


def require_positive(value: int, field: str) -> None:
    if value <= 0:
        raise InvalidArgument(
            f"{field} is required", violations=[FieldViolation(field, "must be a version number")]
        )
