"""Service accounts: secrets shown once, the client-credentials grant (tokens the kit verifies
and enforces on another service), scope narrowing, identical refusals, administration rules,
events and audit, tenant isolation."""

from __future__ import annotations

from datetime import timedelta

import grpc
import jwt
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from coder.identity.v1 import events_pb2, resources_pb2
from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from coder.planning.v1 import planning_service_pb2 as planning_api
from coder.planning.v1 import project_pb2
from services.kit import KeySource, TokenVerifier
from tests.fixtures.events import EventRecorder
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import AUDIENCE, ISSUER, auth
from tests.identity.conftest import IdentityServer, TimedServer, manual_clock
from tests.identity.factories import register
from tests.identity.test_organizations import member_of


async def create_account(
    stub: IdentityServiceStub,
    owner: api.AuthResult,
    permissions: tuple[str, ...] = ("planning.*.read",),
    *,
    name: str = "CI bot",
    expire_time: Timestamp | None = None,
) -> api.CreateServiceAccountResponse:
    account = resources_pb2.ServiceAccount(name=name, permissions=list(permissions))
    if expire_time is not None:
        account.expire_time.CopyFrom(expire_time)
    reply: api.CreateServiceAccountResponse = await stub.CreateServiceAccount(
        api.CreateServiceAccountRequest(
            organization_id=owner.organization_id, service_account=account
        ),
        metadata=auth(owner.access_token),
    )
    return reply


async def issue(
    stub: IdentityServiceStub, client_id: str, secret: str, scope: str = ""
) -> api.IssueServiceTokenResponse:
    reply: api.IssueServiceTokenResponse = await stub.IssueServiceToken(
        api.IssueServiceTokenRequest(client_id=client_id, client_secret=secret, scope=scope)
    )
    return reply


async def refusal(stub: IdentityServiceStub, client_id: str, secret: str) -> tuple[str, str]:
    """The (reason, message) of a refused grant."""
    error = await rpc_error(issue(stub, client_id, secret), grpc.StatusCode.UNAUTHENTICATED)
    return error_reason(error), str(error.details())


class TestSecrets:
    async def test_the_secret_is_shown_once_and_never_readable_again(
        self, server: IdentityServer
    ) -> None:
        stub = server.identity
        owner = await register(stub)
        created = await create_account(stub, owner)
        secret = created.client_secret
        assert secret.startswith("csa_")
        assert len(secret.removeprefix("csa_")) >= 43  # 256 bits in unpadded base64url
        account = created.service_account
        assert account.client_id == f"{owner.organization_id}.{account.id}"

        token = auth(owner.access_token)
        got: api.GetServiceAccountResponse = await stub.GetServiceAccount(
            api.GetServiceAccountRequest(
                organization_id=owner.organization_id, service_account_id=account.id
            ),
            metadata=token,
        )
        listed: api.ListServiceAccountsResponse = await stub.ListServiceAccounts(
            api.ListServiceAccountsRequest(organization_id=owner.organization_id),
            metadata=token,
        )
        for shown in (got.service_account, *listed.service_accounts):
            assert secret not in shown.SerializeToString().decode("latin-1")
        assert [a.id for a in listed.service_accounts] == [account.id]
        # Only a hash is stored.
        document = await server.resources.store.container("service_accounts").get(
            owner.organization_id, account.id
        )
        assert document is not None
        assert secret not in str(document)
        assert "secretHash" in document

    async def test_rotation_kills_the_old_secret(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        created = await create_account(stub, owner)
        account = created.service_account
        rotated: api.RotateServiceAccountSecretResponse = await stub.RotateServiceAccountSecret(
            api.RotateServiceAccountSecretRequest(
                organization_id=owner.organization_id, service_account_id=account.id
            ),
            metadata=auth(owner.access_token),
        )
        assert rotated.client_secret != created.client_secret
        await refusal(stub, account.client_id, created.client_secret)
        assert (await issue(stub, account.client_id, rotated.client_secret)).access_token


class TestClientCredentials:
    async def test_the_token_verifies_and_its_permissions_are_enforced_on_planning(
        self, server: IdentityServer
    ) -> None:
        stub = server.identity
        owner = await register(stub)
        created = await create_account(stub, owner, ("planning.*.read",))
        account = created.service_account
        issued = await issue(stub, account.client_id, created.client_secret)
        assert issued.token_type == "Bearer"
        assert issued.expires_in == 900
        assert issued.scope == "planning.*.read"

        verifier = TokenVerifier(
            KeySource(path=server.jwks_file, min_refresh_seconds=0),
            issuer=ISSUER,
            audience=AUDIENCE,
        )
        principal = await verifier.verify(issued.access_token)
        assert principal.kind == "service"
        assert principal.subject == account.id
        assert principal.organization_id == owner.organization_id
        assert principal.roles == frozenset()
        assert principal.permissions == frozenset({"planning.*.read"})
        assert principal.session_id == ""

        token = auth(issued.access_token)
        await server.planning.ListProjects(planning_api.ListProjectsRequest(), metadata=token)
        error = await rpc_error(
            server.planning.CreateProject(
                planning_api.CreateProjectRequest(project=project_pb2.Project(name="x")),
                metadata=token,
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert error_reason(error) == "PERMISSION_MISSING"
        # Not an administrator of identity either.
        await rpc_error(
            stub.ListServiceAccounts(
                api.ListServiceAccountsRequest(organization_id=owner.organization_id),
                metadata=token,
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )

    async def test_last_used_moves_on_every_token(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        created = await create_account(stub, owner)
        account = created.service_account
        assert not account.HasField("last_used_time")
        await issue(stub, account.client_id, created.client_secret)
        got: api.GetServiceAccountResponse = await stub.GetServiceAccount(
            api.GetServiceAccountRequest(
                organization_id=owner.organization_id, service_account_id=account.id
            ),
            metadata=auth(owner.access_token),
        )
        assert got.service_account.HasField("last_used_time")

    async def test_scope_narrows_the_token(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        created = await create_account(stub, owner, ("planning.*.*", "knowledge.document.read"))
        account = created.service_account
        issued = await issue(
            stub, account.client_id, created.client_secret, "planning.task.read planning.*.read"
        )
        claims = jwt.decode(issued.access_token, options={"verify_signature": False})
        assert claims["perms"] == ["planning.task.read", "planning.*.read"]
        assert claims["kind"] == "service"
        assert claims["roles"] == []
        assert issued.scope == "planning.task.read planning.*.read"

        token = auth(issued.access_token)
        await server.planning.ListProjects(planning_api.ListProjectsRequest(), metadata=token)
        await rpc_error(
            server.planning.CreateProject(
                planning_api.CreateProjectRequest(project=project_pb2.Project(name="x")),
                metadata=token,
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )

    @pytest.mark.parametrize("scope", ["knowledge.document.write", "*", "planning", "*.*.read"])
    async def test_a_scope_beyond_the_account_is_refused(
        self, server: IdentityServer, scope: str
    ) -> None:
        stub = server.identity
        owner = await register(stub)
        created = await create_account(stub, owner, ("planning.*.*", "knowledge.document.read"))
        error = await rpc_error(
            issue(stub, created.service_account.client_id, created.client_secret, scope),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert error_reason(error) == "INVALID_SCOPE"
        assert violated_fields(error) == {"scope"}

    async def test_wrong_unknown_disabled_and_expired_are_refused_alike(
        self, timed_server: TimedServer
    ) -> None:
        clock = manual_clock()
        async with timed_server(clock) as server:
            stub = server.identity
            owner = await register(stub)
            soon = Timestamp()
            soon.FromDatetime(clock.now() + timedelta(hours=1))
            expiring = await create_account(stub, owner, name="expiring", expire_time=soon)
            disabled = await create_account(stub, owner, name="disabled")
            good = await create_account(stub, owner, name="good")
            await stub.DisableServiceAccount(
                api.DisableServiceAccountRequest(
                    organization_id=owner.organization_id,
                    service_account_id=disabled.service_account.id,
                ),
                metadata=auth(owner.access_token),
            )
            # Before it expires, a token lives no longer than the account.
            clock.advance(3600 - 60)
            assert (
                await issue(stub, expiring.service_account.client_id, expiring.client_secret)
            ).expires_in == 60
            clock.advance(61)

            refusals = [
                await refusal(stub, good.service_account.client_id, "csa_wrong"),
                await refusal(stub, f"{owner.organization_id}.NOSUCHACCOUNT", good.client_secret),
                await refusal(stub, "not-a-client-id", good.client_secret),
                await refusal(stub, disabled.service_account.client_id, disabled.client_secret),
                await refusal(stub, expiring.service_account.client_id, expiring.client_secret),
            ]
            assert set(refusals) == {("INVALID_CLIENT", "client authentication failed")}

            audit: api.ListAuditEventsResponse = await stub.ListAuditEvents(
                api.ListAuditEventsRequest(organization_id=owner.organization_id),
                metadata=auth(owner.access_token),
            )
            reasons = {
                e.details["reason"] for e in audit.events if e.action == "service_account.refused"
            }
            assert reasons == {"wrong_secret", "disabled", "expired"}


class TestAdministration:
    async def test_permissions_are_validated(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        error = await rpc_error(
            create_account(stub, owner, ("planning.task", "Planning.Task.Read")),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {
            "service_account.permissions[0]",
            "service_account.permissions[1]",
        }
        error = await rpc_error(
            create_account(stub, owner, ("identity.organization.transfer",)),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"service_account.permissions[0]"}
        error = await rpc_error(create_account(stub, owner, ()), grpc.StatusCode.INVALID_ARGUMENT)
        assert violated_fields(error) == {"service_account.permissions"}

    async def test_a_past_expiry_is_invalid(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        past = Timestamp()
        past.FromSeconds(1_000_000)
        error = await rpc_error(
            create_account(stub, owner, expire_time=past), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert violated_fields(error) == {"service_account.expire_time"}

    async def test_permissions_cannot_exceed_the_creators(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        role: api.CreateRoleResponse = await stub.CreateRole(
            api.CreateRoleRequest(
                organization_id=owner.organization_id,
                role=resources_pb2.Role(
                    name="Bot keeper",
                    permissions=["identity.service_account.*", "planning.*.read"],
                ),
            ),
            metadata=auth(owner.access_token),
        )
        keeper = await member_of(server, owner, role.role.id, "keeper")
        await create_account(stub, keeper, ("planning.task.read",))
        error = await rpc_error(
            create_account(stub, keeper, ("planning.task.read", "planning.task.write")),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"service_account.permissions[1]"}

    async def test_members_and_viewers_cannot_administer(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        for role in ("member", "viewer"):
            caller = await member_of(server, owner, role, role)
            await rpc_error(create_account(stub, caller), grpc.StatusCode.PERMISSION_DENIED)
            await rpc_error(
                stub.ListServiceAccounts(
                    api.ListServiceAccountsRequest(organization_id=owner.organization_id),
                    metadata=auth(caller.access_token),
                ),
                grpc.StatusCode.PERMISSION_DENIED,
            )

    async def test_delete_ends_the_account(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        created = await create_account(stub, owner)
        account = created.service_account
        await stub.DeleteServiceAccount(
            api.DeleteServiceAccountRequest(
                organization_id=owner.organization_id, service_account_id=account.id
            ),
            metadata=auth(owner.access_token),
        )
        await refusal(stub, account.client_id, created.client_secret)
        error = await rpc_error(
            stub.GetServiceAccount(
                api.GetServiceAccountRequest(
                    organization_id=owner.organization_id, service_account_id=account.id
                ),
                metadata=auth(owner.access_token),
            ),
            grpc.StatusCode.NOT_FOUND,
        )
        assert error_reason(error) == "SERVICE_ACCOUNT_NOT_FOUND"

    async def test_another_organizations_accounts_are_not_found(
        self, server: IdentityServer
    ) -> None:
        stub = server.identity
        a = await register(stub, organization_name="A")
        b = await register(stub, organization_name="B")
        b_account = (await create_account(stub, b)).service_account
        token = auth(a.access_token)
        for org in (b.organization_id, a.organization_id):
            ids = {"organization_id": org, "service_account_id": b_account.id}
            for call in (
                stub.GetServiceAccount(api.GetServiceAccountRequest(**ids), metadata=token),
                stub.RotateServiceAccountSecret(
                    api.RotateServiceAccountSecretRequest(**ids), metadata=token
                ),
                stub.DisableServiceAccount(api.DisableServiceAccountRequest(**ids), metadata=token),
                stub.DeleteServiceAccount(api.DeleteServiceAccountRequest(**ids), metadata=token),
            ):
                await rpc_error(call, grpc.StatusCode.NOT_FOUND)
        await rpc_error(
            stub.ListServiceAccounts(
                api.ListServiceAccountsRequest(organization_id=b.organization_id), metadata=token
            ),
            grpc.StatusCode.NOT_FOUND,
        )


class TestEventsAndAudit:
    async def test_changes_are_announced_and_audited(
        self, server: IdentityServer, events: EventRecorder
    ) -> None:
        stub = server.identity
        owner = await register(stub, organization_name="Bots")
        created = await create_account(stub, owner)
        account = created.service_account
        ids = {"organization_id": owner.organization_id, "service_account_id": account.id}
        token = auth(owner.access_token)
        await stub.RotateServiceAccountSecret(
            api.RotateServiceAccountSecretRequest(**ids), metadata=token
        )
        listed: api.ListServiceAccountsResponse = await stub.ListServiceAccounts(
            api.ListServiceAccountsRequest(organization_id=owner.organization_id), metadata=token
        )
        assert len(listed.service_accounts) == 1
        await stub.DisableServiceAccount(api.DisableServiceAccountRequest(**ids), metadata=token)
        await stub.DeleteServiceAccount(api.DeleteServiceAccountRequest(**ids), metadata=token)

        found = await events.settle(owner.organization_id, 6)
        types = [e.type for e in found if e.subject == account.id]
        assert types == [
            "identity.service_account.created",
            "identity.service_account.secret_rotated",
            "identity.service_account.disabled",
            "identity.service_account.deleted",
        ]
        payload = events_pb2.ServiceAccountChanged()
        assert found[-1].data.Unpack(payload)
        assert payload.service_account.id == account.id

        audit: api.ListAuditEventsResponse = await stub.ListAuditEvents(
            api.ListAuditEventsRequest(organization_id=owner.organization_id), metadata=token
        )
        assert [e.action for e in audit.events][:4] == [
            "service_account.deleted",
            "service_account.disabled",
            "service_account.secret_rotated",
            "service_account.created",
        ]

    async def test_a_token_issue_is_announced_and_audited(
        self, server: IdentityServer, events: EventRecorder
    ) -> None:
        stub = server.identity
        owner = await register(stub, organization_name="Used")
        created = await create_account(stub, owner)
        account = created.service_account
        await issue(stub, account.client_id, created.client_secret, "planning.*.read")
        found = await events.settle(owner.organization_id, 4)
        used = [e for e in found if e.type == "identity.service_account.used"]
        assert len(used) == 1
        assert used[0].actor.id == account.id
        audit: api.ListAuditEventsResponse = await stub.ListAuditEvents(
            api.ListAuditEventsRequest(organization_id=owner.organization_id),
            metadata=auth(owner.access_token),
        )
        latest = audit.events[0]
        assert (latest.action, latest.subject_id) == ("service_account.used", account.id)
        assert dict(latest.details) == {"scope": "planning.*.read"}
