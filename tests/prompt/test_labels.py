"""Labels: moving one is a rollback when it goes back; `latest` is the service's; protected
labels need `prompt.protected_label.write` (admins, or a custom role naming it); the policy of
protected labels is the organization's."""

from __future__ import annotations

import grpc

from coder.prompt.v1 import prompt_pb2
from coder.prompt.v1 import prompt_service_pb2 as api
from coder.prompt.v1.prompt_service_pb2_grpc import PromptServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error
from tests.fixtures.tokens import TokenFactory, auth
from tests.prompt.factories import (
    add_version,
    create_prompt,
    labels_of,
    move_label,
    render,
    text_version,
)


async def three_versions(stub: PromptServiceStub, token: str, name: str) -> str:
    prompt = (await create_prompt(stub, token, name, text_version("one"))).prompt
    await add_version(stub, token, prompt.id, text_version("two"))
    await add_version(stub, token, prompt.id, text_version("three"))
    return prompt.id


class TestMoving:
    async def test_moving_back_rolls_back_what_the_label_renders(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        member = token(org, sub="mo")
        prompt_id = await three_versions(stub, member, "rolled")
        moved = await move_label(stub, member, prompt_id, "staging", 3)
        assert (await render(stub, member, "rolled", label="staging")).text == "three"
        back = await move_label(stub, member, prompt_id, "staging", 1)
        assert (await render(stub, member, "rolled", label="staging")).text == "one"
        label = next(label for label in back.labels if label.name == "staging")
        assert (label.version, label.previous_version, label.updated_by) == (1, 3, "mo")
        assert not label.protected
        assert labels_of(moved) == {"latest": 3, "staging": 3}

    async def test_a_label_only_points_at_an_existing_version(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt_id = await three_versions(stub, token(org), "bounded")
        error = await rpc_error(
            move_label(stub, token(org), prompt_id, "staging", 4), grpc.StatusCode.NOT_FOUND
        )
        assert error_reason(error) == "VERSION_NOT_FOUND"

    async def test_latest_is_maintained_by_the_service_alone(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt_id = await three_versions(stub, token(org), "automatic")
        for call in (
            move_label(stub, token(org, ("owner",)), prompt_id, "latest", 1),
            stub.RemoveLabel(
                api.RemoveLabelRequest(prompt_id=prompt_id, label="latest"),
                metadata=auth(token(org, ("owner",))),
            ),
        ):
            error = await rpc_error(call, grpc.StatusCode.INVALID_ARGUMENT)
            assert error_reason(error) == "LABEL_RESERVED"

    async def test_a_removed_label_no_longer_renders(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt_id = await three_versions(stub, token(org), "unlabelled")
        await move_label(stub, token(org), prompt_id, "canary", 2)
        reply = await stub.RemoveLabel(
            api.RemoveLabelRequest(prompt_id=prompt_id, label="canary"), metadata=auth(token(org))
        )
        assert labels_of(reply.prompt) == {"latest": 3}
        error = await rpc_error(
            render(stub, token(org), "unlabelled", label="canary"), grpc.StatusCode.NOT_FOUND
        )
        assert error_reason(error) == "LABEL_NOT_FOUND"


class TestProtectedLabels:
    async def test_production_is_protected_by_default(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt_id = await three_versions(stub, token(org), "guarded")
        error = await rpc_error(
            move_label(stub, token(org, ("member",)), prompt_id, "production", 2),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert error_reason(error) == "LABEL_PROTECTED"
        moved = await move_label(stub, token(org, ("admin",)), prompt_id, "production", 2)
        production = next(label for label in moved.labels if label.name == "production")
        assert production.protected
        error = await rpc_error(
            stub.RemoveLabel(
                api.RemoveLabelRequest(prompt_id=prompt_id, label="production"),
                metadata=auth(token(org, ("member",))),
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert error_reason(error) == "LABEL_PROTECTED"

    async def test_a_custom_role_naming_the_permission_may_move_them(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt_id = await three_versions(stub, token(org), "released")
        releaser = token(
            org,
            ("releaser",),
            permissions=(
                "prompt.label.write",
                "prompt.prompt.read",
                "prompt.protected_label.write",
            ),
        )
        moved = await move_label(stub, releaser, prompt_id, "production", 3)
        assert labels_of(moved)["production"] == 3
        # A member's wildcard `*.*.write` does not reach the admin-only permission.
        error = await rpc_error(
            move_label(stub, token(org, ("member",)), prompt_id, "production", 1),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert error_reason(error) == "LABEL_PROTECTED"

    async def test_the_policy_names_the_protected_labels(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        admin, member = token(org, ("admin",)), token(org, ("member",))
        reply = await stub.GetLabelPolicy(api.GetLabelPolicyRequest(), metadata=auth(member))
        assert list(reply.policy.protected_labels) == ["production"]
        await rpc_error(
            stub.UpdateLabelPolicy(
                api.UpdateLabelPolicyRequest(policy=prompt_pb2.LabelPolicy(protected_labels=[])),
                metadata=auth(member),
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        updated = await stub.UpdateLabelPolicy(
            api.UpdateLabelPolicyRequest(
                policy=prompt_pb2.LabelPolicy(protected_labels=["staging", "eu-production"])
            ),
            metadata=auth(admin),
        )
        assert list(updated.policy.protected_labels) == ["eu-production", "staging"]
        prompt_id = await three_versions(stub, member, "policed")
        # production is no longer protected, staging now is.
        await move_label(stub, member, prompt_id, "production", 1)
        error = await rpc_error(
            move_label(stub, member, prompt_id, "staging", 1), grpc.StatusCode.PERMISSION_DENIED
        )
        assert error_reason(error) == "LABEL_PROTECTED"
        stale = prompt_pb2.LabelPolicy(protected_labels=["x"], etag="stale")
        await rpc_error(
            stub.UpdateLabelPolicy(
                api.UpdateLabelPolicyRequest(policy=stale), metadata=auth(admin)
            ),
            grpc.StatusCode.ABORTED,
        )
        error = await rpc_error(
            stub.UpdateLabelPolicy(
                api.UpdateLabelPolicyRequest(
                    policy=prompt_pb2.LabelPolicy(protected_labels=["latest"])
                ),
                metadata=auth(admin),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert error_reason(error) == "LABEL_RESERVED"
