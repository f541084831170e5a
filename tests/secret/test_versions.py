"""Versions: each write is a new version, ten are kept, writes can be check-and-set on the
etag or the current version, a rollback is a new version copying an older value, and any
kept version can be read."""

from __future__ import annotations

import grpc

from coder.secret.v1 import secret_pb2 as S
from coder.secret.v1 import secret_service_pb2 as api
from tests.fixtures.grpc_errors import error_reason, rpc_error
from tests.secret.factories import Secrets, value_of


async def versions(member: Secrets, secret_id: str) -> list[S.SecretVersion]:
    reply = await member.stub.ListSecretVersions(
        api.ListSecretVersionsRequest(secret_id=secret_id), metadata=member.metadata
    )
    return list(reply.versions)


class TestVersions:
    async def test_each_write_is_a_new_current_version(self, member: Secrets) -> None:
        secret, first = await member.create()
        second = value_of(S.SECRET_TYPE_API_KEY)
        reply = await member.add_version(secret.id, second)
        assert (reply.secret.current_version, reply.version.version) == (2, 2)
        assert reply.version.current and reply.version.key_id
        assert (await member.value(secret.id)).value == second
        assert (await member.value(secret.id, version=1)).value == first
        listed = await versions(member, secret.id)
        assert [(v.version, v.current) for v in listed] == [(2, True), (1, False)]

    async def test_ten_versions_are_kept_and_older_ones_destroyed(self, member: Secrets) -> None:
        secret, _ = await member.create()
        for _ in range(11):
            await member.add_version(secret.id, value_of(S.SECRET_TYPE_API_KEY))
        listed = await versions(member, secret.id)
        assert [v.version for v in listed] == list(range(12, 2, -1))
        error = await rpc_error(member.value(secret.id, version=2), grpc.StatusCode.NOT_FOUND)
        assert error_reason(error) == "SECRET_VERSION_NOT_FOUND"
        assert (await member.value(secret.id, version=3)).version == 3

    async def test_a_value_of_another_type_is_refused_as_a_new_version(
        self, member: Secrets
    ) -> None:
        secret, _ = await member.create()
        await rpc_error(
            member.add_version(secret.id, value_of(S.SECRET_TYPE_GENERIC)),
            grpc.StatusCode.INVALID_ARGUMENT,
        )


class TestCheckAndSet:
    async def test_a_write_expecting_an_older_version_is_refused(self, member: Secrets) -> None:
        secret, _ = await member.create()
        await member.add_version(secret.id, value_of(S.SECRET_TYPE_API_KEY), expected_version=1)
        error = await rpc_error(
            member.add_version(secret.id, value_of(S.SECRET_TYPE_API_KEY), expected_version=1),
            grpc.StatusCode.ABORTED,
        )
        assert error_reason(error) == "ETAG_MISMATCH"
        assert (await member.value(secret.id)).version == 2

    async def test_a_write_with_a_stale_etag_is_refused(self, member: Secrets) -> None:
        secret, _ = await member.create()
        await member.add_version(secret.id, value_of(S.SECRET_TYPE_API_KEY))
        await rpc_error(
            member.add_version(secret.id, value_of(S.SECRET_TYPE_API_KEY), etag=secret.etag),
            grpc.StatusCode.ABORTED,
        )

    async def test_concurrent_check_and_set_writes_let_exactly_one_win(
        self, member: Secrets
    ) -> None:
        import asyncio

        secret, _ = await member.create()
        results = await asyncio.gather(
            *(
                member.add_version(secret.id, value_of(S.SECRET_TYPE_API_KEY), expected_version=1)
                for _ in range(5)
            ),
            return_exceptions=True,
        )
        won = [r for r in results if isinstance(r, api.AddSecretVersionResponse)]
        lost = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
        assert len(won) == 1 and len(lost) == 4
        assert {e.code() for e in lost} == {grpc.StatusCode.ABORTED}
        assert [v.version for v in await versions(member, secret.id)] == [2, 1]


class TestRollback:
    async def test_a_rollback_is_a_new_version_with_the_older_value(self, member: Secrets) -> None:
        secret, first = await member.create()
        await member.add_version(secret.id, value_of(S.SECRET_TYPE_API_KEY))
        reply = await member.stub.RollbackSecret(
            api.RollbackSecretRequest(secret_id=secret.id, version=1, expected_version=2),
            metadata=member.metadata,
        )
        assert (reply.version.version, reply.version.restored_from) == (3, 1)
        assert (await member.value(secret.id)).value == first
        assert [v.version for v in await versions(member, secret.id)] == [3, 2, 1]

    async def test_rolling_back_to_a_version_not_kept_is_not_found(self, member: Secrets) -> None:
        secret, _ = await member.create()
        await rpc_error(
            member.stub.RollbackSecret(
                api.RollbackSecretRequest(secret_id=secret.id, version=7),
                metadata=member.metadata,
            ),
            grpc.StatusCode.NOT_FOUND,
        )

    async def test_rolling_back_to_the_current_version_is_refused(self, member: Secrets) -> None:
        secret, _ = await member.create()
        error = await rpc_error(
            member.stub.RollbackSecret(
                api.RollbackSecretRequest(secret_id=secret.id, version=1),
                metadata=member.metadata,
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "VERSION_CURRENT"
