"""One behaviour suite for both cache backends (memory and Redis): they must not differ."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from services.kit._errors import Aborted
from services.kit.cache import LockLost, LockNotAcquired
from tests.kit.cache.conftest import Harness

# Redis keeps real time, so time-dependent cases use short real ttls and windows; a margin on
# top of each absorbs scheduling jitter. The memory backend just moves its clock.
SHORT = 0.3
MARGIN = 0.08


class TestGetSetDelete:
    async def test_missing_key_reads_none(self, backend: Harness) -> None:
        assert await backend.cache.get("nothing") is None

    async def test_set_then_get_round_trips_any_bytes(self, backend: Harness) -> None:
        value = bytes(range(256))
        await backend.cache.set("blob", value)
        assert await backend.cache.get("blob") == value

    async def test_set_replaces_the_value(self, backend: Harness) -> None:
        await backend.cache.set("k", b"one")
        await backend.cache.set("k", b"two")
        assert await backend.cache.get("k") == b"two"

    async def test_delete_reports_whether_the_key_held_a_value(self, backend: Harness) -> None:
        await backend.cache.set("k", b"v")
        assert await backend.cache.delete("k") is True
        assert await backend.cache.get("k") is None
        assert await backend.cache.delete("k") is False

    async def test_ping_answers(self, backend: Harness) -> None:
        await backend.cache.ping()


class TestExpiry:
    async def test_value_disappears_after_its_ttl(self, backend: Harness) -> None:
        await backend.cache.set("k", b"v", ttl=SHORT)
        assert await backend.cache.get("k") == b"v"
        await backend.elapse(SHORT + MARGIN)
        assert await backend.cache.get("k") is None
        assert await backend.cache.delete("k") is False

    async def test_set_without_ttl_clears_an_earlier_ttl(self, backend: Harness) -> None:
        await backend.cache.set("k", b"v1", ttl=SHORT)
        await backend.cache.set("k", b"v2")
        await backend.elapse(SHORT + MARGIN)
        assert await backend.cache.get("k") == b"v2"

    @pytest.mark.parametrize("ttl", [0, -1.0])
    async def test_non_positive_ttl_is_refused(self, backend: Harness, ttl: float) -> None:
        with pytest.raises(ValueError, match="ttl"):
            await backend.cache.set("k", b"v", ttl=ttl)


class TestSetIfAbsent:
    async def test_only_the_first_write_lands(self, backend: Harness) -> None:
        assert await backend.cache.set_if_absent("k", b"first") is True
        assert await backend.cache.set_if_absent("k", b"second") is False
        assert await backend.cache.get("k") == b"first"

    async def test_key_is_free_again_after_delete(self, backend: Harness) -> None:
        await backend.cache.set_if_absent("k", b"first")
        await backend.cache.delete("k")
        assert await backend.cache.set_if_absent("k", b"again") is True

    async def test_key_is_free_again_after_expiry(self, backend: Harness) -> None:
        assert await backend.cache.set_if_absent("k", b"first", ttl=SHORT) is True
        assert await backend.cache.set_if_absent("k", b"second", ttl=SHORT) is False
        await backend.elapse(SHORT + MARGIN)
        assert await backend.cache.set_if_absent("k", b"third") is True
        assert await backend.cache.get("k") == b"third"


class TestIncr:
    async def test_counts_from_zero_by_any_amount(self, backend: Harness) -> None:
        assert await backend.cache.incr("n") == 1
        assert await backend.cache.incr("n", 5) == 6
        assert await backend.cache.incr("n", -2) == 4
        assert await backend.cache.get("n") == b"4"

    async def test_continues_a_counter_written_with_set(self, backend: Harness) -> None:
        await backend.cache.set("n", b"41")
        assert await backend.cache.incr("n") == 42

    async def test_ttl_starts_with_the_counter_and_is_not_pushed_back(
        self, backend: Harness
    ) -> None:
        assert await backend.cache.incr("n", ttl=SHORT) == 1
        assert await backend.cache.incr("n", ttl=60) == 2
        await backend.elapse(SHORT + MARGIN)
        assert await backend.cache.get("n") is None
        assert await backend.cache.incr("n", ttl=SHORT) == 1

    async def test_non_integer_value_is_refused(self, backend: Harness) -> None:
        await backend.cache.set("n", b"twelve")
        with pytest.raises(ValueError, match="integer"):
            await backend.cache.incr("n")
        assert await backend.cache.get("n") == b"twelve"


class TestGetMany:
    async def test_returns_present_keys_only(self, backend: Harness) -> None:
        await backend.cache.set("a", b"1")
        await backend.cache.set("b", b"2")
        found = await backend.cache.get_many(["a", "missing", "b", "a"])
        assert found == {"a": b"1", "b": b"2"}

    async def test_no_keys_gives_an_empty_dict(self, backend: Harness) -> None:
        assert await backend.cache.get_many([]) == {}

    async def test_leaves_out_expired_keys(self, backend: Harness) -> None:
        await backend.cache.set("short", b"s", ttl=SHORT)
        await backend.cache.set("long", b"l")
        await backend.elapse(SHORT + MARGIN)
        assert await backend.cache.get_many(["short", "long"]) == {"long": b"l"}


class TestExpiringSet:
    async def test_members_carry_the_time_they_have_left(self, backend: Harness) -> None:
        await backend.sets.add("revoked", "a", ttl=60)
        await backend.sets.add("revoked", "b", ttl=30)
        found = await backend.sets.members("revoked")
        assert set(found) == {"a", "b"}
        assert 59 < found["a"] <= 60
        assert 29 < found["b"] <= 30

    async def test_an_unknown_set_is_empty(self, backend: Harness) -> None:
        assert await backend.sets.members("nothing") == {}

    async def test_a_member_leaves_when_its_ttl_is_over(self, backend: Harness) -> None:
        await backend.sets.add("revoked", "short", ttl=SHORT)
        await backend.sets.add("revoked", "long", ttl=60)
        await backend.elapse(SHORT + MARGIN)
        assert set(await backend.sets.members("revoked")) == {"long"}

    async def test_adding_again_keeps_the_later_expiry(self, backend: Harness) -> None:
        await backend.sets.add("revoked", "m", ttl=60)
        await backend.sets.add("revoked", "m", ttl=SHORT)
        await backend.elapse(SHORT + MARGIN)
        assert "m" in await backend.sets.members("revoked")
        await backend.sets.add("revoked", "n", ttl=SHORT)
        await backend.sets.add("revoked", "n", ttl=120)
        assert (await backend.sets.members("revoked"))["n"] > 60

    async def test_sets_are_apart(self, backend: Harness) -> None:
        await backend.sets.add("one", "m", ttl=60)
        assert await backend.sets.members("two") == {}

    @pytest.mark.parametrize("ttl", [0, -1.0])
    async def test_non_positive_ttl_is_refused(self, backend: Harness, ttl: float) -> None:
        with pytest.raises(ValueError, match="ttl"):
            await backend.sets.add("revoked", "m", ttl=ttl)


class TestRateLimiter:
    async def test_allows_limit_hits_then_refuses(self, backend: Harness) -> None:
        decisions = [await backend.limiter.hit("ip", limit=5, window=10) for _ in range(6)]

        assert [d.allowed for d in decisions] == [True] * 5 + [False]
        assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
        assert all(d.limit == 5 for d in decisions)
        assert all(d.retry_after == 0 for d in decisions[:5])
        refused = decisions[-1]
        # One hit frees up every window / limit = 2 s; the full quota after about 10 s.
        assert 1.5 < refused.retry_after <= 2.0
        assert 9.5 < refused.reset_after <= 10.0

    async def test_waiting_retry_after_lets_the_next_hit_through(self, backend: Harness) -> None:
        for _ in range(2):
            assert (await backend.limiter.hit("ip", limit=2, window=SHORT)).allowed
        refused = await backend.limiter.hit("ip", limit=2, window=SHORT)
        assert not refused.allowed

        await backend.elapse(refused.retry_after + MARGIN / 4)
        assert (await backend.limiter.hit("ip", limit=2, window=SHORT)).allowed

    async def test_recovers_the_whole_quota_after_the_window(self, backend: Harness) -> None:
        for _ in range(3):
            await backend.limiter.hit("ip", limit=3, window=SHORT)
        assert not (await backend.limiter.hit("ip", limit=3, window=SHORT)).allowed

        await backend.elapse(SHORT + MARGIN)
        again = [await backend.limiter.hit("ip", limit=3, window=SHORT) for _ in range(4)]
        assert [d.allowed for d in again] == [True, True, True, False]

    async def test_cost_takes_that_many_units(self, backend: Harness) -> None:
        first = await backend.limiter.hit("tokens", limit=10, window=60, cost=4)
        assert (first.allowed, first.remaining) == (True, 6)

        too_big = await backend.limiter.hit("tokens", limit=10, window=60, cost=7)
        assert (too_big.allowed, too_big.remaining) == (False, 6)
        assert too_big.retry_after > 0

        fits = await backend.limiter.hit("tokens", limit=10, window=60, cost=6)
        assert (fits.allowed, fits.remaining) == (True, 0)
        assert not (await backend.limiter.hit("tokens", limit=10, window=60)).allowed

    async def test_keys_are_limited_separately(self, backend: Harness) -> None:
        assert (await backend.limiter.hit("a", limit=1, window=60)).allowed
        assert not (await backend.limiter.hit("a", limit=1, window=60)).allowed
        assert (await backend.limiter.hit("b", limit=1, window=60)).allowed

    async def test_concurrent_hits_admit_exactly_the_limit(self, backend: Harness) -> None:
        decisions = await asyncio.gather(
            *(backend.limiter.hit("burst", limit=10, window=60) for _ in range(50))
        )
        assert sum(d.allowed for d in decisions) == 10
        assert sorted(d.remaining for d in decisions if d.allowed) == list(range(10))

    @pytest.mark.parametrize(
        ("limit", "window", "cost"),
        [(0, 1.0, 1), (5, 0.0, 1), (5, -1.0, 1), (5, 1.0, 0), (5, 1.0, 6)],
    )
    async def test_unusable_arguments_are_refused(
        self, backend: Harness, limit: int, window: float, cost: int
    ) -> None:
        with pytest.raises(ValueError, match=r"limit|window|cost"):
            await backend.limiter.hit("k", limit=limit, window=window, cost=cost)


class TestLockExclusivity:
    async def test_a_held_lock_cannot_be_taken(self, backend: Harness) -> None:
        await backend.locks.acquire("job", ttl=5)
        with pytest.raises(LockNotAcquired) as refused:
            await backend.locks.acquire("job", ttl=5)
        assert refused.value.retry_after is not None
        assert 0 < refused.value.retry_after <= 5

    async def test_other_names_are_independent(self, backend: Harness) -> None:
        await backend.locks.acquire("job:1", ttl=5)
        other = await backend.locks.acquire("job:2", ttl=5)
        assert other.name == "job:2"

    async def test_not_acquired_is_a_retryable_aborted_error(self, backend: Harness) -> None:
        await backend.locks.acquire("job", ttl=5)
        with pytest.raises(Aborted) as refused:
            await backend.locks.acquire("job", ttl=5)
        assert refused.value.code == grpc.StatusCode.ABORTED
        assert refused.value.reason == "LOCK_NOT_ACQUIRED"

    async def test_waiting_gives_up_after_wait(self, backend: Harness) -> None:
        await backend.locks.acquire("job", ttl=5)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(LockNotAcquired):
            await backend.locks.acquire("job", ttl=5, wait=0.2)
        assert loop.time() - started >= 0.2

    async def test_a_waiter_gets_the_lock_when_the_holder_releases(self, backend: Harness) -> None:
        first = await backend.locks.acquire("job", ttl=5)
        waiter = asyncio.create_task(backend.locks.acquire("job", ttl=5, wait=5))
        await asyncio.sleep(0.05)
        assert not waiter.done()

        assert await first.release() is True
        second = await asyncio.wait_for(waiter, 2)
        assert second.token != first.token
        assert second.fencing > first.fencing

    async def test_expiry_frees_the_lock(self, backend: Harness) -> None:
        await backend.locks.acquire("job", ttl=SHORT)
        await backend.elapse(SHORT + MARGIN)
        await backend.locks.acquire("job", ttl=5)


class TestLockOwnership:
    async def test_a_stale_owner_cannot_release_the_new_owners_lock(self, backend: Harness) -> None:
        stale = await backend.locks.acquire("job", ttl=SHORT)
        await backend.elapse(SHORT + MARGIN)
        current = await backend.locks.acquire("job", ttl=5)

        assert await stale.release() is False
        with pytest.raises(LockNotAcquired):
            await backend.locks.acquire("job", ttl=5)
        assert await current.release() is True

    async def test_a_stale_owner_cannot_extend(self, backend: Harness) -> None:
        stale = await backend.locks.acquire("job", ttl=SHORT)
        await backend.elapse(SHORT + MARGIN)
        current = await backend.locks.acquire("job", ttl=SHORT)

        with pytest.raises(LockLost):
            await stale.extend(5)
        # The new owner's expiry was not pushed back by the stale extend.
        await backend.elapse(SHORT + MARGIN)
        assert await current.release() is False
        await backend.locks.acquire("job", ttl=5)

    async def test_release_is_harmless_twice(self, backend: Harness) -> None:
        held = await backend.locks.acquire("job", ttl=5)
        assert await held.release() is True
        assert await held.release() is False

    async def test_extend_keeps_the_lock_past_its_first_ttl(self, backend: Harness) -> None:
        held = await backend.locks.acquire("job", ttl=SHORT)
        await held.extend(5)
        await backend.elapse(SHORT + MARGIN)
        with pytest.raises(LockNotAcquired):
            await backend.locks.acquire("job", ttl=5)
        assert await held.release() is True

    async def test_fencing_tokens_increase_and_tokens_are_unique(self, backend: Harness) -> None:
        held = []
        for _ in range(4):
            lock = await backend.locks.acquire("job", ttl=5)
            held.append(lock)
            await lock.release()
        fencings = [lock.fencing for lock in held]
        assert fencings == sorted(fencings)
        assert len(set(fencings)) == len(fencings)
        assert len({lock.token for lock in held}) == len(held)

    async def test_fencing_increases_across_an_expiry_takeover(self, backend: Harness) -> None:
        stale = await backend.locks.acquire("job", ttl=SHORT)
        await backend.elapse(SHORT + MARGIN)
        current = await backend.locks.acquire("job", ttl=5)
        assert current.fencing > stale.fencing


class TestLockContextManager:
    async def test_holds_inside_and_releases_on_exit(self, backend: Harness) -> None:
        async with backend.locks.lock("job", ttl=5) as held:
            assert held.name == "job"
            with pytest.raises(LockNotAcquired):
                await backend.locks.acquire("job", ttl=5)
        await backend.locks.acquire("job", ttl=5)

    async def test_releases_when_the_body_raises(self, backend: Harness) -> None:
        with pytest.raises(RuntimeError, match="boom"):
            async with backend.locks.lock("job", ttl=5):
                raise RuntimeError("boom")
        await backend.locks.acquire("job", ttl=5)

    async def test_refuses_to_enter_while_held(self, backend: Harness) -> None:
        await backend.locks.acquire("job", ttl=5)
        entered = False
        with pytest.raises(LockNotAcquired):
            async with backend.locks.lock("job", ttl=5, wait=0.05):
                entered = True
        assert not entered
