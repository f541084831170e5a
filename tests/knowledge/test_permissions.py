"""Per-space permissions: grants narrow the organization's roles per space; owners and admins
always pass; a space a role may not read is not found, one it may only read refuses writes."""

from __future__ import annotations

import grpc

from coder.knowledge.v1 import knowledge_pb2 as kb
from coder.knowledge.v1 import knowledge_service_pb2 as api
from coder.knowledge.v1.knowledge_service_pb2_grpc import KnowledgeServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error
from tests.fixtures.tokens import TokenFactory, auth
from tests.knowledge.factories import create_page, create_space, search


async def grant(stub: KnowledgeServiceStub, token: str, space_id: str, **roles: int) -> kb.Space:
    answer: api.SetSpacePermissionsResponse = await stub.SetSpacePermissions(
        api.SetSpacePermissionsRequest(
            space_id=space_id,
            grants=[
                kb.SpaceGrant(role=role, access=access)  # type: ignore[arg-type]
                for role, access in roles.items()
            ],
        ),
        metadata=auth(token),
    )
    return answer.space


class TestGrants:
    async def test_a_granted_space_admits_only_the_roles_named(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        owner = token(org, roles=("owner",))
        member = token(org, roles=("member",), sub="mia")
        writer = token(org, roles=("writers",), sub="wes", permissions=("knowledge.*.*",))
        space = await create_space(stub, owner, "Restricted")
        page = await create_page(stub, owner, space.id, "Secret plan", "launch codes")
        space = await grant(stub, owner, space.id, writers=kb.SPACE_ACCESS_WRITE)
        assert [(g.role, g.access) for g in space.grants] == [("writers", kb.SPACE_ACCESS_WRITE)]
        error = await rpc_error(
            stub.GetPage(api.GetPageRequest(page_id=page.id), metadata=auth(member)),
            grpc.StatusCode.NOT_FOUND,
        )
        assert error_reason(error) == "SPACE_NOT_FOUND"
        listed = await stub.ListSpaces(api.ListSpacesRequest(), metadata=auth(member))
        assert space.id not in [s.id for s in listed.spaces]
        assert await search(stub, member, "launch") == []
        assert await search(stub, writer, "launch") == ["Secret plan"]
        await create_page(stub, writer, space.id, "Writer's page")

    async def test_read_access_refuses_writes(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        admin = token(org, roles=("admin",))
        member = token(org, roles=("member",), sub="mia")
        space = await create_space(stub, admin, "Read only")
        page = await create_page(stub, admin, space.id, "Policy")
        await grant(stub, admin, space.id, member=kb.SPACE_ACCESS_READ)
        got = await stub.GetPage(api.GetPageRequest(page_id=page.id), metadata=auth(member))
        assert got.page.title == "Policy"
        error = await rpc_error(
            stub.UpdatePage(
                api.UpdatePageRequest(page=kb.Page(id=page.id, title="Changed")),
                metadata=auth(member),
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert error_reason(error) == "SPACE_READ_ONLY"
        comment = await stub.CreateComment(
            api.CreateCommentRequest(page_id=page.id, comment=kb.Comment(markdown="ok?")),
            metadata=auth(member),
        )
        assert comment.comment.author == "mia"

    async def test_setting_grants_is_for_admins(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        await rpc_error(
            grant(stub, token(org, roles=("member",)), space.id, member=kb.SPACE_ACCESS_READ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
