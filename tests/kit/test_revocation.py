"""Revocations: the facts identity's events stand for, the per-process mirror the verifier
checks (no network on that path), the shared set that processes load, and the transient
consumer that keeps the mirror current."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
import redis
from google.protobuf import struct_pb2
from google.protobuf.message import Message
from yarl import URL

from coder.events.v1 import event_pb2
from coder.identity.v1 import events_pb2, resources_pb2
from services.kit import (
    KeySource,
    ManualClock,
    Principal,
    Revocation,
    Revocations,
    SigningKey,
    TokenVerifier,
    Unauthenticated,
    Unavailable,
    jwks,
    revocations_of,
)
from services.kit.bus import MemoryBus, make_event
from services.kit.cache import MemoryExpiringSet, open_cache
from tests.fixtures.tcp_proxy import TcpProxy
from tests.fixtures.tokens import AUDIENCE, ISSUER

REDIS_URL = os.environ.get("CODER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RETENTION = 930.0
START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


async def eventually(condition: Callable[[], bool], *, within: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"condition not met within {within} s")
        await asyncio.sleep(0.01)


def identity_event(event_type: str, data: Message, clock: ManualClock) -> event_pb2.Event:
    return make_event(event_type, "org-a", "subject", data, clock=clock)


def session_revoked(clock: ManualClock, session_id: str = "s-1") -> event_pb2.Event:
    payload = events_pb2.SessionChanged(
        user_id="u-1", session=resources_pb2.Session(id=session_id), reason="logout"
    )
    return identity_event("identity.session.revoked", payload, clock)


def member_event(
    clock: ManualClock, event_type: str = "identity.member.removed", user_id: str = "u-1"
) -> event_pb2.Event:
    payload = events_pb2.MemberChanged(
        member=resources_pb2.Member(organization_id="org-a", user_id=user_id, role="member")
    )
    return identity_event(event_type, payload, clock)


def principal(
    *, subject: str = "u-1", organization: str = "org-a", session: str = "", issued_at: float
) -> Principal:
    return Principal(subject, organization, session_id=session, issued_at=issued_at)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def mirror(clock: ManualClock) -> Revocations:
    return Revocations(MemoryExpiringSet(clock=clock), clock=clock, retention_seconds=RETENTION)


class TestFacts:
    @pytest.mark.parametrize(
        "fact",
        [
            Revocation.of_session("s-1", 1_700_000_000.123),
            Revocation.of_subject("org-a", "u-1", 1_700_000_000.5),
        ],
    )
    def test_a_fact_round_trips_through_the_shared_set(self, fact: Revocation) -> None:
        assert Revocation.decode(fact.encode()) == fact

    @pytest.mark.parametrize("text", ["", "nope", "[]", '["session", "", 1]', '["x", "a", 1]'])
    def test_anything_else_decodes_to_nothing(self, text: str) -> None:
        assert Revocation.decode(text) is None

    def test_the_revoking_events_stand_for_their_facts(self, clock: ManualClock) -> None:
        at = START.timestamp()
        account = resources_pb2.ServiceAccount(id="sa-1", organization_id="org-a")
        changed = events_pb2.ServiceAccountChanged(service_account=account)
        cases = [
            (session_revoked(clock), Revocation.of_session("s-1", at)),
            (member_event(clock), Revocation.of_subject("org-a", "u-1", at)),
            (
                member_event(clock, "identity.member.role_changed"),
                Revocation.of_subject("org-a", "u-1", at),
            ),
            (
                identity_event("identity.service_account.disabled", changed, clock),
                Revocation.of_subject("org-a", "sa-1", at),
            ),
            (
                identity_event("identity.service_account.deleted", changed, clock),
                Revocation.of_subject("org-a", "sa-1", at),
            ),
        ]
        for event, fact in cases:
            assert revocations_of(event) == [fact], event.type

    def test_other_events_and_foreign_payloads_stand_for_nothing(self, clock: ManualClock) -> None:
        assert revocations_of(member_event(clock, "identity.member.added")) == []
        wrong = identity_event("identity.session.revoked", struct_pb2.Struct(), clock)
        assert revocations_of(wrong) == []


class TestMirror:
    def test_every_token_of_a_revoked_session_is_refused(
        self, mirror: Revocations, clock: ManualClock
    ) -> None:
        mirror.learn(Revocation.of_session("s-1", START.timestamp()))
        later = START.timestamp() + 60
        assert mirror.refusal(principal(session="s-1", issued_at=later))
        assert not mirror.refusal(principal(session="s-2", issued_at=later))

    def test_a_subject_loses_the_tokens_issued_before_to_the_millisecond(
        self, mirror: Revocations
    ) -> None:
        at = START.timestamp() + 0.5
        mirror.learn(Revocation.of_subject("org-a", "u-1", at))
        assert mirror.refusal(principal(issued_at=at - 0.001))
        assert not mirror.refusal(principal(issued_at=at))
        assert not mirror.refusal(principal(issued_at=at + 0.001))
        assert not mirror.refusal(principal(organization="org-b", issued_at=at - 60))
        assert not mirror.refusal(principal(subject="u-2", issued_at=at - 60))

    def test_the_latest_change_of_a_subject_counts(self, mirror: Revocations) -> None:
        first, second = START.timestamp(), START.timestamp() + 30
        mirror.learn(Revocation.of_subject("org-a", "u-1", second))
        mirror.learn(Revocation.of_subject("org-a", "u-1", first))
        assert mirror.revokes("org-a", "u-1", second - 1)

    async def test_a_fact_is_forgotten_once_every_token_it_refuses_has_expired(
        self, mirror: Revocations, clock: ManualClock
    ) -> None:
        mirror.learn(Revocation.of_session("old", START.timestamp() - RETENTION - 1))
        assert not mirror.refusal(principal(session="old", issued_at=START.timestamp()))

        mirror.learn(Revocation.of_subject("org-a", "u-1", START.timestamp()))
        clock.advance(RETENTION + 1)
        await mirror.sync()  # which also forgets what has served its time
        assert not mirror.revokes("org-a", "u-1", START.timestamp() - 1)


class TestVerifier:
    @pytest.fixture
    def key(self) -> SigningKey:
        return SigningKey.generate()

    def verifier(self, key: SigningKey, revocations: Revocations) -> TokenVerifier:
        verifier = TokenVerifier(
            KeySource(jwks=jwks([key])), issuer=ISSUER, audience=AUDIENCE, max_lifetime=900
        )
        verifier.honour(revocations)
        return verifier

    def mint(self, key: SigningKey, *, now: float | None = None, session: str = "s-1") -> str:
        return key.mint(
            subject="u-1",
            organization_id="org-a",
            issuer=ISSUER,
            audience=AUDIENCE,
            session_id=session,
            now=now,
        )

    async def test_a_cached_token_is_refused_once_its_session_is_revoked(
        self, key: SigningKey, clock: ManualClock
    ) -> None:
        revocations = Revocations(
            MemoryExpiringSet(clock=clock), clock=clock, retention_seconds=RETENTION
        )
        verifier = self.verifier(key, revocations)
        token = self.mint(key)
        assert (await verifier.verify(token)).session_id == "s-1"

        revocations.learn(Revocation.of_session("s-1", clock.now().timestamp()))

        with pytest.raises(Unauthenticated) as refused:
            await verifier.verify(token)
        assert refused.value.reason == "TOKEN_REVOKED"

    async def test_a_token_issued_just_after_a_subjects_change_passes(
        self, key: SigningKey
    ) -> None:
        clock = ManualClock(datetime.now(UTC))
        revocations = Revocations(
            MemoryExpiringSet(clock=clock), clock=clock, retention_seconds=RETENTION
        )
        verifier = self.verifier(key, revocations)
        at = int(clock.now().timestamp()) + 0.5
        revocations.learn(Revocation.of_subject("org-a", "u-1", at))

        before = self.mint(key, now=at - 0.002, session="s-1")
        after = self.mint(key, now=at + 0.002, session="s-2")

        with pytest.raises(Unauthenticated, match="revoked"):
            await verifier.verify(before)
        assert (await verifier.verify(after)).issued_at == pytest.approx(at + 0.002, abs=0.001)

    async def test_a_token_living_longer_than_revocations_are_kept_is_refused(
        self, key: SigningKey, mirror: Revocations
    ) -> None:
        long_lived = key.mint(
            subject="u-1",
            organization_id="org-a",
            issuer=ISSUER,
            audience=AUDIENCE,
            lifetime_seconds=3600,
        )
        with pytest.raises(Unauthenticated) as refused:
            await self.verifier(key, mirror).verify(long_lived)
        assert refused.value.reason == "TOKEN_INVALID"


class TestSharedSet:
    async def test_what_one_process_records_another_loads(self, clock: ManualClock) -> None:
        shared = MemoryExpiringSet(clock=clock)
        identity = Revocations(shared, clock=clock, retention_seconds=RETENTION)
        planning = Revocations(shared, clock=clock, retention_seconds=RETENTION)

        await identity.record([session_revoked(clock), member_event(clock)])

        assert identity.refusal(principal(session="s-1", issued_at=START.timestamp()))
        assert not planning.refusal(principal(session="s-1", issued_at=START.timestamp()))
        await planning.sync()
        assert planning.refusal(principal(session="s-1", issued_at=START.timestamp()))
        assert planning.revokes("org-a", "u-1", START.timestamp() - 1)

    async def test_a_loaded_fact_keeps_only_the_time_it_had_left(self, clock: ManualClock) -> None:
        shared = MemoryExpiringSet(clock=clock)
        await Revocations(shared, clock=clock, retention_seconds=RETENTION).record(
            [session_revoked(clock)]
        )
        clock.advance(RETENTION - 10)
        late = Revocations(shared, clock=clock, retention_seconds=RETENTION)
        await late.sync()
        assert late.refusal(principal(session="s-1", issued_at=START.timestamp()))
        clock.advance(11)
        await late.sync()
        assert not late.refusal(principal(session="s-1", issued_at=START.timestamp()))


class TestFeed:
    async def test_a_published_revocation_reaches_the_mirror(self, clock: ManualClock) -> None:
        bus = MemoryBus()
        await bus.start()
        revocations = Revocations(
            MemoryExpiringSet(clock=clock), clock=clock, retention_seconds=RETENTION
        )
        await revocations.start(bus)
        try:
            await revocations.ping()
            await bus.publish([session_revoked(clock, "s-feed")])
            await eventually(
                lambda: bool(
                    revocations.refusal(principal(session="s-feed", issued_at=START.timestamp()))
                )
            )
        finally:
            await revocations.stop()
            await bus.close()


@pytest.fixture
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as error:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is unreachable: {error}")
        pytest.skip(f"Redis is unreachable: {error}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[TcpProxy]:
    target = URL(redis_url)
    async with TcpProxy(target.host or "127.0.0.1", target.port or 6379) as proxy:
        yield proxy


def through(proxy: TcpProxy, url: str) -> str:
    options = "?socket_timeout=0.5&socket_connect_timeout=0.5"
    return str(URL(url).with_host("127.0.0.1").with_port(proxy.port)) + options


@pytest.mark.redis
class TestWithoutTheNetwork:
    async def test_verification_answers_with_redis_cut_off(
        self, redis_url: str, redis_proxy: TcpProxy
    ) -> None:
        key = SigningKey.generate()
        clock = ManualClock(datetime.now(UTC))
        backends = await open_cache(
            through(redis_proxy, redis_url), prefix=f"t{os.urandom(4).hex()}:"
        )
        bus = MemoryBus()
        await bus.start()
        revocations = Revocations(backends.sets, clock=clock, retention_seconds=RETENTION)
        verifier = TokenVerifier(KeySource(jwks=jwks([key])), issuer=ISSUER, audience=AUDIENCE)
        verifier.honour(revocations)
        try:
            await revocations.start(bus)
            await revocations.ping()
            await revocations.record([session_revoked(clock, "s-revoked")])
            cached = TestVerifier().mint(key, session="s-cached")
            await verifier.verify(cached)

            await redis_proxy.cut()

            assert (await verifier.verify(cached)).session_id == "s-cached"
            fresh = TestVerifier().mint(key, session="s-fresh")
            assert (await verifier.verify(fresh)).session_id == "s-fresh"
            with pytest.raises(Unauthenticated, match="revoked"):
                await verifier.verify(TestVerifier().mint(key, session="s-revoked"))
        finally:
            await revocations.stop()
            await bus.close()
            await backends.close()

    async def test_a_process_is_not_ready_until_it_has_loaded_the_shared_set(
        self, redis_url: str, redis_proxy: TcpProxy
    ) -> None:
        clock = ManualClock(datetime.now(UTC))
        backends = await open_cache(
            through(redis_proxy, redis_url), prefix=f"t{os.urandom(4).hex()}:"
        )
        bus = MemoryBus()
        await bus.start()
        revocations = Revocations(backends.sets, clock=clock, retention_seconds=RETENTION)
        await redis_proxy.cut()
        try:
            await revocations.start(bus)
            with pytest.raises(Unavailable, match="not been loaded"):
                await revocations.ping()

            await redis_proxy.restore()

            async def ready() -> None:
                while True:
                    try:
                        await revocations.ping()
                        return
                    except Unavailable:
                        await asyncio.sleep(0.05)

            await asyncio.wait_for(ready(), 10)
        finally:
            await revocations.stop()
            await bus.close()
            await backends.close()

    async def test_recording_during_an_outage_does_not_fail_the_change(
        self, redis_url: str, redis_proxy: TcpProxy
    ) -> None:
        clock = ManualClock(datetime.now(UTC))
        backends = await open_cache(
            through(redis_proxy, redis_url), prefix=f"t{os.urandom(4).hex()}:"
        )
        revocations = Revocations(backends.sets, clock=clock, retention_seconds=RETENTION)
        try:
            await redis_proxy.cut()
            await revocations.record([session_revoked(clock, "s-1")])
            now = clock.now().timestamp()
            assert revocations.refusal(principal(session="s-1", issued_at=now))
        finally:
            await backends.close()
