"""Events: changes leave through the outbox as `identity.<entity>.<verb>`."""

from __future__ import annotations

from google.protobuf.field_mask_pb2 import FieldMask

from coder.identity.v1 import events_pb2, resources_pb2
from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from tests.fixtures.events import EventRecorder
from tests.fixtures.tokens import auth
from tests.identity.factories import register


class TestEvents:
    async def test_registration_announces_user_organization_member_and_session(
        self, stub: IdentityServiceStub, events: EventRecorder
    ) -> None:
        result = await register(stub, organization_name="Evented")
        user_events = await events.settle(result.user.id, 2)
        assert sorted(e.type for e in user_events) == [
            "identity.session.started",
            "identity.user.created",
        ]
        org_events = await events.settle(result.organization_id, 2)
        # Two containers, two outbox batches: their relative order is not promised.
        assert sorted(e.type for e in org_events) == [
            "identity.member.added",
            "identity.organization.created",
        ]
        member = events_pb2.MemberChanged()
        assert next(e for e in org_events if e.type == "identity.member.added").data.Unpack(member)
        assert (member.member.user_id, member.member.role) == (result.user.id, "owner")
        assert all(e.actor.id == result.user.id for e in user_events + org_events)

    async def test_an_update_names_its_changed_fields(
        self, stub: IdentityServiceStub, events: EventRecorder
    ) -> None:
        result = await register(stub, display_name="Old")
        await stub.UpdateCurrentUser(
            api.UpdateCurrentUserRequest(
                user=resources_pb2.User(display_name="New"),
                update_mask=FieldMask(paths=["display_name"]),
            ),
            metadata=auth(result.access_token),
        )
        found = await events.settle(result.user.id, 3)
        updated = [e for e in found if e.type == "identity.user.updated"]
        assert len(updated) == 1
        payload = events_pb2.UserChanged()
        assert updated[0].data.Unpack(payload)
        assert payload.user.display_name == "New"
        assert list(payload.changed_fields.paths) == ["display_name"]
