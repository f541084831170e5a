"""Lockout: five failed sign-ins lock the account for thirty minutes, then it opens again."""

from __future__ import annotations

import grpc

from coder.identity.v1 import identity_service_pb2 as api
from tests.fixtures.grpc_errors import error_reason, rich_status, rpc_error
from tests.fixtures.tokens import auth
from tests.identity.conftest import TimedServer, manual_clock
from tests.identity.factories import PASSWORD, login, register, unique_email


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
