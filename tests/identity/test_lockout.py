"""Lockout: five failed sign-ins lock the account for thirty minutes, then it opens again;
concurrent attempts, on one replica or several, check no more passwords than that."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from services.identity._passwords import Passwords
from tests.fixtures.grpc_errors import error_reason, rich_status, rpc_error
from tests.fixtures.tokens import auth
from tests.identity.conftest import TimedServer, identity_settings, manual_clock, running
from tests.identity.factories import PASSWORD, login, register, unique_email

WRONG = "a wrong password!"
CONCURRENT = 20
LIMIT = 5


class HashChecks:
    """Counts the password checks of every `Passwords` object (every replica's)."""

    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def hash_checks(monkeypatch: pytest.MonkeyPatch) -> HashChecks:
    checks = HashChecks()
    original = Passwords.verify

    async def counted(self: Passwords, stored_hash: str, password: str) -> bool:
        checks.count += 1
        return await original(self, stored_hash, password)

    monkeypatch.setattr(Passwords, "verify", counted)
    return checks


async def attempt(stub: IdentityServiceStub, email: str) -> str:
    """The reason a wrong-password sign-in is refused."""
    error = await rpc_error(login(stub, email, WRONG), grpc.StatusCode.UNAUTHENTICATED)
    return error_reason(error)


class TestLockout:
    async def test_five_failures_lock_the_account_for_thirty_minutes(
        self, timed_server: TimedServer
    ) -> None:
        clock = manual_clock()
        async with timed_server(clock) as server:
            stub = server.identity
            email = unique_email()
            registered = await register(stub, email=email)
            for _ in range(5):
                error = await rpc_error(
                    login(stub, email, "a wrong password!"), grpc.StatusCode.UNAUTHENTICATED
                )
                assert error_reason(error) == "INVALID_CREDENTIALS"

            locked = await rpc_error(login(stub, email), grpc.StatusCode.UNAUTHENTICATED)
            assert error_reason(locked) == "ACCOUNT_LOCKED"
            assert any(d.type_url.endswith("RetryInfo") for d in rich_status(locked).details)

            clock.advance(29 * 60)
            await rpc_error(login(stub, email), grpc.StatusCode.UNAUTHENTICATED)

            clock.advance(60)
            result = await login(stub, email, PASSWORD)
            assert result.user.id == registered.user.id

    async def test_a_success_resets_the_count(self, timed_server: TimedServer) -> None:
        async with timed_server(manual_clock()) as server:
            stub = server.identity
            email = unique_email()
            await register(stub, email=email)
            for _ in range(4):
                await rpc_error(
                    login(stub, email, "a wrong password!"), grpc.StatusCode.UNAUTHENTICATED
                )
            await login(stub, email)
            for _ in range(4):
                await rpc_error(
                    login(stub, email, "a wrong password!"), grpc.StatusCode.UNAUTHENTICATED
                )
            await login(stub, email)

    async def test_failures_and_the_lockout_are_audited(self, timed_server: TimedServer) -> None:
        async with timed_server(manual_clock()) as server:
            stub = server.identity
            email = unique_email()
            owner = await register(stub, email=email)
            for _ in range(5):
                await rpc_error(
                    login(stub, email, "a wrong password!"), grpc.StatusCode.UNAUTHENTICATED
                )
            # The owner's access token from registration still works (lockout stops sign-ins).
            reply: api.ListAuditEventsResponse = await stub.ListAuditEvents(
                api.ListAuditEventsRequest(organization_id=owner.organization_id),
                metadata=auth(owner.access_token),
            )
            actions = [event.action for event in reply.events]
            assert actions[0] == "account.locked"
            assert actions.count("login.failed") == 5
            assert all(event.subject_id == owner.user.id for event in reply.events[:6])


class TestConcurrentAttempts:
    async def test_twenty_at_once_check_at_most_the_limit_and_lock_the_account(
        self, timed_server: TimedServer, hash_checks: HashChecks
    ) -> None:
        async with timed_server(manual_clock(), lockout_attempts=LIMIT) as server:
            stub = server.identity
            email = unique_email()
            await register(stub, email=email)
            hash_checks.count = 0

            reasons = await asyncio.gather(*(attempt(stub, email) for _ in range(CONCURRENT)))

            assert hash_checks.count == LIMIT
            assert reasons.count("INVALID_CREDENTIALS") == LIMIT
            assert reasons.count("ACCOUNT_LOCKED") == CONCURRENT - LIMIT
            locked = await rpc_error(login(stub, email), grpc.StatusCode.UNAUTHENTICATED)
            assert error_reason(locked) == "ACCOUNT_LOCKED"
            assert hash_checks.count == LIMIT  # the right password was not checked either

    async def test_two_replicas_on_one_store_share_the_limit(
        self, tmp_path: Path, hash_checks: HashChecks
    ) -> None:
        settings = identity_settings(lockout_attempts=LIMIT)
        async with (
            running(tmp_path, settings) as first,
            running(tmp_path, settings) as second,
        ):
            email = unique_email()
            await register(first.identity, email=email)
            hash_checks.count = 0
            stubs = [first.identity, second.identity] * (CONCURRENT // 2)

            reasons = await asyncio.gather(*(attempt(stub, email) for stub in stubs))

            assert hash_checks.count == LIMIT
            assert reasons.count("ACCOUNT_LOCKED") == CONCURRENT - LIMIT
            for stub in (first.identity, second.identity):
                locked = await rpc_error(login(stub, email), grpc.StatusCode.UNAUTHENTICATED)
                assert error_reason(locked) == "ACCOUNT_LOCKED"
