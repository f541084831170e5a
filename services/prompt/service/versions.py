"""Versions: adding one (and moving `latest` to it), reading, deleting, and diffing two."""

from __future__ import annotations

from coder.events.v1 import event_pb2
from coder.prompt.v1 import prompt_pb2, prompt_service_pb2
from services.kit import (
    Clock,
    FailedPrecondition,
    FieldViolation,
    NotFound,
    PageRequest,
    current_principal,
    read_modify_write,
    time_text,
)
from services.kit.cache import LockManager
from services.prompt._diff import field_changes, unified_diff
from services.prompt._mapping import LabelState
from services.prompt.events import PromptEvents
from services.prompt.repository import PromptRepositories
from services.prompt.service.content import check_content
from services.prompt.service.prompts import (
    PromptCatalog,
    includes_lock,
    new_version,
    require_positive,
    with_labels,
)


class VersionService:
    """CreatePromptVersion, GetPromptVersion, ListPromptVersions, DeletePromptVersion and
    DiffPromptVersions."""

    def __init__(
        self,
        repositories: PromptRepositories,
        catalog: PromptCatalog,
        clock: Clock,
        locks: LockManager,
    ) -> None:
        self._prompts = repositories.prompts
        self._experiments = repositories.experiments
        self._catalog = catalog
        self._clock = clock
        self._locks = locks

    async def create(
        self, prompt_id: str, draft: prompt_pb2.PromptVersion
    ) -> prompt_pb2.PromptVersion:
        """The prompt's next version, with `latest` moved to it in the same write; a race with
        another writer is retried on a fresh read, so numbers stay consecutive and unique."""
        principal = current_principal()
        organization_id = principal.organization_id
        state = await self._catalog.own_prompt(organization_id, prompt_id)
        content = check_content(state.type, draft)
        protected = await self._catalog.protected(organization_id)

        async def attempt() -> prompt_pb2.PromptVersion:
            state = await self._catalog.own_prompt(organization_id, prompt_id)
            number = state.next_version
            version = new_version(draft, state.id, number, content.includes, principal, self._clock)
            now = time_text(self._clock.now())
            latest = LabelState(number, state.latest_version, principal.subject, now)
            changed = state.changed(
                latest_version=number,
                next_version=number + 1,
                labels={**state.labels, "latest": latest},
                update_time=now,
            )
            event = PromptEvents.acting(principal, self._clock).version_created(
                self._catalog.proto(changed, protected), version
            )
            stored, version = await self._prompts.add_version(changed, state.etag, version, [event])
            return with_labels(version, stored)

        if not content.includes:
            return await read_modify_write("", attempt)
        async with includes_lock(self._locks, organization_id):
            await self._catalog.check_includes(organization_id, state.name, content.includes)
            return await read_modify_write("", attempt)

    async def get(self, prompt_id: str, version_id: str) -> prompt_pb2.PromptVersion:
        organization_id = current_principal().organization_id
        partition, state = await self._catalog.any_prompt(organization_id, prompt_id)
        version = await self._prompts.version_by_id(partition, prompt_id, version_id)
        if version is None:
            raise NotFound(f"version {version_id} not found", reason="VERSION_NOT_FOUND")
        return with_labels(version, state)

    async def list_versions(
        self, request: prompt_service_pb2.ListPromptVersionsRequest
    ) -> tuple[list[prompt_pb2.PromptVersion], str]:
        organization_id = current_principal().organization_id
        page = PageRequest.of(request, organization_id)
        partition, state = await self._catalog.any_prompt(organization_id, request.prompt_id)
        versions, continuation = await self._prompts.list_versions(
            partition, state.id, page.size, page.continuation
        )
        return [with_labels(v, state) for v in versions], page.seal(continuation)

    async def delete(self, prompt_id: str, version_id: str) -> None:
        """Delete a version no label but `latest` and no unfinished experiment uses; `latest`
        moves to the newest version left, and the only version cannot go."""
        principal = current_principal()
        organization_id = principal.organization_id

        async def attempt() -> None:
            state = await self._catalog.own_prompt(organization_id, prompt_id)
            version = await self._prompts.version_by_id(organization_id, prompt_id, version_id)
            if version is None:
                raise NotFound(f"version {version_id} not found", reason="VERSION_NOT_FOUND")
            number = version.version
            labelled = [label for label in state.labels_on(number) if label != "latest"]
            if labelled:
                raise FailedPrecondition(
                    f"version {number} carries the labels {', '.join(labelled)}; move them first",
                    reason="VERSION_LABELLED",
                    metadata={"labels": ",".join(labelled)},
                )
            if await self._experiments.version_in_use(organization_id, prompt_id, number):
                raise FailedPrecondition(
                    f"an experiment that has not stopped uses version {number}",
                    reason="VERSION_IN_EXPERIMENT",
                )
            changed = state.changed(update_time=time_text(self._clock.now()))
            events = PromptEvents.acting(principal, self._clock)
            moved: list[event_pb2.Event] = []
            if state.latest_version == number:
                below = await self._prompts.newest_version_below(organization_id, prompt_id, number)
                if not below:
                    raise FailedPrecondition(
                        f"version {number} is the prompt's only version; delete the prompt instead",
                        reason="LAST_VERSION",
                    )
                latest = LabelState(below, number, principal.subject, changed.update_time)
                changed = changed.changed(
                    latest_version=below, labels={**state.labels, "latest": latest}
                )
                moved.append(
                    events.label_moved(
                        self._catalog.proto(changed, frozenset()), "latest", number, below
                    )
                )
            deleted = events.version_deleted(self._catalog.proto(changed, frozenset()), version)
            await self._prompts.delete_version(changed, state.etag, version, [deleted, *moved])

        await read_modify_write("", attempt)

    async def diff(
        self, request: prompt_service_pb2.DiffPromptVersionsRequest
    ) -> prompt_service_pb2.DiffPromptVersionsResponse:
        organization_id = current_principal().organization_id
        partition, state = await self._catalog.any_prompt(organization_id, request.prompt_id)
        require_positive(request.from_version, "from_version")
        require_positive(request.to_version, "to_version")
        versions = []
        for field, number in (
            ("from_version", request.from_version),
            ("to_version", request.to_version),
        ):
            version = await self._prompts.version(partition, state.id, number)
            if version is None:
                raise NotFound(
                    f"prompt {state.name} has no version {number}",
                    reason="VERSION_NOT_FOUND",
                    violations=[FieldViolation(field, f"no version {number}")],
                )
            versions.append(with_labels(version, state))
        before, after = versions
        return prompt_service_pb2.DiffPromptVersionsResponse(
            to=after,
            content_diff=unified_diff(before, after),
            changes=field_changes(before, after),
            commit_message_changed=before.commit_message != after.commit_message,
            **{"from": before},
        )
