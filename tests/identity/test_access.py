"""Access declarations: sign-in RPCs are public and unmapped, everything else needs a token
and has a REST route under /api/v1/identity."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

from coder.common.v1 import access_pb2
from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error
from tests.fixtures.tokens import auth
from tests.identity.factories import register

PUBLIC = {
    "Register",
    "Login",
    "LoginExternal",
    "RefreshSession",
    "Logout",
    "GetJwks",
    "IssueServiceToken",
    "AcceptInvitation",
}
PLATFORM = {"ExchangeToken"}
"""RPCs only platform services call (a permission no role reaches), without a REST route."""
SERVICE = api.DESCRIPTOR.services_by_name["IdentityService"]


def options(name: str) -> descriptor_pb2.MethodOptions:
    proto = descriptor_pb2.MethodDescriptorProto()
    SERVICE.methods_by_name[name].CopyToProto(proto)
    return proto.options


def request_of(name: str) -> Any:
    return getattr(api, SERVICE.methods_by_name[name].input_type.name)()


SIGNED_IN = sorted(set(SERVICE.methods_by_name) - PUBLIC)
ORGANIZATION_USERS = sorted(set(SIGNED_IN) - PLATFORM)


class TestDeclarations:
    @pytest.mark.parametrize("name", sorted(PUBLIC))
    def test_sign_in_rpcs_are_public_without_a_rest_route(self, name: str) -> None:
        assert options(name).Extensions[access_pb2.access].public
        assert not options(name).HasExtension(annotations_pb2.http)

    @pytest.mark.parametrize("name", sorted(PLATFORM))
    def test_platform_rpcs_need_a_platform_only_permission_without_a_rest_route(
        self, name: str
    ) -> None:
        assert options(name).Extensions[access_pb2.access].platform_only
        assert not options(name).HasExtension(annotations_pb2.http)

    @pytest.mark.parametrize("name", ORGANIZATION_USERS)
    def test_other_rpcs_need_an_identity_permission_and_have_a_route(self, name: str) -> None:
        rule = options(name).Extensions[access_pb2.access]
        assert rule.permission.startswith("identity.")
        http: http_pb2.HttpRule = options(name).Extensions[annotations_pb2.http]
        path = getattr(http, http.WhichOneof("pattern"))
        assert path.startswith("/api/v1/identity/")


class TestEnforcement:
    @pytest.mark.parametrize("name", SIGNED_IN)
    async def test_a_call_without_a_token_is_unauthenticated(
        self, stub: IdentityServiceStub, name: str
    ) -> None:
        call = getattr(stub, name)(request_of(name))
        error = await rpc_error(call, grpc.StatusCode.UNAUTHENTICATED)
        assert error_reason(error) == "TOKEN_MISSING"

    async def test_a_refresh_token_is_not_an_access_token(self, stub: IdentityServiceStub) -> None:
        signed_in = await register(stub)
        await rpc_error(
            stub.GetCurrentUser(
                api.GetCurrentUserRequest(), metadata=auth(signed_in.refresh_token)
            ),
            grpc.StatusCode.UNAUTHENTICATED,
        )
