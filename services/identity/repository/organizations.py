"""Every storage query of organizations, their members and custom roles.

Organization data is partitioned by organization id: the organization, its members and its
roles (with their name reservations, so names stay unique). Each user's partition of
`memberships` mirrors the organizations they belong to, for sign-in and switching; the
organization's membership is authoritative and written first. Slugs are unique platform-wide
in `SYSTEM_PARTITION`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime

from coder.events.v1 import event_pb2
from coder.identity.v1 import resources_pb2
from services.identity._mapping import (
    member_document,
    member_from_document,
    organization_document,
    organization_from_document,
    role_document,
    role_from_document,
    time_text,
)
from services.kit import DocumentExists, DocumentNotFound, Repository
from services.kit.bus import OutboxRelay
from services.kit.store import (
    SYSTEM_PARTITION,
    BatchOp,
    ContainerSpec,
    DocumentStore,
    F,
    PatchOp,
    Query,
    reservation_id,
)

ORGANIZATIONS = "organizations"
MEMBERSHIPS = "memberships"
ROLES = "roles"

CONTAINERS = (
    ContainerSpec(ORGANIZATIONS, indexes=("/kind",), outbox=True),
    ContainerSpec(
        MEMBERSHIPS, indexes=("/kind", "/role", "/joinTime", "/lastUsedTime"), outbox=True
    ),
    ContainerSpec(ROLES, indexes=("/kind", "/createTime"), outbox=True),
)


def _slug_id(slug: str) -> str:
    return reservation_id("slug", slug)


def _role_name_id(name: str) -> str:
    return reservation_id("name", name.casefold())


class OrganizationRepository(Repository):
    """Reads and atomic writes of organizations, memberships and custom roles."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._organizations = self.entities(ORGANIZATIONS)
        self._memberships = self.entities(MEMBERSHIPS)
        self._roles = self.entities(ROLES)

    # --- organizations -------------------------------------------------------------------------

    async def claim_slug(self, slug: str, organization_id: str) -> bool:
        try:
            await self._organizations.container.create(
                SYSTEM_PARTITION,
                {"id": _slug_id(slug), "kind": "slug", "organizationIdRef": organization_id},
            )
        except DocumentExists:
            return False
        return True

    async def release_slug(self, slug: str) -> None:
        with contextlib.suppress(DocumentNotFound):
            await self._organizations.container.delete(SYSTEM_PARTITION, _slug_id(slug))

    async def create_organization(
        self, organization: resources_pb2.Organization, event: event_pb2.Event
    ) -> None:
        operation = BatchOp.create(organization_document(organization))
        await self._organizations.commit(organization.id, [operation], [event])

    async def get_organization(self, organization_id: str) -> resources_pb2.Organization | None:
        document = await self._organizations.get(organization_id, organization_id)
        if document is None or document.get("kind") != "organization":
            return None
        return organization_from_document(document)

    async def replace_organization(
        self, organization: resources_pb2.Organization, if_match: str, event: event_pb2.Event
    ) -> resources_pb2.Organization:
        """Overwrite the organization unless it changed since `if_match` (EtagMismatch)."""
        operation = BatchOp.replace(organization_document(organization), if_match=if_match)
        written = await self._organizations.commit(organization.id, [operation], [event])
        return organization_from_document(written[0])

    # --- memberships ---------------------------------------------------------------------------

    async def add_member(self, member: resources_pb2.Member, event: event_pb2.Event) -> None:
        """The authoritative membership first, then the user's mirror of it."""
        operation = BatchOp.create(member_document(member))
        await self._memberships.commit(member.organization_id, [operation], [event])
        await self._memberships.container.upsert(
            member.user_id,
            {
                "id": member.organization_id,
                "kind": "membership",
                "organizationIdRef": member.organization_id,
                "lastUsedTime": time_text(member.join_time.ToDatetime(tzinfo=UTC)),
            },
        )

    async def get_member(self, organization_id: str, user_id: str) -> resources_pb2.Member | None:
        document = await self._memberships.get(organization_id, user_id)
        if document is None or document.get("kind") != "member":
            return None
        return member_from_document(organization_id, document)

    async def list_members(
        self, organization_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[resources_pb2.Member], str | None]:
        query = (
            Query()
            .where(F("kind") == "member")
            .order_by("joinTime")
            .limit(page_size)
            .after(continuation)
        )
        page = await self._memberships.page(query, organization_id)
        return [member_from_document(organization_id, d) for d in page.items], page.continuation

    async def count_role(self, organization_id: str, role: str) -> int:
        query = Query().where(F("kind") == "member", F("role") == role)
        return await self._memberships.count(query, organization_id)

    async def set_member_roles(
        self,
        organization_id: str,
        members: Sequence[resources_pb2.Member],
        events: Sequence[event_pb2.Event],
    ) -> None:
        """Store the members' roles in one atomic batch (an ownership transfer swaps two)."""
        operations = [
            BatchOp.patch_doc(member.user_id, [PatchOp("set", "/role", member.role)])
            for member in members
        ]
        await self._memberships.commit(organization_id, operations, events)

    async def remove_member(self, member: resources_pb2.Member, event: event_pb2.Event) -> None:
        """The authoritative membership first; a leftover mirror is ignored by readers."""
        operation = BatchOp.delete(member.user_id)
        await self._memberships.commit(member.organization_id, [operation], [event])
        with contextlib.suppress(DocumentNotFound):
            await self._memberships.container.delete(member.user_id, member.organization_id)

    async def user_memberships(self, user_id: str) -> list[tuple[str, str]]:
        """(organization id, last used time) of the user's mirror docs, most recent first."""
        query = Query().where(F("kind") == "membership").order_by("lastUsedTime", desc=True)
        documents = await self._memberships.every(query, user_id)
        return [(d["organizationIdRef"], d["lastUsedTime"]) for d in documents]

    async def touch_membership(self, user_id: str, organization_id: str, used: datetime) -> None:
        with contextlib.suppress(DocumentNotFound):
            await self._memberships.container.patch(
                user_id, organization_id, [PatchOp("set", "/lastUsedTime", time_text(used))]
            )

    # --- roles ---------------------------------------------------------------------------------

    async def create_role(self, role: resources_pb2.Role, event: event_pb2.Event) -> None:
        """The role and its name reservation in one batch, so names stay unique."""
        operations = [
            BatchOp.create(role_document(role)),
            BatchOp.create({"id": _role_name_id(role.name), "kind": "role_name"}),
        ]
        await self._roles.commit(role.organization_id, operations, [event])

    async def get_role(self, organization_id: str, role_id: str) -> resources_pb2.Role | None:
        document = await self._roles.get(organization_id, role_id)
        if document is None or document.get("kind") != "role":
            return None
        return role_from_document(organization_id, document)

    async def list_roles(self, organization_id: str) -> list[resources_pb2.Role]:
        query = Query().where(F("kind") == "role").order_by("createTime")
        documents = await self._roles.every(query, organization_id)
        return [role_from_document(organization_id, d) for d in documents]

    async def replace_role(
        self, role: resources_pb2.Role, previous_name: str, if_match: str, event: event_pb2.Event
    ) -> resources_pb2.Role:
        operations = [BatchOp.replace(role_document(role), if_match=if_match)]
        if _role_name_id(previous_name) != _role_name_id(role.name):
            operations += [
                BatchOp.delete(_role_name_id(previous_name)),
                BatchOp.create({"id": _role_name_id(role.name), "kind": "role_name"}),
            ]
        written = await self._roles.commit(role.organization_id, operations, [event])
        return role_from_document(role.organization_id, written[0])

    async def delete_role(self, role: resources_pb2.Role, event: event_pb2.Event) -> None:
        operations = [BatchOp.delete(role.id), BatchOp.delete(_role_name_id(role.name))]
        await self._roles.commit(role.organization_id, operations, [event])
