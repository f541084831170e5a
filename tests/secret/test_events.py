"""The events of a secret's life leave through the outbox with its metadata, never a value."""

from __future__ import annotations

from coder.secret.v1 import events_pb2
from coder.secret.v1 import secret_pb2 as S
from coder.secret.v1 import secret_service_pb2 as api
from tests.fixtures.events import EventRecorder
from tests.secret.factories import Secrets, unique, value_of


class TestEvents:
    async def test_each_change_is_one_event_without_the_value(
        self, member: Secrets, published: EventRecorder, org: str
    ) -> None:
        secret, first = await member.create(secret_type=S.SECRET_TYPE_OAUTH2_TOKEN)
        second = value_of(S.SECRET_TYPE_OAUTH2_TOKEN)
        await member.add_version(secret.id, second)
        await member.stub.RollbackSecret(
            api.RollbackSecretRequest(secret_id=secret.id, version=1), metadata=member.metadata
        )
        await member.stub.UpdateSecret(
            api.UpdateSecretRequest(secret=S.Secret(id=secret.id, description="d")),
            metadata=member.metadata,
        )
        new_name = unique("moved").replace("-", "_")
        await member.stub.MoveSecret(
            api.MoveSecretRequest(secret_id=secret.id, name=new_name), metadata=member.metadata
        )
        grant = await member.stub.CreateSecretGrant(
            api.CreateSecretGrantRequest(
                secret_id=secret.id,
                grant=S.SecretGrant(
                    grantee_type=S.GRANTEE_TYPE_USER,
                    grantee_id="user-b",
                    actions=[S.SECRET_ACTION_READ],
                ),
            ),
            metadata=member.metadata,
        )
        await member.stub.DeleteSecretGrant(
            api.DeleteSecretGrantRequest(secret_id=secret.id, grant_id=grant.grant.id),
            metadata=member.metadata,
        )
        await member.stub.DeleteSecret(
            api.DeleteSecretRequest(secret_id=secret.id), metadata=member.metadata
        )
        await member.stub.RestoreSecret(
            api.RestoreSecretRequest(secret_id=secret.id), metadata=member.metadata
        )
        events = await published.settle(org, 9)
        assert [e.type for e in events] == [
            "secret.secret.created",
            "secret.secret.rotated",
            "secret.secret.rotated",
            "secret.secret.updated",
            "secret.secret.moved",
            "secret.grant.created",
            "secret.grant.deleted",
            "secret.secret.deleted",
            "secret.secret.restored",
        ]
        rotated = events_pb2.SecretChanged()
        events[2].data.Unpack(rotated)
        assert (rotated.version, rotated.restored_from) == (3, 1)
        moved = events_pb2.SecretChanged()
        events[4].data.Unpack(moved)
        assert (moved.previous_name, moved.secret.name) == (secret.name, new_name)
        for value in (first, second):
            for text in (value.oauth2_token.access_token, value.oauth2_token.client_secret):
                for event in events:
                    assert text.encode() not in event.SerializeToString()
        assert all(e.actor.id == "user-a" and e.subject == secret.id for e in events)
