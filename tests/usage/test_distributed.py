"""Distributed mode: counters and configuration are shared through Redis, so a replica that
recorded no event answers CheckQuota with what another recorded, and a quota created on one
is counted by the other at once; a cold cache is refilled from the store. Two replicas
recording into one store at once race on etags and neither loses nor doubles an event."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from pathlib import Path

import grpc
import pytest
import redis.asyncio as aioredis

from coder.usage.v1 import resources_pb2
from coder.usage.v1 import usage_service_pb2 as api
from coder.usage.v1.usage_service_pb2_grpc import UsageServiceStub
from services.kit import Host, ManualClock, Resources, Settings, open_resources
from services.usage import SERVICE
from services.usage._ledger import Counter
from services.usage.service.counters import Counters
from tests.fixtures.tokens import TokenFactory, auth
from tests.fixtures.waiting import eventually
from tests.kit.cache.conftest import redis_url
from tests.usage.conftest import START
from tests.usage.factories import (
    check,
    completion,
    create_quota,
    publish,
    recorded,
    records_stored,
)

__all__ = ["redis_url"]  # fixture used by this module

pytestmark = pytest.mark.redis


@pytest.fixture
async def replicas(
    redis_url: str, tmp_path: Path, token: TokenFactory
) -> AsyncIterator[list[tuple[Resources, UsageServiceStub]]]:
    """Two usage replicas: one store, one Redis, each its own (in-process) bus."""
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'shared.db'}", bus_url="memory://", cache_url=redis_url
    )
    async with AsyncExitStack() as stack:
        found = []
        for _ in range(2):
            resources = await stack.enter_async_context(
                open_resources(
                    settings, [SERVICE], clock=ManualClock(START), verifier=token.verifier()
                )
            )
            host = Host([SERVICE], resources, readiness_interval=0.2)
            await host.start()
            stack.push_async_callback(host.stop, 0)
            await host.wait_ready()
            channel = await stack.enter_async_context(
                grpc.aio.insecure_channel(f"127.0.0.1:{host.port}")
            )
            found.append((resources, UsageServiceStub(channel)))
        yield found


async def _counter_keys(redis_url: str, organization: str) -> list[bytes]:
    client = aioredis.from_url(redis_url)
    try:
        return [
            key
            async for key in client.scan_iter(match=f"coder:cache:usage:counter:{organization}:*")
        ]
    finally:
        await client.aclose()


async def _delete(redis_url: str, organization: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"coder:cache:usage:*{organization}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


class TestSharedCounters:
    async def test_a_replica_answers_with_what_another_recorded(
        self,
        replicas: list[tuple[Resources, UsageServiceStub]],
        redis_url: str,
        token: TokenFactory,
    ) -> None:
        (recorder, _), (_, answerer) = replicas
        organization = f"org-{uuid.uuid4().hex[:8]}"
        clock = ManualClock(START)
        try:
            # Created through the replica that will not record: the recorder learns of it
            # from the configuration stamp in Redis.
            quota = await create_quota(answerer, token(organization, ("admin",)), limit="1000")
            await publish(
                recorder,
                [
                    completion(organization, clock, input_tokens=600, output_tokens=0),
                    completion(organization, clock, input_tokens=300, output_tokens=50),
                ],
            )
            await recorded(recorder, organization, 2)

            # The records are visible once the recorder's batch commits; the counter reaches
            # the cache only after (the delivery is acknowledged then). The quota's creation
            # cached its status, 0, so until the publish the answer may lag: wait for it.
            async def answered() -> bool:
                return (await check(answerer, token(organization))).limits[0].used == "950"

            await eventually(answered)
            decision = await check(answerer, token(organization))
            assert decision.limits[0].limit_id == quota.id
            assert decision.limits[0].used == "950"
            assert decision.limits[0].state == resources_pb2.LIMIT_STATE_CRITICAL
            keys = await _counter_keys(redis_url, organization)
            client = aioredis.from_url(redis_url)
            try:
                values = {await client.get(key) for key in keys}
            finally:
                await client.aclose()
            assert b"950" in values

            # A cold cache is refilled from the store, to the same answer.
            await _delete(redis_url, organization)
            decision = await check(answerer, token(organization))
            assert decision.limits[0].used == "950"
            assert await _counter_keys(redis_url, organization)
        finally:
            await _delete(redis_url, organization)

    async def test_a_check_between_the_batch_and_its_publish_lags_then_follows(
        self,
        replicas: list[tuple[Resources, UsageServiceStub]],
        redis_url: str,
        token: TokenFactory,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The interleaving behind a flaky answer of 0: the recorder's batch is stored (its
        records visible), its cache publish not yet made. The cache then still holds what the
        quota's creation seeded, and CheckQuota answers it; the publish corrects it."""
        (recorder, _), (_, answerer) = replicas
        organization = f"org-{uuid.uuid4().hex[:8]}"
        clock = ManualClock(START)
        stored = asyncio.Event()
        release = asyncio.Event()
        publish_counters = Counters.publish

        async def held(self: Counters, organization_id: str, counters: Sequence[Counter]) -> None:
            if organization_id == organization:
                stored.set()
                await release.wait()
            await publish_counters(self, organization_id, counters)

        monkeypatch.setattr(Counters, "publish", held)
        try:
            await create_quota(answerer, token(organization, ("admin",)), limit="1000")
            await publish(
                recorder, [completion(organization, clock, input_tokens=600, output_tokens=0)]
            )
            await asyncio.wait_for(stored.wait(), 10)
            await recorded(recorder, organization, 1)

            decision = await check(answerer, token(organization))
            assert decision.limits[0].used == "0"  # the batch is stored, not yet published

            release.set()

            async def answered() -> bool:
                return (await check(answerer, token(organization))).limits[0].used == "600"

            await eventually(answered)
        finally:
            release.set()
            await _delete(redis_url, organization)

    async def test_a_publish_that_failed_is_repaired_by_the_redelivery(
        self,
        replicas: list[tuple[Resources, UsageServiceStub]],
        redis_url: str,
        token: TokenFactory,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The batch is stored, then Redis refuses the counters' update: the delivery fails
        and comes again. Its events are recorded by then, so the redelivery writes nothing,
        and it must still leave no stale counter behind: CheckQuota follows the store."""
        (recorder, _), (_, answerer) = replicas
        organization = f"org-{uuid.uuid4().hex[:8]}"
        clock = ManualClock(START)
        failed = asyncio.Event()
        publish_counters = Counters.publish

        async def flaky(self: Counters, organization_id: str, counters: Sequence[Counter]) -> None:
            if organization_id == organization and not failed.is_set():
                failed.set()
                raise ConnectionError("Redis went away")
            await publish_counters(self, organization_id, counters)

        monkeypatch.setattr(Counters, "publish", flaky)
        try:
            await create_quota(answerer, token(organization, ("admin",)), limit="1000")
            assert (await check(answerer, token(organization))).limits[0].used == "0"
            await publish(
                recorder, [completion(organization, clock, input_tokens=600, output_tokens=0)]
            )
            await asyncio.wait_for(failed.wait(), 10)
            await recorded(recorder, organization, 1)

            async def answered() -> bool:
                return (await check(answerer, token(organization))).limits[0].used == "600"

            await eventually(answered)
            assert await records_stored(recorder, organization) == 1  # recorded once
        finally:
            await _delete(redis_url, organization)


class TestConcurrentReplicas:
    async def test_two_replicas_recording_at_once_lose_nothing_and_double_nothing(
        self,
        replicas: list[tuple[Resources, UsageServiceStub]],
        redis_url: str,
        token: TokenFactory,
    ) -> None:
        (first, stub), (second, _) = replicas
        organization = f"org-{uuid.uuid4().hex[:8]}"
        clock = ManualClock(START)
        # Few combinations of dimensions, so both replicas keep writing the same buckets and
        # counters, and race on their etags.
        events = [
            completion(
                organization, clock, user=f"user-{n % 3}", input_tokens=n + 1, output_tokens=0
            )
            for n in range(300)
        ]
        try:
            await asyncio.gather(
                publish(first, events[:200]),  # the first 100 go to both replicas
                publish(second, events[100:]),
            )
            await recorded(first, organization, 300, within=30)
            sentinel = completion(
                organization, clock, user="user-0", input_tokens=0, output_tokens=0
            )
            await asyncio.gather(publish(first, [sentinel]), publish(second, [sentinel]))
            await recorded(first, organization, 301, within=30)
            response = await stub.QueryUsage(
                api.QueryUsageRequest(
                    group_by=["user"], meters=["ai.completion.tokens", "ai.completion.requests"]
                ),
                metadata=auth(token(organization)),
            )
            got = {(r.meter, r.dimensions["user"]): int(r.value) for r in response.rows}
            for user in range(3):
                mine = [n + 1 for n in range(300) if n % 3 == user]
                assert got[("ai.completion.tokens", f"user-{user}")] == sum(mine)
                expected = len(mine) + (1 if user == 0 else 0)
                assert got[("ai.completion.requests", f"user-{user}")] == expected
        finally:
            await _delete(redis_url, organization)
