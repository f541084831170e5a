"""What dispatch and sending read of an organization for every event — its people, its
preferences, its templates and its webhook endpoints — remembered per process, so an event
costs one cache lookup instead of half a dozen store reads.

The cache (in-process embedded, Redis distributed) holds one version stamp per organization;
every write of a preference, template, endpoint or directory entry sets a new stamp once it is
committed (`Lookups.changed`). A process keeps one `Snapshot` per organization, for the stamp it
last saw, filled from the store at first use of each entry: a change made on any replica is
seen by every replica at its next event. An event that took the old stamp just before a change
may still read the old entry (it raced the write); none reads it after the new stamp is set.
Concurrent first reads of one entry share one store read.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from coder.notification.v1 import resources_pb2
from services.kit import new_id
from services.kit.cache import Cache
from services.notification.repository import Document, NotificationRepository
from services.notification.service.preferences import (
    ORGANIZATION_KEY,
    Effective,
    effective,
    user_key,
)

T = TypeVar("T")

ORGANIZATIONS = 1024
"""Organizations whose snapshot a process keeps (least recently used ones are dropped)."""
ENTRIES = 10_000
"""Entries of one kind a snapshot keeps before it starts afresh (a very large directory)."""


def _stamp_key(organization_id: str) -> str:
    return f"notification:lookups:{organization_id}"


class Snapshot:
    """One organization's lookups under one stamp."""

    def __init__(self, repository: NotificationRepository, organization_id: str) -> None:
        self._repository = repository
        self.organization_id = organization_id
        self._entries: dict[tuple[str, str], asyncio.Task[Any]] = {}

    async def _once(self, kind: str, key: str, load: Callable[[], Awaitable[T]]) -> T:
        entry = (kind, key)
        task = self._entries.get(entry)
        if task is None:
            if len(self._entries) >= ENTRIES:
                self._entries = {k: t for k, t in self._entries.items() if not t.done()}
            task = self._entries[entry] = asyncio.ensure_future(load())
        try:
            result: T = await asyncio.shield(task)
        except BaseException:
            # A failed read is not remembered: the next event reads again. (A caller that
            # is cancelled leaves the read running for the others.)
            if task.done() and self._entries.get(entry) is task:
                del self._entries[entry]
            raise
        return result

    async def person(self, user_id: str) -> Document | None:
        """The directory entry of a member (None when unknown)."""
        if not user_id:
            return None
        return await self._once(
            "person", user_id, lambda: self._repository.person(self.organization_id, user_id)
        )

    async def admins(self) -> list[Document]:
        """The organization's owners and admins still in it."""

        async def load() -> list[Document]:
            found = await self._repository.admins(self.organization_id)
            return [person for person in found if not person.get("removed")]

        return await self._once("admins", "", load)

    async def _preferences(self, key: str) -> resources_pb2.Preferences | None:
        return await self._once(
            "preferences",
            key,
            lambda: self._repository.get_preferences(self.organization_id, key),
        )

    async def preferences(self, user_id: str) -> Effective:
        """What applies to `user_id`: their own choices over the organization's defaults."""

        async def load() -> Effective:
            own = await self._preferences(user_key(user_id))
            defaults = await self._preferences(ORGANIZATION_KEY)
            return effective(tuple(layer for layer in (own, defaults) if layer is not None))

        return await self._once("effective", user_id, load)

    async def template(self, template_id: str) -> resources_pb2.Template | None:
        """The organization's own template with this id (None when it has none)."""
        return await self._once(
            "template",
            template_id,
            lambda: self._repository.get_template(self.organization_id, template_id),
        )

    async def endpoints(self) -> list[resources_pb2.WebhookEndpoint]:
        """The enabled webhook endpoints (their filters; a send reads the endpoint afresh)."""
        return await self._once(
            "endpoints", "", lambda: self._repository.enabled_endpoints(self.organization_id)
        )


class Lookups:
    """The snapshots of this process, one per organization, under the organizations' stamps."""

    def __init__(
        self,
        repository: NotificationRepository,
        cache: Cache,
        *,
        organizations: int = ORGANIZATIONS,
    ) -> None:
        self._repository = repository
        self._cache = cache
        self._organizations = organizations
        self._snapshots: OrderedDict[str, tuple[bytes, Snapshot]] = OrderedDict()

    async def of(self, organization_id: str) -> Snapshot:
        """The organization's snapshot as of its current stamp (one cache lookup)."""
        stamp = await self._stamp(organization_id)
        found = self._snapshots.get(organization_id)
        if found is not None and found[0] == stamp:
            self._snapshots.move_to_end(organization_id)
            return found[1]
        snapshot = Snapshot(self._repository, organization_id)
        self._snapshots[organization_id] = (stamp, snapshot)
        self._snapshots.move_to_end(organization_id)
        while len(self._snapshots) > self._organizations:
            self._snapshots.popitem(last=False)
        return snapshot

    async def changed(self, organization_id: str) -> None:
        """Have every process read the organization's lookups again (after a committed
        write of its people, preferences, templates or endpoints)."""
        self._snapshots.pop(organization_id, None)
        await self._cache.set(_stamp_key(organization_id), new_id().encode())

    async def _stamp(self, organization_id: str) -> bytes:
        key = _stamp_key(organization_id)
        stamp = await self._cache.get(key)
        if stamp is not None:
            return stamp
        # No stamp yet (or the cache lost it): start one; whoever sets it first wins.
        await self._cache.set_if_absent(key, new_id().encode())
        return await self._cache.get(key) or b""
