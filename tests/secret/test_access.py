"""Who reads and changes a secret: its owner; grantees by user, role (and team, see the
integration tests); administrators manage but do not read values; a platform service reads
with a delegated token for a subject who may; every read, refused or not, is audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import grpc

from coder.secret.v1 import secret_pb2 as S
from coder.secret.v1 import secret_service_pb2 as api
from services.kit import ManualClock
from tests.fixtures.grpc_errors import error_reason, rpc_error
from tests.fixtures.tokens import TokenFactory, auth
from tests.secret.factories import Secrets, value_of


async def grant(
    owner: Secrets,
    secret_id: str,
    grantee_type: int,
    grantee_id: str,
    *actions: int,
    expire_in: timedelta | None = None,
    clock: ManualClock | None = None,
) -> S.SecretGrant:
    draft = S.SecretGrant(
        grantee_type=grantee_type,  # type: ignore[arg-type]
        grantee_id=grantee_id,
        actions=list(actions) or [S.SECRET_ACTION_READ],  # type: ignore[arg-type]
    )
    if expire_in is not None and clock is not None:
        draft.expire_time.FromDatetime(clock.now() + expire_in)
    reply = await owner.stub.CreateSecretGrant(
        api.CreateSecretGrantRequest(secret_id=secret_id, grant=draft), metadata=owner.metadata
    )
    made: S.SecretGrant = reply.grant
    return made


def delegated(token: TokenFactory, org: str, sub: str, *, service: str = "ai") -> str:
    """A delegated token as identity issues it: bound to the secret service, acting for `sub`."""
    return token.key.mint(
        subject=sub,
        organization_id=org,
        issuer="coder",
        audience="coder.secret",
        roles=("member",),
        lifetime_seconds=300,
        extra={"act": {"sub": f"service:{service}"}},
    )


async def audit(admin: Secrets, secret_id: str) -> list[S.AccessRecord]:
    reply = await admin.stub.ListAccessRecords(
        api.ListAccessRecordsRequest(secret_id=secret_id), metadata=admin.metadata
    )
    return list(reply.records)


class TestOwnerAndOthers:
    async def test_another_member_sees_the_metadata_but_not_the_value(
        self, member: Secrets, as_user: Callable[..., Secrets]
    ) -> None:
        secret, _ = await member.create()
        other = as_user("user-b")
        got = await other.stub.GetSecret(
            api.GetSecretRequest(secret_id=secret.id), metadata=other.metadata
        )
        assert got.secret.id == secret.id
        error = await rpc_error(other.value(secret.id), grpc.StatusCode.PERMISSION_DENIED)
        assert error_reason(error) == "SECRET_ACCESS_DENIED"
        await rpc_error(
            other.add_version(secret.id, value_of(S.SECRET_TYPE_API_KEY)),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        await rpc_error(
            other.stub.DeleteSecret(
                api.DeleteSecretRequest(secret_id=secret.id), metadata=other.metadata
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )

    async def test_a_user_secret_does_not_exist_for_others(
        self, member: Secrets, as_user: Callable[..., Secrets]
    ) -> None:
        secret, _ = await member.create(scope=S.SECRET_SCOPE_USER)
        other = as_user("user-b")
        await rpc_error(
            other.stub.GetSecret(
                api.GetSecretRequest(secret_id=secret.id), metadata=other.metadata
            ),
            grpc.StatusCode.NOT_FOUND,
        )
        await rpc_error(other.value(secret.id), grpc.StatusCode.NOT_FOUND)
        listing = await other.stub.ListSecrets(api.ListSecretsRequest(), metadata=other.metadata)
        assert secret.id not in [s.id for s in listing.secrets]

    async def test_a_viewer_cannot_create(self, as_user: Callable[..., Secrets]) -> None:
        viewer = as_user("viewer-1", roles=("viewer",))
        await rpc_error(viewer.create(), grpc.StatusCode.PERMISSION_DENIED)


class TestAdministrators:
    async def test_an_admin_manages_but_does_not_read_until_granted(
        self, member: Secrets, admin: Secrets
    ) -> None:
        secret, value = await member.create()
        await rpc_error(admin.value(secret.id), grpc.StatusCode.PERMISSION_DENIED)
        await admin.stub.UpdateSecret(
            api.UpdateSecretRequest(secret=S.Secret(id=secret.id, description="by admin")),
            metadata=admin.metadata,
        )
        await grant(admin, secret.id, S.GRANTEE_TYPE_USER, "admin-1")
        assert (await admin.value(secret.id)).value == value


class TestGrants:
    async def test_a_user_grant_gives_exactly_its_actions(
        self, member: Secrets, as_user: Callable[..., Secrets]
    ) -> None:
        secret, value = await member.create()
        await grant(member, secret.id, S.GRANTEE_TYPE_USER, "user-b", S.SECRET_ACTION_READ)
        other = as_user("user-b")
        assert (await other.value(secret.id)).value == value
        await rpc_error(
            other.add_version(secret.id, value_of(S.SECRET_TYPE_API_KEY)),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        await rpc_error(
            grant(other, secret.id, S.GRANTEE_TYPE_USER, "user-c"),
            grpc.StatusCode.PERMISSION_DENIED,
        )

    async def test_update_and_grant_actions(
        self, member: Secrets, as_user: Callable[..., Secrets]
    ) -> None:
        secret, _ = await member.create()
        await grant(
            member,
            secret.id,
            S.GRANTEE_TYPE_USER,
            "user-b",
            S.SECRET_ACTION_UPDATE,
            S.SECRET_ACTION_GRANT,
        )
        other = as_user("user-b")
        await other.add_version(secret.id, value_of(S.SECRET_TYPE_API_KEY))
        await grant(other, secret.id, S.GRANTEE_TYPE_USER, "user-c")
        assert (await as_user("user-c").value(secret.id)).version == 2

    async def test_a_role_grant_reaches_everyone_holding_the_role(
        self, member: Secrets, as_user: Callable[..., Secrets]
    ) -> None:
        secret, value = await member.create()
        await grant(member, secret.id, S.GRANTEE_TYPE_ROLE, "deployer")
        deployer = as_user("user-d", roles=("member", "deployer"))
        assert (await deployer.value(secret.id)).value == value
        await rpc_error(as_user("user-e").value(secret.id), grpc.StatusCode.PERMISSION_DENIED)

    async def test_an_expired_grant_no_longer_applies(
        self, member: Secrets, as_user: Callable[..., Secrets], clock: ManualClock
    ) -> None:
        secret, _ = await member.create()
        await grant(
            member,
            secret.id,
            S.GRANTEE_TYPE_USER,
            "user-b",
            expire_in=timedelta(hours=1),
            clock=clock,
        )
        other = as_user("user-b")
        await other.value(secret.id)
        clock.advance(3601)
        await rpc_error(other.value(secret.id), grpc.StatusCode.PERMISSION_DENIED)

    async def test_a_deleted_grant_no_longer_applies(
        self, member: Secrets, as_user: Callable[..., Secrets]
    ) -> None:
        secret, _ = await member.create()
        made = await grant(member, secret.id, S.GRANTEE_TYPE_USER, "user-b")
        listed = await member.stub.ListSecretGrants(
            api.ListSecretGrantsRequest(secret_id=secret.id), metadata=member.metadata
        )
        assert [g.id for g in listed.grants] == [made.id]
        await member.stub.DeleteSecretGrant(
            api.DeleteSecretGrantRequest(secret_id=secret.id, grant_id=made.id),
            metadata=member.metadata,
        )
        await rpc_error(as_user("user-b").value(secret.id), grpc.StatusCode.PERMISSION_DENIED)

    async def test_one_grant_per_grantee(self, member: Secrets) -> None:
        secret, _ = await member.create()
        await grant(member, secret.id, S.GRANTEE_TYPE_USER, "user-b")
        error = await rpc_error(
            grant(member, secret.id, S.GRANTEE_TYPE_USER, "user-b"),
            grpc.StatusCode.ALREADY_EXISTS,
        )
        assert error_reason(error) == "GRANT_EXISTS"

    async def test_a_grant_makes_a_user_secret_visible_to_its_grantee(
        self, member: Secrets, as_user: Callable[..., Secrets]
    ) -> None:
        secret, value = await member.create(scope=S.SECRET_SCOPE_USER)
        await grant(member, secret.id, S.GRANTEE_TYPE_USER, "user-b")
        other = as_user("user-b")
        assert (await other.value(secret.id)).value == value
        listing = await other.stub.ListSecrets(api.ListSecretsRequest(), metadata=other.metadata)
        assert secret.id in [s.id for s in listing.secrets]


class TestDelegation:
    async def test_a_service_acting_for_the_owner_reads_and_is_audited(
        self, member: Secrets, admin: Secrets, token: TokenFactory, org: str
    ) -> None:
        secret, value = await member.create()
        service = member.acting_as(auth(delegated(token, org, "user-a")))
        read = await service.value(secret.id, reason="ai completion")
        assert read.value == value
        records = await audit(admin, secret.id)
        assert [(r.subject, r.calling_service, r.reason, r.granted, r.basis) for r in records] == [
            ("user-a", "service:ai", "ai completion", True, "owner")
        ]

    async def test_a_service_acting_for_someone_without_access_is_refused(
        self, member: Secrets, token: TokenFactory, org: str
    ) -> None:
        secret, _ = await member.create()
        service = member.acting_as(auth(delegated(token, org, "user-b")))
        await rpc_error(service.value(secret.id), grpc.StatusCode.PERMISSION_DENIED)

    async def test_a_token_delegated_to_another_service_is_refused(
        self, member: Secrets, token: TokenFactory, org: str
    ) -> None:
        secret, _ = await member.create()
        other = token.key.mint(
            subject="user-a",
            organization_id=org,
            issuer="coder",
            audience="coder.planning",
            roles=("member",),
            extra={"act": {"sub": "service:ai"}},
        )
        await rpc_error(
            member.acting_as(auth(other)).value(secret.id), grpc.StatusCode.UNAUTHENTICATED
        )


class TestAudit:
    async def test_every_read_is_recorded_with_version_and_refusals(
        self,
        member: Secrets,
        admin: Secrets,
        as_user: Callable[..., Secrets],
    ) -> None:
        secret, _ = await member.create()
        await member.add_version(secret.id, value_of(S.SECRET_TYPE_API_KEY))
        await member.value(secret.id, reason="deploy")
        await member.value(secret.id, version=1, reason="compare")
        await rpc_error(as_user("user-b").value(secret.id), grpc.StatusCode.PERMISSION_DENIED)
        records = await audit(admin, secret.id)
        assert [(r.subject, r.version, r.reason, r.granted) for r in records] == [
            ("user-b", 0, "test", False),
            ("user-a", 1, "compare", True),
            ("user-a", 2, "deploy", True),
        ]
        assert all(r.request_id and r.access_time.seconds for r in records)
        by_subject = await admin.stub.ListAccessRecords(
            api.ListAccessRecordsRequest(subject="user-b"), metadata=admin.metadata
        )
        assert {r.secret_id for r in by_subject.records} >= {secret.id}

    async def test_the_audit_is_for_administrators(self, member: Secrets) -> None:
        await rpc_error(
            member.stub.ListAccessRecords(api.ListAccessRecordsRequest(), metadata=member.metadata),
            grpc.StatusCode.PERMISSION_DENIED,
        )
