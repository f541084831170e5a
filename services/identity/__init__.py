"""The identity service: accounts, sign-in, sessions and tokens, organizations, members,
custom roles, teams, service accounts, invitations, signing keys and the audit trail."""

from __future__ import annotations

import grpc

from coder.identity.v1 import identity_service_pb2_grpc
from services.identity._oidc import OidcVerifier
from services.identity._passwords import Passwords
from services.identity._settings import IdentitySettings, master_key, oidc_providers
from services.identity.events import subscriptions
from services.identity.repository import CONTAINERS, IdentityRepositories
from services.identity.service.accounts import AccountService
from services.identity.service.audit import AuditTrail
from services.identity.service.delegation import DelegationService
from services.identity.service.invitations import InvitationService
from services.identity.service.keys import KeyRing
from services.identity.service.organizations import OrganizationService
from services.identity.service.service_accounts import ServiceAccountService
from services.identity.service.sessions import SessionService
from services.identity.service.teams import TeamService
from services.identity.servicer import IdentityServicer
from services.kit import PlatformKeys, Resources, ServiceDefinition


def definition(settings: IdentitySettings | None = None) -> ServiceDefinition:
    """The service's registry entry; `settings` default to the `CODER_IDENTITY_*` environment,
    read when the service is registered (never at import)."""

    def register(server: grpc.aio.Server, resources: Resources) -> None:
        """Add the identity servicer, wired to this process's resources, to a server."""
        own = settings or IdentitySettings()
        if own.access_token_seconds > resources.settings.token_max_seconds:
            # Revocations are kept for the kit's longest token lifetime: a longer-lived token
            # would outlive its revocation (and every service refuses it anyway).
            raise ValueError(
                f"CODER_IDENTITY_ACCESS_TOKEN_SECONDS ({own.access_token_seconds}) exceeds "
                f"CODER_TOKEN_MAX_SECONDS ({resources.settings.token_max_seconds:g})"
            )
        repositories = IdentityRepositories.open(resources.store, resources.relay)
        keys = KeyRing(
            repositories,
            resources.clock,
            master_key(own, resources.settings),
            rotation_seconds=own.key_rotation_days * 86_400,
            token_seconds=own.access_token_seconds,
        )
        if resources.verifier is not None:
            # Tokens this process issues verify here without a network hop (embedded mode).
            resources.verifier.keys.attach(keys.jwks)
            # Platform services authenticate to ExchangeToken with assertions signed by these.
            resources.verifier.trust_platform(PlatformKeys.parse(own.service_keys))
        audit = AuditTrail(repositories, resources.clock)
        sessions = SessionService(
            repositories,
            resources.clock,
            own,
            keys,
            audit,
            resources.revocations,
            issuer=resources.settings.jwt_issuer,
            audience=resources.settings.jwt_audience,
        )
        organizations = OrganizationService(
            repositories,
            resources.clock,
            resources.caches.locks,
            sessions,
            audit,
            resources.revocations,
        )
        accounts = AccountService(
            repositories,
            resources.clock,
            own,
            Passwords(own),
            OidcVerifier(oidc_providers(own), resources.clock),
            sessions,
            organizations,
            audit,
        )
        service_accounts = ServiceAccountService(
            repositories,
            resources.clock,
            own,
            keys,
            resources.revocations,
            issuer=resources.settings.jwt_issuer,
            audience=resources.settings.jwt_audience,
        )
        invitations = InvitationService(
            repositories,
            accounts,
            sessions,
            resources.clock,
            own,
        )
        teams = TeamService(
            repositories,
            resources.clock,
            resources.caches.locks,
        )
        delegation = DelegationService(
            repositories,
            sessions,
            keys,
            resources.clock,
            resources.caches.cache,
            audit,
            issuer=resources.settings.jwt_issuer,
        )
        # Services hosted in this process get delegated tokens in process, no credential needed.
        resources.peers.attach_exchanger(delegation.exchange)
        identity_service_pb2_grpc.add_IdentityServiceServicer_to_server(
            IdentityServicer(
                accounts, sessions, organizations, service_accounts, invitations, teams, delegation
            ),
            server,
        )

    return ServiceDefinition(
        domain="identity",
        service_names=("coder.identity.v1.IdentityService",),
        containers=CONTAINERS,
        register=register,
        subscriptions=subscriptions,
    )


SERVICE = definition()

__all__ = ["SERVICE", "IdentitySettings", "definition"]
