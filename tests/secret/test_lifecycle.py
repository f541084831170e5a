"""A secret's life: names unique per scope, metadata updates, rename and move within the
organization, soft delete with restore, purge by an administrator or by the sweep after the
restore window."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from coder.secret.v1 import secret_pb2 as S
from coder.secret.v1 import secret_service_pb2 as api
from services.kit import ManualClock, Resources
from services.secret.repository import SecretRepositories
from services.secret.service import SecretDomain
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.secret.factories import Secrets, unique


def name() -> str:
    return unique("n").replace("-", "_")


async def listed(member: Secrets, **filters: object) -> list[str]:
    reply = await member.stub.ListSecrets(
        api.ListSecretsRequest(**filters),  # type: ignore[arg-type]
        metadata=member.metadata,
    )
    return [s.name for s in reply.secrets]


class TestNames:
    async def test_a_name_is_unique_in_its_scope(self, member: Secrets) -> None:
        taken = name()
        await member.create(taken)
        error = await rpc_error(member.create(taken), grpc.StatusCode.ALREADY_EXISTS)
        assert error_reason(error) == "SECRET_NAME_TAKEN"

    async def test_the_same_name_lives_in_different_scopes(self, member: Secrets) -> None:
        shared = name()
        await member.create(shared)
        await member.create(shared, scope=S.SECRET_SCOPE_TEAM, scope_id="team-1")
        await member.create(shared, scope=S.SECRET_SCOPE_TEAM, scope_id="team-2")
        await member.create(shared, scope=S.SECRET_SCOPE_PROJECT, scope_id="team-1")
        await member.create(shared, scope=S.SECRET_SCOPE_USER)
        assert await listed(member, name_prefix=shared) == [shared] * 5
        assert await listed(member, scope=S.SECRET_SCOPE_TEAM, scope_id="team-2") == [shared]

    @pytest.mark.parametrize(
        ("scope", "scope_id", "field"),
        [
            (S.SECRET_SCOPE_ORGANIZATION, "team-1", "secret.scope_id"),
            (S.SECRET_SCOPE_TEAM, "", "secret.scope_id"),
            (S.SECRET_SCOPE_PROJECT, "", "secret.scope_id"),
            (S.SECRET_SCOPE_USER, "someone-else", "secret.scope_id"),
        ],
    )
    async def test_a_scope_id_must_fit_its_scope(
        self, member: Secrets, scope: int, scope_id: str, field: str
    ) -> None:
        error = await rpc_error(
            member.create(scope=scope, scope_id=scope_id), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert violated_fields(error) == {field}

    async def test_a_user_secret_defaults_to_its_creator(self, member: Secrets) -> None:
        secret, _ = await member.create(scope=S.SECRET_SCOPE_USER)
        assert secret.scope_id == "user-a"


class TestUpdate:
    async def test_description_metadata_and_schedule_change(
        self, member: Secrets, clock: ManualClock
    ) -> None:
        secret, _ = await member.create()
        changes = S.Secret(id=secret.id, description="for CI", metadata={"owner": "platform"})
        changes.expire_time.FromDatetime(clock.now() + timedelta(days=90))
        changes.rotation_period.FromTimedelta(timedelta(days=30))
        reply = await member.stub.UpdateSecret(
            api.UpdateSecretRequest(secret=changes), metadata=member.metadata
        )
        updated = reply.secret
        assert (updated.description, dict(updated.metadata)) == ("for CI", {"owner": "platform"})
        assert updated.next_rotation_time.ToDatetime() - secret.create_time.ToDatetime() == (
            timedelta(days=30)
        )
        assert updated.etag != secret.etag

    async def test_a_stale_etag_is_refused(self, member: Secrets) -> None:
        secret, _ = await member.create()
        await member.stub.UpdateSecret(
            api.UpdateSecretRequest(secret=S.Secret(id=secret.id, description="a")),
            metadata=member.metadata,
        )
        await rpc_error(
            member.stub.UpdateSecret(
                api.UpdateSecretRequest(
                    secret=S.Secret(id=secret.id, description="b", etag=secret.etag)
                ),
                metadata=member.metadata,
            ),
            grpc.StatusCode.ABORTED,
        )

    async def test_name_and_scope_are_not_updated_here(self, member: Secrets) -> None:
        secret, _ = await member.create()
        error = await rpc_error(
            member.stub.UpdateSecret(
                api.UpdateSecretRequest(
                    secret=S.Secret(id=secret.id, name="other"),
                    update_mask=FieldMask(paths=["name"]),
                ),
                metadata=member.metadata,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert "update_mask" in violated_fields(error)

    async def test_an_expiry_in_the_past_is_refused(
        self, member: Secrets, clock: ManualClock
    ) -> None:
        secret, _ = await member.create()
        changes = S.Secret(id=secret.id)
        changes.expire_time.FromDatetime(clock.now() - timedelta(seconds=1))
        error = await rpc_error(
            member.stub.UpdateSecret(
                api.UpdateSecretRequest(secret=changes), metadata=member.metadata
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"secret.expire_time"}


class TestMove:
    async def test_a_rename_keeps_id_versions_and_value(self, member: Secrets) -> None:
        old, new = name(), name()
        secret, value = await member.create(old)
        reply = await member.stub.MoveSecret(
            api.MoveSecretRequest(secret_id=secret.id, name=new), metadata=member.metadata
        )
        assert (reply.secret.id, reply.secret.name) == (secret.id, new)
        assert (await member.value(secret.id)).value == value
        assert await listed(member, name_prefix=old) == []
        await member.create(old)  # the old name is free again

    async def test_a_move_to_another_scope(self, member: Secrets) -> None:
        secret, value = await member.create()
        reply = await member.stub.MoveSecret(
            api.MoveSecretRequest(
                secret_id=secret.id, scope=S.SECRET_SCOPE_PROJECT, scope_id="project-9"
            ),
            metadata=member.metadata,
        )
        assert (reply.secret.scope, reply.secret.scope_id) == (S.SECRET_SCOPE_PROJECT, "project-9")
        assert (await member.value(secret.id)).value == value

    async def test_a_move_onto_a_taken_name_is_refused_and_changes_nothing(
        self, member: Secrets
    ) -> None:
        taken = name()
        await member.create(taken)
        secret, _ = await member.create()
        await rpc_error(
            member.stub.MoveSecret(
                api.MoveSecretRequest(secret_id=secret.id, name=taken), metadata=member.metadata
            ),
            grpc.StatusCode.ALREADY_EXISTS,
        )
        got = await member.stub.GetSecret(
            api.GetSecretRequest(secret_id=secret.id), metadata=member.metadata
        )
        assert got.secret.name == secret.name


class TestDelete:
    async def test_a_deleted_secret_is_hidden_unreadable_and_restorable(
        self, member: Secrets, clock: ManualClock
    ) -> None:
        secret, value = await member.create()
        deleted = (
            await member.stub.DeleteSecret(
                api.DeleteSecretRequest(secret_id=secret.id), metadata=member.metadata
            )
        ).secret
        assert deleted.state == S.SECRET_STATE_DELETED
        assert deleted.purge_time.ToDatetime() - deleted.delete_time.ToDatetime() == timedelta(
            days=30
        )
        assert secret.name not in await listed(member)
        assert secret.name in await listed(member, show_deleted=True)
        error = await rpc_error(member.value(secret.id), grpc.StatusCode.FAILED_PRECONDITION)
        assert error_reason(error) == "SECRET_DELETED"
        restored = await member.stub.RestoreSecret(
            api.RestoreSecretRequest(secret_id=secret.id), metadata=member.metadata
        )
        assert restored.secret.state == S.SECRET_STATE_ACTIVE
        assert (await member.value(secret.id)).value == value

    async def test_a_restore_onto_a_name_taken_since_is_refused(self, member: Secrets) -> None:
        secret, _ = await member.create()
        await member.stub.DeleteSecret(
            api.DeleteSecretRequest(secret_id=secret.id), metadata=member.metadata
        )
        await member.create(secret.name)
        error = await rpc_error(
            member.stub.RestoreSecret(
                api.RestoreSecretRequest(secret_id=secret.id), metadata=member.metadata
            ),
            grpc.StatusCode.ALREADY_EXISTS,
        )
        assert error_reason(error) == "SECRET_NAME_TAKEN"

    async def test_restoring_an_active_secret_is_refused(self, member: Secrets) -> None:
        secret, _ = await member.create()
        error = await rpc_error(
            member.stub.RestoreSecret(
                api.RestoreSecretRequest(secret_id=secret.id), metadata=member.metadata
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "SECRET_ACTIVE"

    async def test_an_administrator_purges_a_deleted_secret(
        self, member: Secrets, admin: Secrets
    ) -> None:
        secret, _ = await member.create()
        await rpc_error(
            member.stub.PurgeSecret(
                api.PurgeSecretRequest(secret_id=secret.id), metadata=member.metadata
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        await member.stub.DeleteSecret(
            api.DeleteSecretRequest(secret_id=secret.id), metadata=member.metadata
        )
        await admin.stub.PurgeSecret(
            api.PurgeSecretRequest(secret_id=secret.id), metadata=admin.metadata
        )
        await rpc_error(
            member.stub.GetSecret(
                api.GetSecretRequest(secret_id=secret.id), metadata=member.metadata
            ),
            grpc.StatusCode.NOT_FOUND,
        )

    async def test_the_sweep_purges_after_the_restore_window_and_not_before(
        self, member: Secrets, clock: ManualClock, domain: SecretDomain, resources: Resources
    ) -> None:
        secret, _ = await member.create()
        await member.stub.DeleteSecret(
            api.DeleteSecretRequest(secret_id=secret.id), metadata=member.metadata
        )
        clock.advance(timedelta(days=29, hours=23).total_seconds())
        await domain.sweeper.sweep_once()
        get = api.GetSecretRequest(secret_id=secret.id)
        assert (await member.stub.GetSecret(get, metadata=member.metadata)).secret.id
        clock.advance(timedelta(hours=1).total_seconds())
        report = await domain.sweeper.sweep_once()
        assert report.purged >= 1
        await rpc_error(
            member.stub.GetSecret(get, metadata=member.metadata), grpc.StatusCode.NOT_FOUND
        )
        repository = SecretRepositories.open(resources.store, None).secrets
        assert await repository.versions(secret.organization_id, secret.id) == []
