"""Prompts, their versions and name claims, and label policies (container `prompts`)."""

from __future__ import annotations

from collections.abc import Sequence

from coder.events.v1 import event_pb2
from coder.prompt.v1 import prompt_pb2
from services.kit import Repository
from services.kit.bus import OutboxRelay
from services.kit.store import (
    MAX_BATCH_OPERATIONS,
    SYSTEM_PARTITION,
    BatchOp,
    ContainerSpec,
    Document,
    DocumentStore,
    F,
    Query,
)
from services.prompt._mapping import (
    NAME_KIND,
    POLICY_ID,
    PROMPT_KIND,
    VERSION_KIND,
    PromptState,
    name_claim_document,
    name_claim_id,
    policy_document,
    policy_from_document,
    prompt_document,
    prompt_from_document,
    version_digest,
    version_document,
    version_from_document,
    version_id,
)

PROMPTS = "prompts"
SHARED_PARTITION = SYSTEM_PARTITION
"""Where the platform's shared prompts live."""

CONTAINER = ContainerSpec(
    PROMPTS,
    indexes=(
        "/kind",
        "/name",
        "/promptId",
        "/version",
        "/includes",
        "/includedPrompts",
        "/state",
        "/variantVersions",
        "/createTime",
    ),
    outbox=True,
)


class PromptRepository(Repository):
    """Reads and atomic writes of prompts and their versions."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._prompts = self.entities(PROMPTS)

    # --- prompts: reads ------------------------------------------------------------------------

    async def prompt(self, partition: str, prompt_id: str) -> PromptState | None:
        document = await self._prompts.get(partition, prompt_id)
        if document is None or document.get("kind") != PROMPT_KIND:
            return None
        return prompt_from_document(document)

    async def prompt_by_name(self, partition: str, name: str) -> PromptState | None:
        """Two point reads: the name's claim, then the prompt it names."""
        claim = await self._prompts.get(partition, name_claim_id(name))
        if claim is None or claim.get("kind") != NAME_KIND:
            return None
        return await self.prompt(partition, claim["promptId"])

    async def list_prompts(
        self, partition: str, folder: str, page_size: int, continuation: str | None
    ) -> tuple[list[PromptState], str | None]:
        """By name; with a folder, the prompts in it and in its subfolders."""
        query = Query().where(F("kind") == PROMPT_KIND)
        if folder:
            query = query.where(F("name").startswith(f"{folder}/"))
        query = query.order_by("name").limit(page_size).after(continuation)
        page = await self._prompts.page(query, partition)
        return [prompt_from_document(d) for d in page.items], page.continuation

    async def included_by_others(self, partition: str, name: str, prompt_id: str) -> bool:
        """Whether a version of another prompt includes the prompt `name`."""
        return await self._prompts.exists(
            partition,
            F("kind") == VERSION_KIND,
            F("includedPrompts").contains(name),
            F("promptId") != prompt_id,
        )

    async def label_included(self, partition: str, name: str, label: str) -> bool:
        """Whether any version includes `name@label`."""
        return await self._prompts.exists(
            partition, F("kind") == VERSION_KIND, F("includes").contains(f"{name}@{label}")
        )

    # --- prompts: writes -----------------------------------------------------------------------

    async def create_prompt(
        self,
        state: PromptState,
        version: prompt_pb2.PromptVersion,
        events: Sequence[event_pb2.Event],
        digest: str = "",
    ) -> tuple[PromptState, prompt_pb2.PromptVersion]:
        """The prompt, its name claim and its first version in one batch; DocumentExists
        when the name is taken."""
        operations = [
            BatchOp.create(name_claim_document(state)),
            BatchOp.create(prompt_document(state)),
            BatchOp.create(version_document(version, state.organization_id, digest)),
        ]
        written = await self._prompts.commit(state.organization_id, operations, events)
        return prompt_from_document(written[1]), version_from_document(written[2])

    async def add_version(
        self,
        state: PromptState,
        if_match: str,
        version: prompt_pb2.PromptVersion,
        events: Sequence[event_pb2.Event],
        digest: str = "",
    ) -> tuple[PromptState, prompt_pb2.PromptVersion]:
        """The new version and the prompt (its `latest` moved) in one batch; EtagMismatch when
        the prompt changed since `if_match`."""
        operations = [
            BatchOp.replace(prompt_document(state), if_match=if_match),
            BatchOp.create(version_document(version, state.organization_id, digest)),
        ]
        written = await self._prompts.commit(state.organization_id, operations, events)
        return prompt_from_document(written[0]), version_from_document(written[1])

    async def replace_prompt(
        self, state: PromptState, if_match: str, events: Sequence[event_pb2.Event] = ()
    ) -> PromptState:
        operation = BatchOp.replace(prompt_document(state), if_match=if_match)
        written = await self._prompts.commit(state.organization_id, [operation], events)
        return prompt_from_document(written[0])

    async def delete_prompt(
        self, state: PromptState, if_match: str, events: Sequence[event_pb2.Event]
    ) -> None:
        """The prompt and its name claim in one batch, then its versions and experiments batch
        by batch. Once the first batch is in, the rest is unreachable (no claim, no prompt), so
        a crash between batches leaves unreachable documents, never a half-deleted prompt."""
        operations = [
            BatchOp.delete(state.id, if_match=if_match),
            BatchOp.delete(name_claim_id(state.name)),
        ]
        await self._prompts.commit(state.organization_id, operations, events)
        query = Query().where(F("promptId") == state.id).limit(MAX_BATCH_OPERATIONS)
        while True:
            page = await self._prompts.page(query, state.organization_id)
            if not page.items:
                return
            deletions = [BatchOp.delete(d["id"]) for d in page.items]
            await self._prompts.commit(state.organization_id, deletions)

    # --- versions ------------------------------------------------------------------------------

    async def version(
        self, partition: str, prompt_id: str, number: int
    ) -> prompt_pb2.PromptVersion | None:
        """One point read."""
        document = await self._version_document(partition, version_id(prompt_id, number))
        return None if document is None else version_from_document(document)

    async def version_by_id(
        self, partition: str, prompt_id: str, id: str
    ) -> prompt_pb2.PromptVersion | None:
        document = await self._version_document(partition, id)
        if document is None or document["promptId"] != prompt_id:
            return None
        return version_from_document(document)

    async def version_with_digest(
        self, partition: str, prompt_id: str, number: int
    ) -> tuple[prompt_pb2.PromptVersion, str] | None:
        document = await self._version_document(partition, version_id(prompt_id, number))
        if document is None:
            return None
        return version_from_document(document), version_digest(document)

    async def _version_document(self, partition: str, id: str) -> Document | None:
        document = await self._prompts.get(partition, id)
        if document is None or document.get("kind") != VERSION_KIND:
            return None
        return document

    async def list_versions(
        self, partition: str, prompt_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[prompt_pb2.PromptVersion], str | None]:
        """Newest first."""
        query = (
            Query()
            .where(F("kind") == VERSION_KIND, F("promptId") == prompt_id)
            .order_by("version", desc=True)
            .limit(page_size)
            .after(continuation)
        )
        page = await self._prompts.page(query, partition)
        return [version_from_document(d) for d in page.items], page.continuation

    async def newest_version_below(self, partition: str, prompt_id: str, number: int) -> int:
        """The highest version number below `number` that still exists; 0 when none does."""
        query = (
            Query()
            .where(F("kind") == VERSION_KIND, F("promptId") == prompt_id, F("version") < number)
            .order_by("version", desc=True)
            .limit(1)
        )
        page = await self._prompts.page(query, partition)
        return int(page.items[0]["version"]) if page.items else 0

    async def delete_version(
        self,
        state: PromptState,
        if_match: str,
        version: prompt_pb2.PromptVersion,
        events: Sequence[event_pb2.Event],
    ) -> PromptState:
        """The version gone and the prompt (its `latest` moved) rewritten, in one batch."""
        operations = [
            BatchOp.replace(prompt_document(state), if_match=if_match),
            BatchOp.delete(version.id),
        ]
        written = await self._prompts.commit(state.organization_id, operations, events)
        return prompt_from_document(written[0])

    # --- label policy --------------------------------------------------------------------------

    async def label_policy(self, partition: str) -> prompt_pb2.LabelPolicy | None:
        document = await self._prompts.get(partition, POLICY_ID)
        return None if document is None else policy_from_document(document)

    async def save_label_policy(
        self, partition: str, labels: list[str], update_time: str, if_match: str | None
    ) -> prompt_pb2.LabelPolicy:
        """Create the policy (if_match None) or replace it conditionally; DocumentExists or
        EtagMismatch when another writer got there first."""
        document = policy_document(partition, labels, update_time)
        operation = (
            BatchOp.create(document)
            if if_match is None
            else BatchOp.replace(document, if_match=if_match)
        )
        written = await self._prompts.commit(partition, [operation])
        return policy_from_document(written[0])
