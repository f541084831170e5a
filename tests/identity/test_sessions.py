"""Sessions and refresh tokens: rotation, replay detection, logout, revocation, the cap."""

from __future__ import annotations

import grpc

from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error
from tests.fixtures.tokens import auth
from tests.identity.conftest import TimedServer, manual_clock
from tests.identity.factories import login, refresh, register, unique_email


async def refused(stub: IdentityServiceStub, token: str) -> str:
    """The reason a refresh with `token` is refused."""
    error = await rpc_error(refresh(stub, token), grpc.StatusCode.UNAUTHENTICATED)
    return error_reason(error)


class TestRefresh:
    async def test_a_refresh_rotates_the_token_and_keeps_the_session(
        self, stub: IdentityServiceStub
    ) -> None:
        signed_in = await register(stub)
        refreshed = await refresh(stub, signed_in.refresh_token)
        assert refreshed.refresh_token != signed_in.refresh_token
        assert refreshed.session.id == signed_in.session.id
        assert refreshed.access_token
        assert refreshed.organization_id == signed_in.organization_id
        assert refreshed.session.last_seen_time.ToNanoseconds() >= (
            signed_in.session.last_seen_time.ToNanoseconds()
        )
        again = await refresh(stub, refreshed.refresh_token)
        assert again.refresh_token not in (signed_in.refresh_token, refreshed.refresh_token)

    async def test_the_refresh_token_is_long_and_urlsafe(self, stub: IdentityServiceStub) -> None:
        signed_in = await register(stub)
        secret = signed_in.refresh_token.split(".", 1)[1]
        assert len(secret) >= 43  # 256 bits in unpadded base64url
        assert set(secret) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )

    async def test_replaying_a_spent_token_revokes_the_whole_chain(
        self, stub: IdentityServiceStub
    ) -> None:
        signed_in = await register(stub)
        refreshed = await refresh(stub, signed_in.refresh_token)

        assert await refused(stub, signed_in.refresh_token) == "REFRESH_TOKEN_REUSED"
        assert await refused(stub, refreshed.refresh_token) == "SESSION_REVOKED"

    async def test_an_unknown_or_malformed_token_is_refused(
        self, stub: IdentityServiceStub
    ) -> None:
        signed_in = await register(stub)
        user_id = signed_in.user.id
        assert await refused(stub, f"{user_id}.not-a-token") == "REFRESH_TOKEN_INVALID"
        assert await refused(stub, "garbage") == "REFRESH_TOKEN_INVALID"

    async def test_switching_to_an_organization_of_someone_else_is_refused(
        self, stub: IdentityServiceStub
    ) -> None:
        mine = await register(stub)
        theirs = await register(stub)
        await rpc_error(
            refresh(stub, mine.refresh_token, organization_id=theirs.organization_id),
            grpc.StatusCode.PERMISSION_DENIED,
        )


class TestEndingSessions:
    async def test_logout_ends_the_session(self, stub: IdentityServiceStub) -> None:
        signed_in = await register(stub)
        await stub.Logout(api.LogoutRequest(refresh_token=signed_in.refresh_token))
        assert await refused(stub, signed_in.refresh_token) == "SESSION_REVOKED"

    async def test_a_revoked_sessions_refresh_token_is_refused(
        self, stub: IdentityServiceStub
    ) -> None:
        email = unique_email()
        first = await register(stub, email=email)
        second = await login(stub, email, device_label="phone")
        await stub.RevokeSession(
            api.RevokeSessionRequest(session_id=second.session.id),
            metadata=auth(first.access_token),
        )
        assert await refused(stub, second.refresh_token) == "SESSION_REVOKED"
        await refresh(stub, first.refresh_token)

    async def test_another_users_session_is_not_found(self, stub: IdentityServiceStub) -> None:
        mine = await register(stub)
        theirs = await register(stub)
        await rpc_error(
            stub.RevokeSession(
                api.RevokeSessionRequest(session_id=theirs.session.id),
                metadata=auth(mine.access_token),
            ),
            grpc.StatusCode.NOT_FOUND,
        )
        await refresh(stub, theirs.refresh_token)

    async def test_revoke_others_keeps_the_calling_session(self, stub: IdentityServiceStub) -> None:
        email = unique_email()
        first = await register(stub, email=email)
        second = await login(stub, email, device_label="phone")
        reply: api.RevokeOtherSessionsResponse = await stub.RevokeOtherSessions(
            api.RevokeOtherSessionsRequest(), metadata=auth(second.access_token)
        )
        assert reply.revoked_count == 1
        assert await refused(stub, first.refresh_token) == "SESSION_REVOKED"
        await refresh(stub, second.refresh_token)


class TestListing:
    async def test_sessions_are_listed_newest_first_with_the_current_one_marked(
        self, stub: IdentityServiceStub
    ) -> None:
        email = unique_email()
        await register(stub, email=email, device_label="laptop")
        phone = await login(stub, email, device_label="phone")
        reply: api.ListSessionsResponse = await stub.ListSessions(
            api.ListSessionsRequest(), metadata=auth(phone.access_token)
        )
        assert [s.device_label for s in reply.sessions] == ["phone", "laptop"]
        assert [s.current for s in reply.sessions] == [True, False]
        assert reply.sessions[0].ip_address == "203.0.113.7"
        assert reply.sessions[0].user_agent == "pytest"


class TestSessionCap:
    async def test_a_session_beyond_the_cap_evicts_the_oldest(
        self, stub: IdentityServiceStub
    ) -> None:
        # The test server caps sessions at 3.
        email = unique_email()
        oldest = await register(stub, email=email, device_label="one")
        await login(stub, email, device_label="two")
        await login(stub, email, device_label="three")
        newest = await login(stub, email, device_label="four")

        reply: api.ListSessionsResponse = await stub.ListSessions(
            api.ListSessionsRequest(), metadata=auth(newest.access_token)
        )
        assert [s.device_label for s in reply.sessions] == ["four", "three", "two"]
        assert await refused(stub, oldest.refresh_token) == "SESSION_REVOKED"


class TestLastSeen:
    async def test_a_refresh_moves_last_seen(self, timed_server: TimedServer) -> None:
        clock = manual_clock()
        async with timed_server(clock) as server:
            signed_in = await register(server.identity)
            clock.advance(90)
            refreshed = await refresh(server.identity, signed_in.refresh_token)
            started = signed_in.session.create_time.seconds
            assert refreshed.session.create_time.seconds == started
            assert refreshed.session.last_seen_time.seconds == started + 90
