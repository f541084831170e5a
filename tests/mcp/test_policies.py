"""Allow-lists per role and the per-caller rate limit: what the gateway lets a caller list and
call, whatever the tool's own permission would allow."""

from __future__ import annotations

import grpc

from coder.mcp.v1 import mcp_service_pb2 as api
from coder.mcp.v1.mcp_service_pb2_grpc import McpServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error
from tests.fixtures.tokens import TokenFactory, auth
from tests.mcp.conftest import CALLS_PER_MINUTE
from tests.mcp.external import External
from tests.mcp.factories import call, registered, tool_names


async def set_policy(stub: McpServiceStub, token: str, role: str, *allowed: str) -> None:
    await stub.SetToolPolicy(
        api.SetToolPolicyRequest(role=role, allowed_tools=allowed), metadata=auth(token)
    )


class TestAllowLists:
    async def test_a_roles_policy_narrows_its_tools_and_refuses_the_rest(
        self, stub: McpServiceStub, token: TokenFactory, org: str, external: External
    ) -> None:
        admin = token(org, ("admin",))
        server = await registered(stub, admin, external.url)
        await set_policy(stub, admin, "member", "planning.*", f"{server.name}.echo")
        member = token(org, ("member",))
        names = await tool_names(stub, member)
        assert f"{server.name}.echo" in names
        assert "planning.list_tasks" in names
        assert f"{server.name}.explode" not in names
        assert "prompt.render_prompt" not in names
        refused = await rpc_error(
            call(stub, member, f"{server.name}.explode"), grpc.StatusCode.PERMISSION_DENIED
        )
        assert error_reason(refused) == "TOOL_NOT_ALLOWED"
        refused = await rpc_error(
            call(stub, member, "prompt.list_prompts"), grpc.StatusCode.PERMISSION_DENIED
        )
        assert error_reason(refused) == "TOOL_NOT_ALLOWED"
        assert (await call(stub, member, f"{server.name}.echo", {"text": "ok"})).is_error is False
        # Admins have no policy here: not narrowed.
        assert f"{server.name}.explode" in await tool_names(stub, admin)

    async def test_deleting_the_policy_lifts_it(
        self, stub: McpServiceStub, token: TokenFactory, org: str
    ) -> None:
        admin = token(org, ("admin",))
        await set_policy(stub, admin, "member")
        assert await tool_names(stub, token(org, ("member",))) == set()
        await stub.DeleteToolPolicy(
            api.DeleteToolPolicyRequest(role="member"), metadata=auth(admin)
        )
        assert "planning.list_tasks" in await tool_names(stub, token(org, ("member",)))
        missing = await rpc_error(
            stub.DeleteToolPolicy(api.DeleteToolPolicyRequest(role="member"), metadata=auth(admin)),
            grpc.StatusCode.NOT_FOUND,
        )
        assert error_reason(missing) == "NOT_FOUND"

    async def test_policies_are_listed_and_only_admins_change_them(
        self, stub: McpServiceStub, token: TokenFactory, org: str
    ) -> None:
        admin = token(org, ("admin",))
        await set_policy(stub, admin, "viewer", "planning.list_projects")
        listed: api.ListToolPoliciesResponse = await stub.ListToolPolicies(
            api.ListToolPoliciesRequest(), metadata=auth(token(org, ("viewer",)))
        )
        assert [(p.role, list(p.allowed_tools)) for p in listed.policies] == [
            ("viewer", ["planning.list_projects"])
        ]
        await rpc_error(
            set_policy(stub, token(org, ("member",)), "member", "*"),
            grpc.StatusCode.PERMISSION_DENIED,
        )

    async def test_a_policy_of_another_organization_does_not_apply(
        self, stub: McpServiceStub, token: TokenFactory, org: str
    ) -> None:
        await set_policy(stub, token(org, ("admin",)), "member")
        assert "planning.list_tasks" in await tool_names(stub, token(f"{org}-x", ("member",)))


class TestRateLimit:
    async def test_a_caller_gets_its_calls_per_minute_then_429(
        self, stub: McpServiceStub, token: TokenFactory, org: str
    ) -> None:
        member = token(org, ("member",), sub="user-busy")
        for _ in range(CALLS_PER_MINUTE):
            assert (await call(stub, member, "planning.list_projects")).is_error is False
        refused = await rpc_error(
            call(stub, member, "planning.list_projects"), grpc.StatusCode.RESOURCE_EXHAUSTED
        )
        assert error_reason(refused) == "RATE_LIMITED"
        # Another caller of the same organization has its own allowance.
        other = token(org, ("member",), sub="user-calm")
        assert (await call(stub, other, "planning.list_projects")).is_error is False
