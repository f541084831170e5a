"""Register and sign in: tokens the kit accepts, indistinguishable failures, the password
policy and request validation."""

from __future__ import annotations

import base64
import itertools
import json
import os

import grpc
import jwt
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1 import resources_pb2
from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from services.identity.repository import AccountRepository
from services.kit import KeySource, TokenVerifier, new_id
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import AUDIENCE, ISSUER, auth
from tests.identity.conftest import TimedServer, manual_clock
from tests.identity.factories import PASSWORD, login, register, unique_email


class TestRegisterAndLogin:
    async def test_a_registered_user_signs_in_and_the_kit_verifies_the_token(
        self, stub: IdentityServiceStub
    ) -> None:
        email = unique_email()
        registered = await register(stub, email=email.upper(), organization_name="Acme")
        assert registered.user.email == email
        assert registered.organization_id
        assert registered.role == "owner"

        result = await login(stub, email)
        jwks: api.GetJwksResponse = await stub.GetJwks(api.GetJwksRequest())
        verifier = TokenVerifier(
            KeySource(jwks=json.loads(jwks.jwks_json)), issuer=ISSUER, audience=AUDIENCE
        )
        principal = await verifier.verify(result.access_token)

        assert principal.subject == registered.user.id
        assert principal.organization_id == registered.organization_id
        assert principal.roles == frozenset({"owner"})
        assert principal.session_id == result.session.id
        assert principal.kind == "user"
        header = jwt.get_unverified_header(result.access_token)
        assert header["alg"] == "ES256"
        assert header["kid"] in {key["kid"] for key in json.loads(jwks.jwks_json)["keys"]}
        lifetime = principal.expires_at - principal.claims["iat"]
        assert lifetime == 900
        assert result.access_token_expire_time.seconds == principal.expires_at

    async def test_the_token_opens_the_callers_own_records(self, stub: IdentityServiceStub) -> None:
        registered = await register(stub, display_name="Grace")
        reply: api.GetCurrentUserResponse = await stub.GetCurrentUser(
            api.GetCurrentUserRequest(), metadata=auth(registered.access_token)
        )
        assert reply.user.display_name == "Grace"
        assert reply.user.id == registered.user.id

    async def test_a_user_without_an_organization_gets_a_session_but_no_access_token(
        self, stub: IdentityServiceStub
    ) -> None:
        registered = await register(stub, organization_name="")
        assert registered.organization_id == ""
        assert registered.access_token == ""
        assert registered.refresh_token

        reply: api.RefreshSessionResponse = await stub.RefreshSession(
            api.RefreshSessionRequest(
                refresh_token=registered.refresh_token, create_organization_name="First"
            )
        )
        assert reply.result.organization_id
        assert reply.result.access_token
        assert reply.result.role == "owner"

    async def test_an_email_registers_once(self, stub: IdentityServiceStub) -> None:
        email = unique_email()
        await register(stub, email=email)
        error = await rpc_error(register(stub, email=email), grpc.StatusCode.ALREADY_EXISTS)
        assert error_reason(error) == "EMAIL_TAKEN"

    @pytest.mark.parametrize(
        "local", ["a/b?c#d", "x" * 250], ids=["characters a document id cannot hold", "long"]
    )
    async def test_any_valid_email_registers_once_and_signs_in(
        self, stub: IdentityServiceStub, local: str
    ) -> None:
        email = f"{local}-{new_id().lower()}@example.com"
        await register(stub, email=email)
        assert (await login(stub, email)).access_token
        error = await rpc_error(register(stub, email=email), grpc.StatusCode.ALREADY_EXISTS)
        assert error_reason(error) == "EMAIL_TAKEN"

    async def test_login_picks_the_most_recently_used_organization(
        self, stub: IdentityServiceStub
    ) -> None:
        email = unique_email()
        first = await register(stub, email=email, organization_name="First")
        created: api.CreateOrganizationResponse = await stub.CreateOrganization(
            api.CreateOrganizationRequest(organization=resources_pb2.Organization(name="Second")),
            metadata=auth(first.access_token),
        )
        second = await login(stub, email, organization_id=created.organization.id)
        assert second.organization_id == created.organization.id

        again = await login(stub, email)
        assert again.organization_id == created.organization.id


class TestFailures:
    async def test_wrong_password_and_unknown_email_fail_alike(
        self, stub: IdentityServiceStub
    ) -> None:
        email = unique_email()
        await register(stub, email=email)
        wrong = await rpc_error(
            login(stub, email, "not the password at all"), grpc.StatusCode.UNAUTHENTICATED
        )
        unknown = await rpc_error(
            login(stub, unique_email(), PASSWORD), grpc.StatusCode.UNAUTHENTICATED
        )
        assert wrong.details() == unknown.details()
        assert error_reason(wrong) == error_reason(unknown) == "INVALID_CREDENTIALS"
        # However long, an unknown email is only an unknown email.
        long = await rpc_error(
            login(stub, f"{'x' * 300}@example.com", PASSWORD), grpc.StatusCode.UNAUTHENTICATED
        )
        assert error_reason(long) == "INVALID_CREDENTIALS"


class TestPasswordPolicy:
    async def test_a_short_password_is_refused(self, stub: IdentityServiceStub) -> None:
        error = await rpc_error(
            register(stub, password="short pass"), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert violated_fields(error) == {"password"}

    async def test_the_email_as_password_is_refused(self, stub: IdentityServiceStub) -> None:
        email = unique_email("longenough")
        error = await rpc_error(
            register(stub, email=email, password=email.upper()), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert violated_fields(error) == {"password"}
        assert error_reason(error) == "PASSWORD_POLICY"

    async def test_none_of_the_last_five_passwords_returns(self, stub: IdentityServiceStub) -> None:
        email = unique_email()
        registered = await register(stub, email=email)
        token = registered.access_token
        passwords = [PASSWORD] + [f"password number {n} is long" for n in range(1, 6)]
        for previous, new in itertools.pairwise(passwords):
            await stub.ChangePassword(
                api.ChangePasswordRequest(current_password=previous, new_password=new),
                metadata=auth(token),
            )
        current = passwords[-1]
        for recent in passwords[-5:]:
            error = await rpc_error(
                stub.ChangePassword(
                    api.ChangePasswordRequest(current_password=current, new_password=recent),
                    metadata=auth(token),
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
            )
            assert error_reason(error) == "PASSWORD_REUSED"
        # The sixth most recent has left the history.
        await stub.ChangePassword(
            api.ChangePasswordRequest(current_password=current, new_password=passwords[0]),
            metadata=auth(token),
        )
        await login(stub, email, passwords[0])

    async def test_a_wrong_current_password_is_refused(self, stub: IdentityServiceStub) -> None:
        registered = await register(stub)
        error = await rpc_error(
            stub.ChangePassword(
                api.ChangePasswordRequest(
                    current_password="this is not it", new_password="a brand new password"
                ),
                metadata=auth(registered.access_token),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"current_password"}

    async def test_a_password_change_ends_the_other_sessions(
        self, stub: IdentityServiceStub
    ) -> None:
        email = unique_email()
        registered = await register(stub, email=email)
        other = await login(stub, email, device_label="phone")
        await stub.ChangePassword(
            api.ChangePasswordRequest(
                current_password=PASSWORD, new_password="an entirely new one"
            ),
            metadata=auth(registered.access_token),
        )
        error = await rpc_error(
            stub.RefreshSession(api.RefreshSessionRequest(refresh_token=other.refresh_token)),
            grpc.StatusCode.UNAUTHENTICATED,
        )
        assert error_reason(error) == "SESSION_REVOKED"
        await stub.RefreshSession(api.RefreshSessionRequest(refresh_token=registered.refresh_token))


class TestValidation:
    @pytest.mark.parametrize(
        ("request_fields", "fields"),
        [
            ({"email": "not-an-email", "password": PASSWORD, "display_name": "A"}, {"email"}),
            ({"email": "a@example.com", "password": "", "display_name": "A"}, {"password"}),
            (
                {"email": "a@example.com", "password": PASSWORD, "display_name": ""},
                {"display_name"},
            ),
        ],
    )
    async def test_bad_registration_fields_are_named(
        self, stub: IdentityServiceStub, request_fields: dict[str, str], fields: set[str]
    ) -> None:
        error = await rpc_error(
            stub.Register(api.RegisterRequest(**request_fields)), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert violated_fields(error) == fields

    async def test_a_bad_profile_update_is_named(self, stub: IdentityServiceStub) -> None:
        registered = await register(stub)
        error = await rpc_error(
            stub.UpdateCurrentUser(
                api.UpdateCurrentUserRequest(
                    user=resources_pb2.User(avatar_url="http://insecure.example/a.png"),
                    update_mask=FieldMask(paths=["avatar_url"]),
                ),
                metadata=auth(registered.access_token),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"user.avatar_url"}

    async def test_a_profile_update_changes_the_masked_fields(
        self, stub: IdentityServiceStub
    ) -> None:
        registered = await register(stub, display_name="Before")
        reply: api.UpdateCurrentUserResponse = await stub.UpdateCurrentUser(
            api.UpdateCurrentUserRequest(
                user=resources_pb2.User(display_name="After", timezone="Europe/Paris"),
                update_mask=FieldMask(paths=["timezone"]),
            ),
            metadata=auth(registered.access_token),
        )
        assert reply.user.display_name == "Before"
        assert reply.user.timezone == "Europe/Paris"


class TestRehash:
    async def test_a_hash_made_with_old_parameters_is_redone_at_login(
        self, timed_server: TimedServer
    ) -> None:
        master = base64.b64encode(os.urandom(32)).decode()
        email = unique_email()
        async with timed_server(manual_clock(), master_key=master, argon2_memory_kib=1024) as old:
            registered = await register(old.identity, email=email)
        async with timed_server(manual_clock(), master_key=master, argon2_memory_kib=2048) as new:
            repository = AccountRepository(new.resources.store, None)
            before = await repository.get_credential(registered.user.id)
            assert before is not None and "m=1024" in before.password_hash
            await login(new.identity, email)
            after = await repository.get_credential(registered.user.id)
            assert after is not None and "m=2048" in after.password_hash
